#pragma once
/// \file
/// \brief The `alphax run` configuration: YAML schema, `--set` overrides, validation (docs/config.md).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace alphax::app {

/// \brief A configuration the job cannot run with; the message names the key path and the fix.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// \brief What to do with an existing checkpoint in the output directory.
enum class RestartMode { automatic, never, require };

/// \brief In which order the master consumes results (see docs/app.md, "Determinism").
enum class ResultOrder { deterministic, arrival };

/// \brief The `run`, `trainers` and `comm` sections, typed; `space`, `strategy` and `evaluator`
/// stay YAML and go to their registries.
struct RunConfig {
  std::string name = "alphax";
  std::filesystem::path output = "runs/alphax";
  std::uint64_t seed = 0;
  ResultOrder order = ResultOrder::deterministic;
  double progress_seconds = 5.0;
  std::uint64_t stop_after_results = 0;  ///< >0: act as if signalled after that many results (tests)

  std::uint64_t max_evaluations = 100;
  double max_wall_seconds = 0.0;                ///< 0: no limit
  std::optional<double> target_objective;       ///< stop once an evaluation reaches it
  std::uint64_t checkpoint_every_results = 10;  ///< 0: never by count
  double checkpoint_every_seconds = 300.0;      ///< 0: never by time
  RestartMode restart = RestartMode::automatic;

  int group_size = 1;
  double pace_seconds = 0.0;  ///< trainers: minimum wall seconds per evaluation (demos, signal tests)
  double pace_scale = 0.0;    ///< trainers: an evaluation lasts at least pace_scale x its train_seconds
                              ///< (makes a table's simulated durations real: scale benchmarks)
  std::string comm_algorithm = "auto";
  std::int64_t comm_block_bytes = 0;

  YAML::Node space;
  YAML::Node strategy;
  YAML::Node evaluator;
  std::filesystem::path config_dir;  ///< directory of the config file (relative data paths)
  std::string effective_text;        ///< the YAML after overrides: what the log records
};

/// \brief Applies one `key.path=value` override to `root` (value parsed as YAML; maps created as needed).
void apply_override(YAML::Node& root, const std::string& assignment);

/// \brief Parses and checks `text` (after `overrides`) without touching MPI, files or registries:
/// unknown keys, wrong types and out-of-range values throw ConfigError naming the key path.
RunConfig parse_config(const std::string& text, const std::vector<std::string>& overrides,
                       const std::filesystem::path& config_dir);

/// \brief Checks the rank layout: N-1 a multiple of group_size (N > 1), and no more groups than
/// max_evaluations. Throws ConfigError with the fix.
void check_layout(const RunConfig& config, int world_size);

/// \brief Number of trainer groups for `world_size` ranks (N = 1: one, the master itself).
int num_groups(const RunConfig& config, int world_size);

/// \brief Reads a file into a string; throws ConfigError naming it when unreadable.
std::string read_text_file(const std::filesystem::path& path);

}  // namespace alphax::app
