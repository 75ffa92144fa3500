// `alphax bench master`: is rank 0 the bottleneck with many trainer groups? Two modes:
//  - simulate (default, one process): the real Master (strategy, driver, HDF5 log, checkpoints)
//    against V virtual groups on a simulated clock (master_simulation.hpp);
//  - --mpi CONFIG (under mpirun): the real `alphax run` job with the table evaluator, trainers
//    sleeping the table's simulated seconds times --pace-scale.
// Both append rows to CSV files in --out and then run bench/master/summarize.py (Markdown).
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "alphax/checkpoint.hpp"
#include "alphax/commands.hpp"
#include "alphax/job.hpp"
#include "alphax/master.hpp"
#include "alphax/master_simulation.hpp"
#include "alphax/search/registry.hpp"
#include "alphax/search_log.hpp"

namespace alphax::app {
namespace {

namespace fs = std::filesystem;

struct BenchMasterOptions {
  std::string config = "bench/master/master-scale.yaml";
  std::vector<int> workers{100, 1000, 10000};
  double evaluations_per_worker = 5.0;
  std::vector<std::string> strategies{"random", "evolution", "mcts", "lanas"};
  std::vector<std::string> orders{"arrival"};
  double mean_seconds = 60.0;
  std::string distribution = "exponential";
  double sigma = 0.5;
  double latency_us = 50.0;
  double send_us = 2.0;
  std::uint64_t seed = 1;
  bool no_files = false;
  std::string out = "bench/results/master-scale";
  std::string work = "";
  bool mpi = false;
  double pace_scale = 1.0 / 30.0;
  std::string summarize_script = "bench/master/summarize.py";
};

// Appends one line to a CSV, writing `header` first when the file is new.
void append_csv(const fs::path& file, const std::string& header, const std::string& line) {
  fs::create_directories(file.parent_path());
  const bool fresh = !fs::exists(file) || fs::file_size(file) == 0;
  std::ofstream out(file, std::ios::app);
  if (!out) throw std::runtime_error("alphax bench master: cannot write " + file.string());
  if (fresh) out << header << '\n';
  out << line << '\n';
}

fs::path work_directory(const BenchMasterOptions& o, const std::string& tag) {
  const fs::path base = o.work.empty() ? fs::temp_directory_path() / "alphax-bench-master" : fs::path(o.work);
  const fs::path dir = base / tag;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void summarize(const BenchMasterOptions& o) {
  if (o.summarize_script.empty()) return;
  if (!fs::exists(o.summarize_script)) {
    std::cerr << "note: " << o.summarize_script << " not found (run from the repository root); CSV rows are written\n";
    return;
  }
  const std::string command = "/usr/bin/python3 '" + o.summarize_script + "' '" + o.out + "'";
  if (std::system(command.c_str()) != 0) std::cerr << "note: " << command << " failed; the CSV rows are written\n";
}

YAML::Node strategy_section(const YAML::Node& config, const std::string& label) {
  YAML::Node node = config["strategies"] && config["strategies"][label] ? YAML::Clone(config["strategies"][label])
                                                                        : YAML::Node(YAML::NodeType::Map);
  if (!node["name"]) node["name"] = label;
  return node;
}

// ---- simulate ------------------------------------------------------------------------------

struct SimulatedRun {
  std::string label;
  std::string order;
  int workers = 0;
};

std::unique_ptr<search::Evaluator> make_landscape(const YAML::Node& config, const search::SearchSpace& space) {
  const YAML::Node node = config["evaluator"];
  const std::string name = node && node["name"] ? node["name"].as<std::string>() : "synthetic";
  if (name == "table") return search::make_table_evaluator(node, space);
  if (name != "synthetic")
    throw std::invalid_argument("evaluator.name: '" + name + "' is not one of synthetic | table");
  return std::make_unique<SyntheticLandscape>(space, node && node["seed"] ? node["seed"].as<std::uint64_t>() : 1);
}

void simulate_one(const BenchMasterOptions& o, const YAML::Node& config, const SimulatedRun& run) {
  const auto space = search::make_space(config["space"]);
  const auto inner = search::make_strategy(strategy_section(config, run.label), *space, o.seed);
  TimedStrategy strategy(*inner);
  const auto landscape = make_landscape(config, *space);

  // Durations are a function of the architecture, so a deterministic-order master knows them at
  // dispatch (as it does for the table and train evaluators of a real run).
  DurationModel model;
  model.kind = DurationModel::parse_kind(o.distribution);
  model.mean_seconds = o.mean_seconds;
  model.sigma = o.sigma;
  const auto duration = [&](const search::Genome& genome) { return model.draw_for(o.seed, space->canonical_hash(genome)); };

  MasterOptions options;
  options.dispatch_cost = duration;
  options.max_evaluations = static_cast<std::uint64_t>(o.evaluations_per_worker * run.workers);
  options.order = run.order == "arrival" ? ResultOrder::arrival : ResultOrder::deterministic;
  const YAML::Node checkpoint = config["checkpoint"];
  options.checkpoint_every_results = checkpoint && checkpoint["every_results"] ? checkpoint["every_results"].as<std::uint64_t>() : 0;
  options.checkpoint_every_seconds = checkpoint && checkpoint["every_seconds"] ? checkpoint["every_seconds"].as<double>() : 600.0;
  std::ostringstream text;
  text << config;
  options.config_text = text.str();

  // The log and the checkpoints are part of the master's cost: write them as a run would.
  std::unique_ptr<SearchLog> log;
  std::unique_ptr<CheckpointStore> store;
  fs::path dir;
  if (!o.no_files) {
    dir = work_directory(o, "simulate");
    log = std::make_unique<SearchLog>(SearchLog::create(dir / "search.h5", {options.config_text, run.workers + 1, 1}));
    store = std::make_unique<CheckpointStore>(dir);
  }
  Master master(options, *space, strategy, run.workers, log.get(), store.get());

  VirtualWorkerSettings settings;
  settings.mean_evaluation_seconds = o.mean_seconds;
  settings.message_latency_seconds = o.latency_us * 1e-6;
  settings.send_cpu_seconds = o.send_us * 1e-6;
  settings.seed = o.seed;
  const auto r = simulate_virtual_workers(master, settings, [&](const search::Genome& genome) {
    auto result = landscape->evaluate(*space, genome);
    result.train_seconds = duration(genome);
    return result;
  });
  if (!dir.empty()) fs::remove_all(dir);
  const auto& t = strategy.totals();
  const auto per_call_ms = [](double seconds, std::uint64_t calls) { return calls ? 1e3 * seconds / calls : 0.0; };

  std::ostringstream line;
  line << run.label << ',' << run.order << ',' << space->name() << ',' << r.workers << ',' << r.dispatches << ','
       << o.distribution << ',' << o.mean_seconds << ',' << o.latency_us << ',' << o.send_us << ','
       << (o.no_files ? "no" : "yes") << ',' << r.ramp_up_seconds << ',' << r.stop_seconds << ',' << r.utilisation << ','
       << r.steady_utilisation << ',' << r.master_seconds << ',' << r.decisions_per_second << ','
       << r.demand_per_second << ',' << 1e3 * r.mean_queue_seconds << ',' << 1e3 * r.max_queue_seconds << ','
       << 1e3 * r.max_call_seconds << ',' << r.checkpoints << ',' << master.best().result.objective << ','
       << per_call_ms(t.propose, t.proposals) << ',' << per_call_ms(t.on_dispatch, t.dispatches) << ','
       << per_call_ms(t.on_result, t.results) << ',' << t.proposals;
  append_csv(fs::path(o.out) / "simulate.csv",
             "strategy,order,space,workers,evaluations,distribution,mean_s,latency_us,send_us,log_and_checkpoints,"
             "ramp_up_s,stop_s,utilisation,steady_utilisation,master_s,decisions_per_s,demand_per_s,"
             "mean_queue_ms,max_queue_ms,max_call_ms,checkpoints,best_objective,propose_ms,on_dispatch_ms,on_result_ms,"
             "proposals",
             line.str());
  std::printf("%-10s %-13s V=%-6d evals %-7llu utilisation %6.2f%% (steady %6.2f%%) | master %.1f s, %.0f decisions/s "
              "(need %.0f) | queue mean %.2f ms max %.1f ms | slowest call %.1f ms | %llu checkpoints\n",
              run.label.c_str(), run.order.c_str(), r.workers, static_cast<unsigned long long>(r.dispatches),
              100 * r.utilisation, 100 * r.steady_utilisation, r.master_seconds, r.decisions_per_second,
              r.demand_per_second, 1e3 * r.mean_queue_seconds, 1e3 * r.max_queue_seconds, 1e3 * r.max_call_seconds,
              static_cast<unsigned long long>(r.checkpoints));
  std::printf("  strategy per call: propose %.3f ms (%llu calls), on_dispatch %.3f ms, on_result %.3f ms\n",
              per_call_ms(t.propose, t.proposals), static_cast<unsigned long long>(t.proposals),
              per_call_ms(t.on_dispatch, t.dispatches), per_call_ms(t.on_result, t.results));
  if (r.dispatches < options.max_evaluations)
    std::printf("  note: stopped after %llu of %llu evaluations: %s\n", static_cast<unsigned long long>(r.dispatches),
                static_cast<unsigned long long>(options.max_evaluations), master.stop_reason().c_str());
  std::fflush(stdout);
}

void run_simulations(const BenchMasterOptions& o) {
  const YAML::Node config = YAML::LoadFile(o.config);
  for (const auto& order : o.orders)
    if (order != "arrival" && order != "deterministic")
      throw std::invalid_argument("--orders: '" + order + "' is not one of arrival | deterministic");
  for (const int v : o.workers)
    for (const auto& order : o.orders)
      for (const auto& label : o.strategies) simulate_one(o, config, {label, order, v});
  summarize(o);
}

// ---- mpi -----------------------------------------------------------------------------------

// Utilisation from the log: a group is busy for max(pace_seconds, pace_scale x train_seconds)
// from each dispatch; the window ends at the last dispatch (after it the budget is spent).
struct LogUtilisation {
  double ramp_up = 0.0, stop = 0.0, utilisation = 0.0, steady = 0.0;
};

LogUtilisation utilisation_from_log(const fs::path& log, int groups, double pace_scale) {
  const auto rows = SearchLog::read_all(log);
  LogUtilisation u;
  std::vector<double> first(static_cast<std::size_t>(groups), -1.0);
  for (const auto& r : rows) {
    u.stop = std::max(u.stop, r.dispatch_time);
    auto& f = first.at(static_cast<std::size_t>(r.group));
    if (f < 0 || r.dispatch_time < f) f = r.dispatch_time;
  }
  for (const double f : first) u.ramp_up = std::max(u.ramp_up, f);
  const auto share = [&](double from, double to) {
    if (to <= from) return 0.0;
    double busy = 0.0;
    for (const auto& r : rows) {
      const double begin = r.dispatch_time, end = begin + pace_scale * r.train_seconds;
      busy += std::max(0.0, std::min(end, to) - std::max(begin, from));
    }
    return busy / ((to - from) * groups);
  };
  u.utilisation = share(0.0, u.stop);
  u.steady = share(u.ramp_up, u.stop);
  return u;
}

void run_mpi(const BenchMasterOptions& o, CommandContext& context) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size < 2) throw std::invalid_argument("alphax bench master --mpi: run under mpirun with at least 2 ranks");
  const int groups = size - 1;
  RunRequest request;
  request.config_file = o.config;
  const fs::path dir = (o.work.empty() ? fs::temp_directory_path() / "alphax-bench-master" : fs::path(o.work)) /
                       ("mpi-np" + std::to_string(size));
  if (rank == 0) fs::remove_all(dir);
  MPI_Barrier(MPI_COMM_WORLD);
  request.output = dir.string();
  const auto budget = static_cast<std::uint64_t>(o.evaluations_per_worker * groups);
  request.overrides = {"trainers.pace_scale=" + std::to_string(o.pace_scale), "run.restart=never",
                       "run.budget.max_evaluations=" + std::to_string(budget), "trainers.group_size=1"};
  for (const auto& order : o.orders) request.overrides.push_back("run.order=" + order);
  JobStats stats;
  context.exit_code = run_search_job(request, MPI_COMM_WORLD, &stats);
  if (rank != 0 || context.exit_code != 0) return;
  const auto u = utilisation_from_log(stats.log, groups, o.pace_scale);
  const auto rows = SearchLog::read_all(stats.log);
  double mean_busy = 0.0;
  for (const auto& r : rows) mean_busy += o.pace_scale * r.train_seconds / static_cast<double>(rows.size());
  const double per_second = stats.decision_seconds > 0 ? static_cast<double>(stats.dispatched) / stats.decision_seconds : 0.0;
  std::ostringstream line;
  line << size << ',' << groups << ',' << (o.orders.empty() ? "config" : o.orders.back()) << ',' << stats.dispatched
       << ',' << mean_busy << ',' << stats.session_seconds << ',' << u.ramp_up << ',' << u.stop << ',' << u.utilisation
       << ',' << u.steady << ',' << stats.decision_seconds << ',' << per_second << ',' << groups / mean_busy;
  append_csv(fs::path(o.out) / "mpi.csv",
             "ranks,groups,order,evaluations,mean_evaluation_s,session_s,ramp_up_s,stop_s,utilisation,"
             "steady_utilisation,master_s,decisions_per_s,demand_per_s",
             line.str());
  std::printf("bench master --mpi: %d ranks, %d groups, %llu evaluations of %.2f s mean: utilisation %.2f%% "
              "(steady %.2f%%), master %.3f s, %.0f decisions/s (need %.0f)\n",
              size, groups, static_cast<unsigned long long>(stats.dispatched), mean_busy, 100 * u.utilisation,
              100 * u.steady, stats.decision_seconds, per_second, groups / mean_busy);
  fs::remove_all(dir);
  summarize(o);
}

}  // namespace

void add_bench_master_command(CLI::App& bench, CommandContext& context) {
  auto o = std::make_shared<BenchMasterOptions>();
  CLI::App* cmd = bench.add_subcommand(
      "master", "Master at scale: utilisation and decisions/s with V virtual groups (or, with --mpi, real ranks)");
  cmd->add_option("config", o->config,
                  "simulate: YAML with space, strategies, evaluator (synthetic|table), checkpoint; "
                  "--mpi: an `alphax run` config with the table evaluator")
      ->capture_default_str()
      ->check(CLI::ExistingFile);
  cmd->add_option("--workers", o->workers, "simulate: virtual trainer groups V (one or more)")->capture_default_str();
  cmd->add_option("--evaluations-per-worker", o->evaluations_per_worker, "Budget = this x groups")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--strategies", o->strategies, "simulate: strategy labels (names or keys of `strategies:`)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--orders", o->orders, "arrival | deterministic (simulate: one run per order)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--mean-seconds", o->mean_seconds, "simulate: mean evaluation time")->capture_default_str();
  cmd->add_option("--distribution", o->distribution, "simulate: exponential | lognormal | constant")->capture_default_str();
  cmd->add_option("--sigma", o->sigma, "simulate: lognormal sigma")->capture_default_str();
  cmd->add_option("--latency-us", o->latency_us, "simulate: mean one-way message latency (exponential)")
      ->capture_default_str();
  cmd->add_option("--send-us", o->send_us, "simulate: master CPU time per message sent")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the strategy and the simulation")->capture_default_str();
  cmd->add_flag("--no-files", o->no_files, "simulate: no HDF5 log and no checkpoints (the master's cost without I/O)");
  cmd->add_option("--out", o->out, "Directory of simulate.csv / mpi.csv and the Markdown summary")->capture_default_str();
  cmd->add_option("--work", o->work, "Scratch directory for logs and checkpoints (default: the temp directory)");
  cmd->add_flag("--mpi", o->mpi, "Run the real job under mpirun (ranks-1 groups of 1) instead of simulating");
  cmd->add_option("--pace-scale", o->pace_scale, "--mpi: trainers sleep this x the table's simulated seconds")
      ->capture_default_str();
  cmd->add_option("--summarize-script", o->summarize_script, "Writes the Markdown summary ('' to skip)")
      ->capture_default_str();
  cmd->callback([o, &context] {
    if (o->mpi) {
      run_mpi(*o, context);
      return;
    }
    for (const int v : o->workers)
      if (v < 1) throw CLI::ValidationError("--workers", "must be at least 1");
    run_simulations(*o);
    context.exit_code = 0;
  });
}

}  // namespace alphax::app
