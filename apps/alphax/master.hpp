#pragma once
/// \file
/// \brief The master's decisions, free of MPI: what to dispatch to which trainer group, in which
/// order results are consumed, logging, checkpoints, budgets. The MPI job (job.cpp), the N = 1
/// loop and the scale benchmark drive the same object.
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "alphax/config.hpp"
#include "alphax/search/search_driver.hpp"
#include "alphax/search/search_space.hpp"
#include "alphax/search/search_strategy.hpp"
#include "alphax/search/state_archive.hpp"

namespace alphax::app {

class SearchLog;
class CheckpointStore;

/// \brief One architecture to send to one trainer group.
struct Dispatch {
  int group = 0;
  std::int64_t eval_id = 0;
  search::Genome genome;
};

/// \brief Receives each dispatch as soon as the master has decided it.
using DispatchSink = std::function<void(const Dispatch&)>;

/// \brief The options of the master taken from RunConfig (so benchmarks can build them directly).
struct MasterOptions {
  std::uint64_t max_evaluations = 100;
  std::optional<double> target_objective;
  ResultOrder order = ResultOrder::deterministic;
  std::uint64_t checkpoint_every_results = 0;
  double checkpoint_every_seconds = 0.0;
  std::uint64_t stop_after_results = 0;
  std::string config_text;
  /// \brief Length of an evaluation on the deterministic clock; default: EvalResult::train_seconds.
  std::function<double(const search::EvalResult&)> virtual_seconds;
  /// \brief When set, the length of an evaluation on the deterministic clock is known at dispatch
  /// (a cost model of the architecture) and replaces virtual_seconds: the master then waits only
  /// for the in-flight evaluation that finishes first on that clock.
  std::function<double(const search::Genome&)> dispatch_cost;
  /// \brief Called for every new dispatch and every consumed result, in the master's (deterministic)
  /// order: weight transfer chooses parents and fills its cache here (train_evaluator.hpp).
  std::function<void(const Dispatch&)> on_dispatch;
  std::function<void(std::int64_t eval_id, const search::EvalResult&)> on_consume;

  static MasterOptions from(const RunConfig& config);
};

/// \brief Where a run stands.
enum class MasterPhase {
  running,    ///< dispatching
  draining,   ///< budget spent / target reached / space exhausted: waiting for in-flight results
  finished,   ///< nothing left in flight; final checkpoint written
  preempted,  ///< checkpoint written on request (signal, wall time, stop_after_results)
};

/// \brief Rank 0's search loop as an event handler.
///
/// Determinism (ResultOrder::deterministic): every group has a virtual clock; an evaluation
/// dispatched at virtual time t finishes at t + virtual_seconds(result). Results are consumed in
/// (virtual finish, group) order, and a result is held back until no busy group can still finish
/// earlier. With a deterministic evaluator the sequence of strategy calls, and so the log, depends
/// only on the seed and the layout, not on wall-clock arrival order.
class Master {
 public:
  /// \brief `log` and `store` may be null (benchmarks); all references must outlive the master.
  Master(MasterOptions options, const search::SearchSpace& space, search::SearchStrategy& strategy, int num_groups,
         SearchLog* log, const CheckpointStore* store);

  /// \brief Loads strategy, driver and master state saved by snapshot(). Throws when the number
  /// of groups differs (restart needs the same layout).
  void restore(const search::StateArchive& state);
  /// \brief The first dispatches: in-flight evaluations of a restored checkpoint, then new work for
  /// every idle group. `now` is wall seconds since the run began.
  std::vector<Dispatch> start(double now);
  /// \brief As above, but every dispatch goes to `send` as soon as it is decided, so with many
  /// groups the first ones start working while the master still proposes for the others.
  void start(double now, const DispatchSink& send);
  /// \brief A group's result arrived; returns the dispatches to send now.
  std::vector<Dispatch> on_result(int group, const search::EvalResult& result, double now);
  /// \brief Checkpoint now and stop (signal, wall-time budget). Idempotent.
  void preempt(double now);

  MasterPhase phase() const { return phase_; }
  bool done() const { return phase_ == MasterPhase::finished || phase_ == MasterPhase::preempted; }
  /// \brief Why the run stopped dispatching (budget, target, exhausted space, preemption).
  const std::string& stop_reason() const { return stop_reason_; }

  /// \brief The full state: strategy, driver (cache, counters) and the master's own.
  search::StateArchive snapshot(double now) const;

  // Progress figures.
  std::uint64_t results() const { return results_; }
  std::uint64_t dispatched() const { return dispatched_; }
  std::uint64_t max_evaluations() const { return options_.max_evaluations; }
  int busy_groups() const { return static_cast<int>(running_.size()); }
  int num_groups() const { return static_cast<int>(groups_.size()); }
  /// \brief Wall seconds groups spent evaluating in this session (dispatch to arrival).
  double busy_seconds() const { return busy_seconds_; }
  const search::BestSoFar& best() const { return driver_.best(); }
  std::uint64_t checkpoints_written() const { return checkpoints_written_; }

 private:
  struct InFlight {
    search::Proposal proposal;
    std::int64_t eval_id = 0;
    double dispatch_wall = 0.0;
    double dispatch_virtual = 0.0;
    double known_seconds = -1.0;  ///< virtual length known at dispatch (dispatch_cost), else -1
  };
  struct Group {
    std::optional<InFlight> flight;
    std::optional<search::EvalResult> result;  ///< arrived, not consumed yet
    double arrival_wall = 0.0;
    double clock = 0.0;  ///< virtual time at which the group is free
    std::pair<double, int> arrived_key{};  ///< its key in arrived_ while a result waits
  };

  using GroupKey = std::pair<double, int>;  ///< (time on the deterministic clock or arrival count, group)
  GroupKey running_key(int group) const;
  std::optional<int> next_consumable() const;
  void consume(int group, double now, const DispatchSink& send);
  void fill_idle(double now, const DispatchSink& send);
  void dispatch_to(int group, double now, const DispatchSink& send);
  void maybe_checkpoint(double now);
  void write_checkpoint(double now);
  void update_phase(double now);
  double virtual_seconds(const InFlight& flight, const search::EvalResult& result) const;
  double known_seconds(const search::Genome& genome) const;

  MasterOptions options_;
  const search::SearchSpace* space_;
  search::SearchStrategy* strategy_;
  search::SearchDriver driver_;
  SearchLog* log_;
  const CheckpointStore* store_;
  std::vector<Group> groups_;
  // Indexes over groups_ so that a result costs O(log groups), not O(groups) (10,000 groups).
  std::set<GroupKey> running_;  ///< evaluating: by the earliest virtual time it could finish
  std::set<GroupKey> arrived_;  ///< result waiting: by virtual finish (deterministic) or arrival
  std::size_t in_flight_ = 0;   ///< groups with an evaluation not consumed yet
  double arrivals_ = 0.0;       ///< arrival counter (ResultOrder::arrival keys)
  MasterPhase phase_ = MasterPhase::running;
  std::string stop_reason_;
  bool no_more_proposals_ = false;
  bool target_reached_ = false;
  std::uint64_t dispatched_ = 0;
  std::uint64_t results_ = 0;
  std::uint64_t results_at_checkpoint_ = 0;
  double checkpoint_wall_ = 0.0;
  std::uint64_t checkpoints_written_ = 0;
  double busy_seconds_ = 0.0;
  bool stop_requested_ = false;
};

}  // namespace alphax::app
