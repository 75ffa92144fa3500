#include "alphax/job.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <thread>

#include "alphax/checkpoint.hpp"
#include "alphax/config.hpp"
#include "alphax/evaluators.hpp"
#include "alphax/group_comm.hpp"
#include "alphax/master.hpp"
#include "alphax/search/registry.hpp"
#include "alphax/search_log.hpp"
#include "alphax/stop_signal.hpp"
#include "alphax/train_evaluator.hpp"

namespace alphax::app {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> effective_overrides(const RunRequest& request) {
  std::vector<std::string> overrides = request.overrides;
  if (request.output) overrides.push_back("run.output=" + *request.output);
  if (request.restart) overrides.push_back("run.restart=require");
  return overrides;
}

RunConfig load_config(const RunRequest& request) {
  const std::string text = read_text_file(request.config_file);
  return parse_config(text, effective_overrides(request), request.config_file.parent_path());
}

// Everything rank 0 builds before the verdict, so that any error is reported before work starts.
struct MasterSide {
  RunConfig config;
  int world_size = 1;
  std::unique_ptr<search::SearchSpace> space;
  std::unique_ptr<search::SearchStrategy> strategy;
  std::unique_ptr<search::Evaluator> evaluator;  // used by rank 0 itself only when N = 1
  std::unique_ptr<WeightTransfer> transfer;      // train evaluator with transfer.cache_size > 0
  std::unique_ptr<CheckpointStore> store;
  std::unique_ptr<SearchLog> log;
  std::unique_ptr<Master> master;
  double elapsed_offset = 0.0;
  std::string resumed_from;
  double decision_seconds = 0.0;  // wall time rank 0 spent deciding and sending (N > 1)
  std::uint64_t dispatched_at_start = 0;
};

std::unique_ptr<MasterSide> prepare_master(const RunRequest& request, int world_size) {
  auto side = std::make_unique<MasterSide>();
  side->config = load_config(request);
  side->world_size = world_size;
  const RunConfig& config = side->config;
  check_layout(config, world_size);
  side->space = search::make_space(config.space);
  side->strategy = search::make_strategy(config.strategy, *side->space, config.seed);
  side->evaluator = make_evaluator(config, *side->space, MPI_COMM_SELF);

  std::filesystem::create_directories(config.output);
  side->store = std::make_unique<CheckpointStore>(config.output);
  const auto log_path = config.output / "search.h5";
  const bool has_checkpoint = side->store->any_exists();
  if (config.restart == RestartMode::never && (has_checkpoint || std::filesystem::exists(log_path)))
    throw ConfigError("run.restart: 'never', but " + config.output.string() +
                      " already holds a run; pick another --output, delete it, or use run.restart: auto");
  if (config.restart == RestartMode::require && !has_checkpoint)
    throw ConfigError("--restart (run.restart: require): no checkpoint in " + config.output.string() +
                      "; run without --restart to start a new search");

  auto options = MasterOptions::from(config);
  const VirtualClock clock = virtual_clock_for(config, *side->space, side->evaluator.get());
  options.virtual_seconds = clock.result_seconds;
  options.dispatch_cost = clock.dispatch_cost;
  if (const auto* train = dynamic_cast<const TrainEvaluator*>(side->evaluator.get()); train && train->transfer_enabled()) {
    side->transfer = std::make_unique<WeightTransfer>(train->config().transfer, *side->space);
    WeightTransfer* transfer = side->transfer.get();
    options.on_dispatch = [transfer](const Dispatch& d) { transfer->on_dispatch(d.eval_id, d.genome); };
    options.on_consume = [transfer](std::int64_t id, const search::EvalResult& r) { transfer->on_consume(id, r); };
    side->store->add_section("weight_transfer", [transfer](search::StateArchive& a) { transfer->save(a); });
  }
  const LogAttributes attributes{config.effective_text, world_size, config.group_size};
  std::optional<CheckpointStore::Loaded> loaded;
  if (has_checkpoint) loaded = side->store->load_newest();
  if (loaded) {
    for (const auto& line : loaded->rejected) std::printf("alphax run: skipped a checkpoint: %s\n", line.c_str());
    const auto& m = loaded->state.child("master");
    side->log = std::make_unique<SearchLog>(SearchLog::reopen(log_path, attributes, m.scalar_uint("log_rows")));
    side->master = std::make_unique<Master>(options, *side->space, *side->strategy, num_groups(config, world_size),
                                            side->log.get(), side->store.get());
    side->master->restore(loaded->state);
    if (side->transfer && loaded->state.has_child("weight_transfer"))
      side->transfer->load(loaded->state.child("weight_transfer"));
    side->elapsed_offset = m.scalar_double("elapsed_seconds");
    side->resumed_from = loaded->file.string();
  } else {
    side->log = std::make_unique<SearchLog>(SearchLog::create(log_path, attributes));
    side->master = std::make_unique<Master>(options, *side->space, *side->strategy, num_groups(config, world_size),
                                            side->log.get(), side->store.get());
  }
  return side;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--:--";
  const auto s = static_cast<long long>(seconds);
  char text[32];
  std::snprintf(text, sizeof text, "%02lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  return text;
}

// Prints the batch-log progress line of rank 0.
class ProgressReporter {
 public:
  ProgressReporter(const MasterSide& side, double interval) : side_(side), interval_(interval) {}

  void maybe_print(double session_seconds, std::uint64_t results_at_start) {
    if (interval_ <= 0 || session_seconds - last_ < interval_) return;
    last_ = session_seconds;
    print(session_seconds, results_at_start);
  }
  void print(double session_seconds, std::uint64_t results_at_start) const {
    const Master& m = *side_.master;
    const double done_now = static_cast<double>(m.results() - results_at_start);
    const double per_hour = session_seconds > 0 ? done_now / session_seconds * 3600.0 : 0.0;
    const double remaining = static_cast<double>(m.max_evaluations()) - static_cast<double>(m.results());
    const double eta = per_hour > 0 ? remaining / per_hour * 3600.0 : NAN;
    const double utilisation =
        session_seconds > 0 ? 100.0 * m.busy_seconds() / (session_seconds * m.num_groups()) : 0.0;
    std::string best = "none yet";
    if (m.best().valid) {
      char value[32];
      std::snprintf(value, sizeof value, "%.3f", m.best().result.objective);
      best = std::string(value) + " " + side_.space->format(m.best().genome);
    }
    std::printf("alphax [%s] %llu/%llu evaluations | best %s | %.0f evals/h | groups busy %d/%d, utilisation %.0f%% | ETA %s\n",
                format_duration(side_.elapsed_offset + session_seconds).c_str(),
                static_cast<unsigned long long>(m.results()), static_cast<unsigned long long>(m.max_evaluations()),
                best.c_str(), per_hour, m.busy_groups(), m.num_groups(), utilisation, format_duration(eta).c_str());
    std::fflush(stdout);
  }

 private:
  const MasterSide& side_;
  double interval_;
  double last_ = 0.0;
};

search::EvalResult evaluate_once(search::Evaluator& evaluator, const search::SearchSpace& space,
                                 const search::Genome& genome) {
  try {
    auto result = evaluator.evaluate(space, genome);
    if (result.status == search::EvalStatus::ok && !std::isfinite(result.objective)) {
      result.status = search::EvalStatus::diverged;
      result.message = "objective is not finite";
    }
    return result;
  } catch (const std::exception& e) {
    search::EvalResult failed;
    failed.status = search::EvalStatus::failed;
    failed.message = e.what();
    return failed;
  }
}

// An evaluation that throws is `failed`; trainers.pace_seconds / pace_scale stretch it to a
// minimum wall time (demos, signal tests, the master-at-scale benchmark).
search::EvalResult evaluate_safely(search::Evaluator& evaluator, const search::SearchSpace& space,
                                   const search::Genome& genome, const RunConfig& config) {
  const auto started = Clock::now();
  auto result = evaluate_once(evaluator, space, genome);
  const double hold = std::max(config.pace_seconds, config.pace_scale * result.train_seconds);
  if (hold > 0)
    std::this_thread::sleep_until(started + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(hold)));
  return result;
}

bool should_preempt(const RunConfig& config, double session_seconds) {
  if (stop_signal_received() != 0) return true;
  return config.max_wall_seconds > 0 && session_seconds >= config.max_wall_seconds;
}

void announce_start(MasterSide& side) {
  side.dispatched_at_start = side.master->dispatched();
  const RunConfig& c = side.config;
  std::printf("alphax run '%s': %d rank(s), %d trainer group(s) of %d, strategy %s, evaluator %s, budget %llu, output %s\n",
              c.name.c_str(), side.world_size, side.master->num_groups(), side.world_size > 1 ? c.group_size : 1,
              side.strategy->name().c_str(), side.evaluator->name().c_str(),
              static_cast<unsigned long long>(c.max_evaluations), c.output.string().c_str());
  if (!side.resumed_from.empty())
    std::printf("alphax run: resumed from %s at %llu evaluations\n", side.resumed_from.c_str(),
                static_cast<unsigned long long>(side.master->results()));
  std::fflush(stdout);
}

int announce_end(const MasterSide& side, double session_seconds, std::uint64_t results_at_start) {
  ProgressReporter(side, 0).print(session_seconds, results_at_start);
  const Master& m = *side.master;
  const bool preempted = m.phase() == MasterPhase::preempted;
  std::printf("alphax run: %s; %llu evaluations logged in %s%s\n", m.stop_reason().c_str(),
              static_cast<unsigned long long>(side.log->rows()), side.log->path().string().c_str(),
              preempted ? "; exit code 85: checkpointed, requeue to continue" : "");
  if (m.best().valid)
    std::printf("alphax run: best objective %.4f (report %.4f): %s\n", m.best().result.objective,
                m.best().result.report, side.space->format(m.best().genome).c_str());
  const auto decisions = m.dispatched() - side.dispatched_at_start;
  if (side.world_size > 1 && decisions > 0)
    std::printf("alphax run: the master spent %.3f s deciding and sending %llu evaluations (%.3f ms each)\n",
                side.decision_seconds, static_cast<unsigned long long>(decisions),
                1e3 * side.decision_seconds / static_cast<double>(decisions));
  std::fflush(stdout);
  return preempted ? kExitRequeue : 0;
}

// N = 1: the master evaluates its own proposals in turn.
int run_alone(MasterSide& side) {
  const auto t0 = Clock::now();
  auto session = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  Master& master = *side.master;
  const std::uint64_t results_at_start = master.results();
  ProgressReporter progress(side, side.config.progress_seconds);
  auto pending = master.start(side.elapsed_offset);
  while (!master.done()) {
    if (should_preempt(side.config, session())) {
      master.preempt(side.elapsed_offset + session());
      break;
    }
    if (pending.empty()) throw std::logic_error("alphax run: the master has nothing in flight and is not done");
    const Dispatch d = pending.front();
    auto* train = side.transfer ? dynamic_cast<TrainEvaluator*>(side.evaluator.get()) : nullptr;
    if (train) train->set_parent(side.transfer->parent_of(d.eval_id));
    const auto result = evaluate_safely(*side.evaluator, *side.space, d.genome, side.config);
    if (train) side.transfer->on_arrival(d.eval_id, train->take_trained());
    pending = master.on_result(d.group, result, side.elapsed_offset + session());
    progress.maybe_print(session(), results_at_start);
  }
  return announce_end(side, session(), results_at_start);
}

int run_master(MasterSide& side, MPI_Comm control) {
  const auto t0 = Clock::now();
  auto session = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  Master& master = *side.master;
  const int groups = master.num_groups();
  const int group_size = side.config.group_size;
  auto leader = [&](int g) { return 1 + g * group_size; };
  std::vector<ResultMessage> inbox(static_cast<std::size_t>(groups));
  std::vector<MPI_Request> requests(static_cast<std::size_t>(groups), MPI_REQUEST_NULL);
  std::vector<std::int64_t> expected(static_cast<std::size_t>(groups), -1);

  WeightTransfer* transfer = side.transfer.get();
  auto send_one = [&](const Dispatch& d) {
    const auto g = static_cast<std::size_t>(d.group);
    send_work(WorkOrder{false, 0, d.eval_id, transfer != nullptr, d.genome}, leader(d.group), control);
    if (transfer) {
      const auto parent = transfer->parent_of(d.eval_id);
      send_bytes(parent ? train::serialize_weights(*parent) : std::vector<std::byte>{}, leader(d.group), kTagWeights,
                 control);
    }
    expected[g] = d.eval_id;
    MPI_Irecv(&inbox[g], sizeof(ResultMessage), MPI_BYTE, leader(d.group), kTagResult, control, &requests[g]);
  };
  auto send = [&](const std::vector<Dispatch>& dispatches) {
    for (const auto& d : dispatches) send_one(d);
  };

  // With weight transfer every result is followed by the trained network (empty after a failure).
  auto receive_trained = [&](int g) {
    if (!transfer) return;
    const auto bytes = receive_bytes(leader(g), kTagWeights, control);
    transfer->on_arrival(inbox[static_cast<std::size_t>(g)].eval_id,
                         bytes.empty() ? nullptr : std::make_shared<const train::NetworkWeights>(train::deserialize_weights(bytes)));
  };

  const std::uint64_t results_at_start = master.results();
  ProgressReporter progress(side, side.config.progress_seconds);
  // The master's own cost (decisions + sends), for the closing line and the scale benchmark.
  auto timed = [&](auto&& decide) {
    const auto d0 = Clock::now();
    send(decide());
    side.decision_seconds += std::chrono::duration<double>(Clock::now() - d0).count();
  };
  // The first wave streams: a group starts as soon as its proposal is made, not after all of them.
  const auto start0 = Clock::now();
  master.start(side.elapsed_offset, send_one);
  side.decision_seconds += std::chrono::duration<double>(Clock::now() - start0).count();
  while (!master.done()) {
    if (should_preempt(side.config, session())) {
      master.preempt(side.elapsed_offset + session());
      break;
    }
    int index = MPI_UNDEFINED;
    int flag = 0;
    MPI_Testany(groups, requests.data(), &index, &flag, MPI_STATUS_IGNORE);
    if (flag && index != MPI_UNDEFINED) {
      const auto g = static_cast<std::size_t>(index);
      if (inbox[g].eval_id != expected[g])
        throw std::runtime_error("alphax run: group " + std::to_string(index) + " answered evaluation " +
                                 std::to_string(inbox[g].eval_id) + ", expected " + std::to_string(expected[g]));
      expected[g] = -1;
      receive_trained(index);
      timed([&] { return master.on_result(index, inbox[g].to_result(), side.elapsed_offset + session()); });
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    progress.maybe_print(session(), results_at_start);
  }
  // The checkpoint is on disk: let busy groups finish their evaluation, then stop every group.
  for (int g = 0; g < groups; ++g) {
    auto& request = requests[static_cast<std::size_t>(g)];
    if (request == MPI_REQUEST_NULL) continue;
    MPI_Wait(&request, MPI_STATUS_IGNORE);
    if (transfer) (void)receive_bytes(leader(g), kTagWeights, control);  // the leader's send must complete
  }
  const int code = announce_end(side, session(), results_at_start);
  for (int g = 0; g < groups; ++g) send_work(WorkOrder{true, code, 0, false, {}}, leader(g), control);
  return code;
}

int run_trainer(const RunConfig& config, MPI_Comm control, MPI_Comm group) {
  const auto space = search::make_space(config.space);
  const auto evaluator = make_evaluator(config, *space, group);
  auto* train = dynamic_cast<TrainEvaluator*>(evaluator.get());
  comm::CommunicatorOptions options;
  options.block_bytes = static_cast<std::size_t>(std::max<std::int64_t>(0, config.comm_block_bytes));
  comm::MpiCommunicator group_comm(group, options);
  const bool leader = group_comm.rank() == 0;
  while (true) {
    WorkOrder order = leader ? receive_work(0, control) : WorkOrder{};
    order = broadcast_work(order, group_comm);
    if (order.stop) return order.exit_code;
    if (leader && order.with_weights) {
      const auto bytes = receive_bytes(0, kTagWeights, control);
      if (!train) throw std::logic_error("alphax run: weights were sent to a group whose evaluator is not train");
      train->set_parent(bytes.empty() ? nullptr
                                      : std::make_shared<const train::NetworkWeights>(train::deserialize_weights(bytes)));
    }
    const auto result = evaluate_safely(*evaluator, *space, order.genome, config);
    if (leader) {
      const ResultMessage message = ResultMessage::from(order.eval_id, result);
      MPI_Send(&message, sizeof message, MPI_BYTE, 0, kTagResult, control);
      if (order.with_weights) {
        const auto trained = train ? train->take_trained() : nullptr;
        send_bytes(trained ? train::serialize_weights(*trained) : std::vector<std::byte>{}, 0, kTagWeights, control);
      }
    }
  }
}

}  // namespace

int run_search_job(const RunRequest& request, MPI_Comm world, JobStats* stats) {
  int rank = 0;
  int size = 1;
  MPI_Comm_rank(world, &rank);
  MPI_Comm_size(world, &size);
  OwnedComm control = OwnedComm::dup(world);
  StopSignalGuard signals;  // every rank: a SIGUSR1/SIGTERM must not kill a trainer mid-way

  std::unique_ptr<MasterSide> side;
  std::string verdict;
  if (rank == 0) {
    try {
      side = prepare_master(request, size);
    } catch (const std::exception& e) {
      verdict = e.what();
      if (verdict.empty()) verdict = "unknown error while preparing the run";
    }
  }
  verdict = broadcast_string(verdict, control.get());
  if (!verdict.empty()) {
    if (rank == 0) std::fprintf(stderr, "alphax run: error: %s\n", verdict.c_str());
    return kExitConfig;
  }
  const std::string text = broadcast_string(rank == 0 ? side->config.effective_text : "", control.get());
  const std::string dir = broadcast_string(rank == 0 ? side->config.config_dir.string() : "", control.get());
  const RunConfig config = rank == 0 ? side->config : parse_config(text, {}, dir);
  const int color = rank == 0 ? 0 : 1 + (rank - 1) / config.group_size;
  OwnedComm group = OwnedComm::split(world, color, rank);

  if (rank != 0) return run_trainer(config, control.get(), group.get());
  announce_start(*side);
  const auto t0 = Clock::now();
  const int code = size == 1 ? run_alone(*side) : run_master(*side, control.get());
  if (stats) {
    stats->session_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    stats->decision_seconds = side->decision_seconds;
    stats->dispatched = side->master->dispatched() - side->dispatched_at_start;
    stats->groups = side->master->num_groups();
    stats->log = side->log->path();
  }
  return code;
}

int validate_config(const RunRequest& request, int ranks) {
  try {
    const RunConfig config = load_config(request);
    check_layout(config, ranks);
    const auto space = search::make_space(config.space);
    const auto strategy = search::make_strategy(config.strategy, *space, config.seed);
    const auto evaluator = make_evaluator(config, *space, MPI_COMM_SELF);
    std::printf("%s: valid for %d rank(s): %d trainer group(s) of %d; space %s, strategy %s, evaluator %s, "
                "budget %llu evaluations, output %s\n",
                request.config_file.string().c_str(), ranks, num_groups(config, ranks),
                ranks > 1 ? config.group_size : 1, space->name().c_str(), strategy->name().c_str(),
                evaluator->name().c_str(), static_cast<unsigned long long>(config.max_evaluations),
                config.output.string().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "alphax validate: error: %s\n", e.what());
    return kExitConfig;
  }
}

}  // namespace alphax::app
