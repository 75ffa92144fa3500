#pragma once
/// \file
/// \brief Drives the real Master against V virtual trainer groups on a simulated clock (the
/// master-at-scale benchmark, `alphax bench master`, docs/app.md "Master at scale").
///
/// The master is a single server: a result that arrives while it is busy waits. Each call of
/// Master::start / Master::on_result advances the simulated clock by the wall time it took on
/// this machine (the real cost of the decision: strategy, log row, checkpoint), plus a fixed
/// CPU cost per message sent. A dispatched evaluation reaches its group after one message
/// latency, runs for a duration drawn from a distribution, and its result reaches the master
/// after another latency. A group is busy only while it evaluates; waiting for messages, for
/// the master's queue and for a held-back result (deterministic order) is idle time.
#include <cstdint>
#include <functional>
#include <random>
#include <string>

#include "alphax/master.hpp"
#include "alphax/search/evaluator.hpp"
#include "alphax/search/search_space.hpp"
#include "alphax/search/search_strategy.hpp"

namespace alphax::app {

/// \brief Forwards every call to a strategy and adds up the wall time of each kind of call, so
/// the benchmark can say whether propose(), on_dispatch() or on_result() limits the master.
class TimedStrategy final : public search::SearchStrategy {
 public:
  /// \brief Seconds spent in each method, and how often it was called.
  struct Totals {
    double propose = 0.0, on_dispatch = 0.0, on_result = 0.0;
    std::uint64_t proposals = 0, dispatches = 0, results = 0;
  };
  explicit TimedStrategy(search::SearchStrategy& inner) : inner_(&inner) {}
  std::string name() const override { return inner_->name(); }
  search::Proposal propose() override;
  void on_dispatch(const search::Proposal& proposal) override;
  void on_result(const search::Proposal& proposal, const search::EvalResult& result) override;
  void save(search::StateArchive& archive) const override { inner_->save(archive); }
  void load(const search::StateArchive& archive) override { inner_->load(archive); }
  const Totals& totals() const { return totals_; }

 private:
  search::SearchStrategy* inner_;
  Totals totals_;
};

/// \brief A positive random duration of a given mean.
struct DurationModel {
  enum class Kind { constant, exponential, lognormal };
  Kind kind = Kind::exponential;
  double mean_seconds = 60.0;
  double sigma = 0.5;  ///< lognormal: sigma of the log (mu follows from the mean)

  /// \brief Parses "constant" | "exponential" | "lognormal"; throws std::invalid_argument otherwise.
  static Kind parse_kind(const std::string& name);
  /// \brief One draw.
  double draw(std::mt19937_64& rng) const;
  /// \brief The draw for `key` (an architecture's canonical hash): the same architecture always
  /// takes the same time, so a master can know it at dispatch (deterministic order).
  double draw_for(std::uint64_t seed, std::uint64_t key) const;
};

/// \brief The settings of one simulated run.
struct VirtualWorkerSettings {
  double mean_evaluation_seconds = 60.0;   ///< for the demand figure (groups / mean)
  double message_latency_seconds = 50e-6;  ///< one way, master <-> group leader (exponential of this mean; 0: none)
  double send_cpu_seconds = 2e-6;          ///< master CPU time per message sent (MPI_Send of a small message)
  std::uint64_t seed = 0;                  ///< latencies
};

/// \brief What a simulated run measured.
struct VirtualWorkerReport {
  int workers = 0;
  std::uint64_t results = 0;         ///< results the master consumed
  std::uint64_t dispatches = 0;      ///< evaluations sent (the master's decisions)
  double ramp_up_seconds = 0.0;      ///< simulated time until every group got its first evaluation
  double stop_seconds = 0.0;         ///< simulated time of the last dispatch (budget spent)
  double utilisation = 0.0;          ///< busy share of V x [0, stop]: includes the ramp-up
  double steady_utilisation = 0.0;   ///< busy share of V x [ramp-up, stop]
  double master_seconds = 0.0;       ///< wall time the master spent in start/on_result (this machine)
  double decisions_per_second = 0.0; ///< dispatches / master_seconds: what the master sustains
  double demand_per_second = 0.0;    ///< V / mean evaluation time: what V groups need
  double mean_queue_seconds = 0.0;   ///< mean wait of an arrived result for the master
  double max_queue_seconds = 0.0;
  double max_call_seconds = 0.0;     ///< slowest single master call (a checkpoint, a model refit)
  std::uint64_t checkpoints = 0;
};

/// \brief Runs `master` (fresh, not started) to completion against master.num_groups() virtual
/// groups. `evaluate` turns a dispatched architecture into its result; its train_seconds is how
/// long the group evaluates it.
VirtualWorkerReport simulate_virtual_workers(
    Master& master, const VirtualWorkerSettings& settings,
    const std::function<search::EvalResult(const search::Genome&)>& evaluate);

/// \brief A synthetic objective for spaces without a table: a seeded random smooth function of
/// SearchSpace::encode (a single tanh unit over the encoding plus pairwise terms), mapped to
/// [40, 95] %, deterministic per architecture. Gives learned models something to learn.
class SyntheticLandscape final : public search::Evaluator {
 public:
  SyntheticLandscape(const search::SearchSpace& space, std::uint64_t seed);
  search::EvalResult evaluate(const search::SearchSpace& space, const search::Genome& genome) override;
  std::string name() const override { return "synthetic"; }

 private:
  std::vector<double> linear_;
  std::vector<double> pairwise_;
};

}  // namespace alphax::app
