#pragma once
/// \file
/// \brief Sample-efficiency benchmarks of strategies on a table (`alphax bench search`):
/// runs, regret, summaries with 95 % intervals, CSV output, and the cost of a decision.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "alphax/search/search_driver.hpp"
#include "alphax/search/table_evaluator.hpp"

namespace alphax::search {

/// \brief The sample counts at which runs.csv reports regret.
inline const std::vector<std::uint64_t> kRegretPoints{50, 100, 200, 500, 1000};

/// \brief One search run on a table.
struct BenchmarkRun {
  std::string strategy;  ///< the label (a strategy name or a variant declared in the YAML)
  std::uint64_t seed = 0;
  std::uint32_t workers = 1;
  std::uint64_t budget = 0;
  std::optional<std::uint64_t> samples_to_best;  ///< unique samples until the table's best objective
  double final_regret = 0.0;                      ///< regret when the run ended
  std::vector<std::optional<double>> regret_at;   ///< at kRegretPoints; empty beyond the budget
  std::vector<double> regret_curve;               ///< regret after k+1 samples (until the run stopped)
  std::uint64_t free_proposals = 0;
  double seconds = 0.0;  ///< wall time of the run
};

/// \brief Regret after `k` unique samples: table's best report minus the report of the
/// best-objective architecture among the first k. Runs that stopped at the best keep their last value.
std::optional<double> regret_after(const SearchTrace& trace, double max_report, std::uint64_t k, std::uint64_t budget);

/// \brief Runs `strategy_node` (built with make_strategy) once on `table`, stopping at the
/// table's best objective or after `budget` unique samples, with `workers` simulated workers.
BenchmarkRun run_benchmark(const SearchSpace& space, const YAML::Node& strategy_node, const std::string& label,
                           TableEvaluator& table, std::uint64_t seed, std::uint32_t workers, std::uint64_t budget);

/// \brief A mean with the half-width of its 95 % interval (normal approximation, t for n < 30).
struct MeanInterval {
  double mean = 0.0;
  double half_width = 0.0;
  std::size_t n = 0;
};
/// \brief Mean and 95 % interval of `values` (n = 0 gives NaN).
MeanInterval mean_interval(const std::vector<double>& values);

/// \brief One row of summary.csv (one strategy at one worker count).
struct SummaryRow {
  std::string strategy;
  std::size_t seeds = 0;
  std::uint32_t workers = 1;
  std::uint64_t budget = 0;
  double found_fraction = 0.0;
  MeanInterval samples_to_best;  ///< over the runs that found the best
  double samples_to_best_median = 0.0;
  std::vector<MeanInterval> regret_at;  ///< at kRegretPoints
  MeanInterval final_regret;
};

/// \brief Groups runs by (strategy, workers), in order of first appearance.
std::vector<SummaryRow> summarize(const std::vector<BenchmarkRun>& runs);

/// \brief `strategy,seed,workers,budget,samples_to_best,final_regret,regret_50,...,regret_1000`.
void write_runs_csv(const std::filesystem::path& file, const std::vector<BenchmarkRun>& runs);
/// \brief One row per strategy and worker count, means with `_ci95` half-widths.
void write_summary_csv(const std::filesystem::path& file, const std::vector<SummaryRow>& rows);
/// \brief `strategy,workers,seed,sample,regret` for the first `limit` samples of every run.
void write_curves_csv(const std::filesystem::path& file, const std::vector<BenchmarkRun>& runs, std::uint64_t limit);
/// \brief `strategy,workers,sample,mean_regret,runs`: the mean regret curve (a stopped run counts
/// with its final regret).
void write_mean_curves_csv(const std::filesystem::path& file, const std::vector<BenchmarkRun>& runs,
                           std::uint64_t limit);
/// \brief The summary as an aligned text table.
std::string format_summary(const std::vector<SummaryRow>& rows);

/// \brief Time per decision once `results` results are in.
struct DecisionCost {
  std::string strategy;
  std::string space;
  std::uint64_t results = 0;
  std::uint64_t timed = 0;
  double propose_median_ms = 0.0, propose_p99_ms = 0.0;  ///< propose() + on_dispatch()
  double result_median_ms = 0.0, result_p99_ms = 0.0;    ///< on_result() (model retraining lands here)
};

/// \brief Feeds `strategy` `results` evaluations of a synthetic objective (a fixed random
/// function of the encoding, seeded), then times the next `timed` decisions one at a time.
DecisionCost measure_decision_cost(const SearchSpace& space, SearchStrategy& strategy, std::uint64_t results,
                                   std::uint64_t timed, std::uint64_t seed);

}  // namespace alphax::search
