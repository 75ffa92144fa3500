// `alphax bench search`: sample efficiency of search strategies replayed on a benchmark table.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "alphax/commands.hpp"
#include "alphax/search/registry.hpp"
#include "alphax/search/search_benchmark.hpp"

namespace alphax::app {

namespace {

struct BenchSearchOptions {
  std::string config;
  std::uint64_t seeds = 10;
  std::uint64_t first_seed = 0;
  std::uint64_t budget = 1000;
  std::vector<std::uint32_t> workers{1};
  std::string out = "bench/results/search";
  std::vector<std::string> strategies{"random", "evolution", "mcts", "lanas"};
  std::uint32_t jobs = 1;
  std::uint64_t curve_limit = 1000;
  std::uint64_t decision_cost = 0;
  std::uint64_t decision_timed = 500;
  std::string decision_space = "nb101";
  std::string plot_script = "bench/search/plot_search.py";
};

/// The strategy section for a label: `strategies.<label>` if the YAML declares it (its `name`
/// defaults to the label), else `{name: <label>}` merged over the top-level `strategy` section
/// when that names the same strategy.
YAML::Node strategy_node(const YAML::Node& config, const std::string& label) {
  YAML::Node node;
  if (config["strategies"] && config["strategies"][label]) {
    node = YAML::Clone(config["strategies"][label]);
    if (!node.IsMap() && !node.IsNull())
      throw std::invalid_argument("strategies." + label + ": must be a map of strategy parameters");
    if (!node["name"]) node["name"] = label;
    return node;
  }
  if (config["strategy"] && config["strategy"]["name"] && config["strategy"]["name"].as<std::string>() == label)
    return YAML::Clone(config["strategy"]);
  node["name"] = label;
  return node;
}

void run_bench_search(const BenchSearchOptions& o) {
  const YAML::Node config = YAML::LoadFile(o.config);
  auto space = search::make_space(config["space"]);
  auto table = search::make_table_evaluator(config["evaluator"], *space);
  std::filesystem::create_directories(o.out);
  std::cout << "alphax bench search: " << o.config << ": space " << space->name() << ", table " << table->file().string()
            << " (" << table->num_rows() << " rows, " << table->num_classes() << " classes, best objective "
            << table->max_objective() << ", best report " << table->max_report() << ")\n";

  struct Job {
    std::string label;
    YAML::Node node;
    std::uint64_t seed;
    std::uint32_t workers;
  };
  std::vector<Job> jobs;
  for (const auto w : o.workers)
    for (const auto& label : o.strategies) {
      const auto node = strategy_node(config, label);
      search::make_strategy(node, *space, 0);  // validate the section before any work
      for (std::uint64_t s = 0; s < o.seeds; ++s) jobs.push_back({label, node, o.first_seed + s, w});
    }
  std::vector<search::BenchmarkRun> runs(jobs.size());
  std::mutex mutex;
  std::size_t next = 0, done = 0;
  std::exception_ptr failure;
  auto worker = [&] {
    while (true) {
      std::size_t i = 0;
      {
        std::lock_guard lock(mutex);
        if (next >= jobs.size() || failure) return;
        i = next++;
      }
      try {
        runs[i] = search::run_benchmark(*space, jobs[i].node, jobs[i].label, *table, jobs[i].seed, jobs[i].workers,
                                        o.budget);
      } catch (...) {
        std::lock_guard lock(mutex);
        failure = std::current_exception();
        return;
      }
      std::lock_guard lock(mutex);
      ++done;
      if (done % std::max<std::size_t>(1, jobs.size() / 20) == 0 || done == jobs.size())
        std::cerr << "  " << done << "/" << jobs.size() << " runs done\n";
    }
  };
  std::vector<std::thread> threads;
  for (std::uint32_t t = 0; t < std::max<std::uint32_t>(1, o.jobs); ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);

  const auto rows = search::summarize(runs);
  const std::filesystem::path out(o.out);
  search::write_runs_csv(out / "runs.csv", runs);
  search::write_summary_csv(out / "summary.csv", rows);
  search::write_curves_csv(out / "curves.csv", runs, o.curve_limit);
  search::write_mean_curves_csv(out / "mean_curves.csv", runs, o.curve_limit);
  std::cout << search::format_summary(rows);
  std::cout << "wrote " << (out / "runs.csv").string() << ", summary.csv, curves.csv, mean_curves.csv\n";

  if (o.decision_cost > 0) {
    YAML::Node space_node;
    space_node["name"] = o.decision_space;
    auto cost_space = search::make_space(space_node);
    std::ofstream csv(out / "decision_cost.csv");
    csv << "strategy,space,results,timed,propose_median_ms,propose_p99_ms,result_median_ms,result_p99_ms\n";
    for (const auto& label : o.strategies) {
      auto strategy = search::make_strategy(strategy_node(config, label), *cost_space, o.first_seed);
      const auto c = search::measure_decision_cost(*cost_space, *strategy, o.decision_cost, o.decision_timed, o.first_seed);
      csv << label << ',' << c.space << ',' << c.results << ',' << c.timed << ',' << c.propose_median_ms << ','
          << c.propose_p99_ms << ',' << c.result_median_ms << ',' << c.result_p99_ms << '\n';
      std::cout << "decision cost " << label << " on " << c.space << " after " << c.results << " results: propose median "
                << c.propose_median_ms << " ms, p99 " << c.propose_p99_ms << " ms; on_result median "
                << c.result_median_ms << " ms, p99 " << c.result_p99_ms << " ms\n";
    }
  }

  if (!o.plot_script.empty() && std::filesystem::exists(o.plot_script)) {
    const std::string command = "/usr/bin/python3 '" + o.plot_script + "' '" + o.out + "'";
    if (std::system(command.c_str()) != 0)
      std::cerr << "note: plotting failed (" << command << "); the CSV files are complete\n";
  } else if (!o.plot_script.empty()) {
    std::cerr << "note: plot script '" << o.plot_script << "' not found; no PNG written (run from the repository root)\n";
  }
}

}  // namespace

void add_bench_search_command(CLI::App& bench, CommandContext& context) {
  auto options = std::make_shared<BenchSearchOptions>();
  CLI::App* cmd = bench.add_subcommand("search", "Sample efficiency of search strategies on a benchmark table");
  cmd->add_option("config", options->config, "YAML with space, evaluator (table) and optional strategy sections")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--seeds", options->seeds, "Runs per strategy and worker count")->capture_default_str();
  cmd->add_option("--first-seed", options->first_seed, "Seed of the first run")->capture_default_str();
  cmd->add_option("--budget", options->budget, "Unique evaluations per run")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--workers", options->workers, "Evaluations in flight (one or more values, e.g. --workers 1 16)")
      ->capture_default_str();
  cmd->add_option("--out", options->out, "Output directory")->capture_default_str();
  cmd->add_option("--strategies", options->strategies,
                  "Strategy names or variant labels declared under `strategies:` in the YAML")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--jobs", options->jobs, "Runs executed in parallel threads")->capture_default_str();
  cmd->add_option("--curve-limit", options->curve_limit, "Samples per run written to curves.csv")->capture_default_str();
  cmd->add_option("--decision-cost", options->decision_cost,
                  "Also time decisions after this many results (0: skip), on --decision-space")
      ->capture_default_str();
  cmd->add_option("--decision-timed", options->decision_timed, "Decisions timed")->capture_default_str();
  cmd->add_option("--decision-space", options->decision_space, "Space for the decision-cost measurement")
      ->capture_default_str();
  cmd->add_option("--plot-script", options->plot_script, "Python script that draws the PNG ('' to skip)")
      ->capture_default_str();
  cmd->callback([options, &context] {
    for (const auto w : options->workers)
      if (w == 0) throw CLI::ValidationError("--workers", "must be at least 1");
    run_bench_search(*options);
    context.exit_code = 0;
  });
}

}  // namespace alphax::app
