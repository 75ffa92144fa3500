#pragma once
/// \file
/// \brief The loop around a strategy that both `alphax run` (the master) and `alphax bench search`
/// use: one evaluation per new canonical class, re-proposals answered from the cache for free,
/// counting of unique samples and the best so far.
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <vector>

#include "alphax/search/evaluator.hpp"
#include "alphax/search/search_space.hpp"
#include "alphax/search/search_strategy.hpp"
#include "alphax/search/state_archive.hpp"

namespace alphax::search {

/// \brief The best evaluation so far (by objective).
struct BestSoFar {
  bool valid = false;
  Genome genome;
  EvalResult result;
  std::uint64_t sample = 0;  ///< the unique-sample count (1-based) at which it was evaluated
};

/// \brief Wraps a strategy: de-duplicates by canonical hash and keeps the counters.
///
/// Use: `Proposal p = driver.next();` send p to a worker, then `driver.complete(p, result)` when
/// it comes back (any order across proposals). next() calls the strategy's on_dispatch; proposals
/// of an already evaluated class are answered with the cached result (on_result, no sample spent)
/// and a proposal of a class already in flight waits for that evaluation's result.
class SearchDriver {
 public:
  /// \brief `space` and `strategy` must outlive the driver.
  SearchDriver(const SearchSpace& space, SearchStrategy& strategy);

  /// \brief The next proposal of a class neither evaluated nor in flight; already dispatched.
  /// Throws std::runtime_error when the strategy makes `max_free_proposals` re-proposals in a row
  /// (space exhausted).
  Proposal next();
  /// \brief Feeds the result of a proposal returned by next() to the strategy and the counters.
  void complete(const Proposal& proposal, const EvalResult& result);

  /// \brief Evaluations paid for (one per new class).
  std::uint64_t unique_samples() const { return unique_samples_; }
  /// \brief Re-proposals answered from the cache (or joined to an in-flight evaluation).
  std::uint64_t free_proposals() const { return free_proposals_; }
  /// \brief Proposals handed out by next() and not completed yet.
  std::size_t in_flight() const { return in_flight_.size(); }
  const BestSoFar& best() const { return best_; }
  /// \brief The cached result of a class, if evaluated.
  std::optional<EvalResult> cached(std::uint64_t canonical_hash) const;

  /// \brief The proposals handed out and not completed (to re-queue after a restart), by id.
  std::vector<Proposal> in_flight_proposals() const;

  /// \brief Limit on consecutive free re-proposals before next() gives up (default 100000).
  void set_max_free_proposals(std::uint64_t n) { max_free_proposals_ = n; }

  /// \brief Counters, cache, best and in-flight set (the strategy saves itself separately).
  void save(StateArchive& archive) const;
  void load(const StateArchive& archive);

 private:
  void record(const Proposal& proposal, const EvalResult& result);

  const SearchSpace* space_;
  SearchStrategy* strategy_;
  std::unordered_map<std::uint64_t, EvalResult> cache_;
  std::unordered_map<std::uint64_t, Proposal> in_flight_;  ///< hash -> the proposal being evaluated
  std::unordered_map<std::uint64_t, std::vector<Proposal>> waiting_;  ///< hash -> joined proposals
  std::uint64_t unique_samples_ = 0;
  std::uint64_t free_proposals_ = 0;
  std::uint64_t max_free_proposals_ = 100000;
  BestSoFar best_;
};

/// \brief What run_table_search() records for one run.
struct SearchTrace {
  std::vector<double> best_objective;  ///< after k+1 unique samples
  std::vector<double> best_report;     ///< report value of the best-objective arch after k+1 samples
  std::optional<std::uint64_t> samples_to_best;  ///< unique samples until `target_objective` was reached
  std::uint64_t free_proposals = 0;
};

/// \brief Options of run_table_search().
struct SimulationOptions {
  std::uint64_t budget = 1000;     ///< unique evaluations
  std::uint32_t workers = 1;       ///< evaluations in flight at once
  std::uint64_t seed = 0;          ///< order in which simulated workers return
  std::optional<double> target_objective;  ///< stop once reached (everything after is determined)
};

/// \brief Runs a search with `workers` simulated asynchronous workers: each evaluation takes its
/// EvalResult::train_seconds (or an exponential time of mean 1 when that is 0) of simulated
/// time, so results come back in a random order while `workers` are in flight.
SearchTrace run_simulated_search(const SearchSpace& space, SearchStrategy& strategy, Evaluator& evaluator,
                                 const SimulationOptions& options);

}  // namespace alphax::search
