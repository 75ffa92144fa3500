#pragma once
/// \file
/// \brief `alphax run` and `alphax validate`: the SPMD search job (rank 0 master, ranks 1..N-1 in
/// trainer groups) and the configuration check.
#include <mpi.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace alphax::app {

/// \brief What the command line asked for.
struct RunRequest {
  std::filesystem::path config_file;
  std::optional<std::string> output;    ///< --output: same as --set run.output=DIR
  std::vector<std::string> overrides;   ///< --set key.path=value, in order
  bool restart = false;                 ///< --restart: same as --set run.restart=require
};

/// \brief What rank 0 measured in one job (the master-at-scale benchmark reads it).
struct JobStats {
  double session_seconds = 0.0;   ///< wall time of this job step's search loop
  double decision_seconds = 0.0;  ///< of which rank 0 spent in the master and sending orders
  std::uint64_t dispatched = 0;   ///< evaluations dispatched in this job step
  int groups = 0;
  std::filesystem::path log;      ///< the search log
};

/// \brief Runs the job on `world` (collective). Returns the process exit code: 0 finished,
/// kExitRequeue (85) checkpointed and stopped, kExitConfig (2) configuration rejected.
/// `stats`, when given, is filled on rank 0.
int run_search_job(const RunRequest& request, MPI_Comm world, JobStats* stats = nullptr);

/// \brief Checks a config as `run` would on `ranks` ranks (space, strategy, evaluator, layout),
/// without MPI communication or writing files. Prints a summary; returns 0 or kExitConfig.
int validate_config(const RunRequest& request, int ranks);

}  // namespace alphax::app
