#pragma once
// Candidate generation and acquisition shared by the surrogate-driven strategies (mcts, lanas),
// plus the (de)serialisation helpers of genome lists.
#include <functional>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "alphax/search/predictor.hpp"
#include "alphax/search/search_space.hpp"
#include "alphax/search/state_archive.hpp"
#include "alphax/search/strategies.hpp"

namespace alphax::search::detail {

/// A scored, unseen, complete architecture.
struct Candidate {
  Genome genome;
  std::uint64_t hash = 0;
  Estimate estimate;
  double score = 0.0;
  bool next_to_incumbent = false;  ///< from the incumbent's neighbourhood (SurrogateConfig::incumbent_first)
};

/// Completes `partial` by uniformly random legal actions; nullopt if no valid completion was found.
std::optional<Genome> complete_randomly(const SearchSpace& space, const Genome& partial, Rng& rng);

/// Fills the undecided positions of `partial` from `donor`, then applies `edits` random mutations
/// that keep the decided positions; nullopt when the result is invalid.
std::optional<Genome> complete_from(const SearchSpace& space, const Genome& partial, const Genome& donor,
                                    int edits, Rng& rng);

/// How candidates are scored in one proposal round: ucb (mean + kappa * stddev), one ensemble
/// member drawn per round (Thompson), or a weighted sum of the two. Scores are 0 while the
/// predictor is untrained.
struct Acquisition {
  const Predictor* predictor = nullptr;
  double kappa = 0.0;
  std::size_t member = 0;
  double member_weight = 0.0;  ///< 0: ucb; 1: the member alone (Thompson); between: weighted sum
  /// The score of a candidate given the predictor's member_outputs() there (kept per genome by CandidateMemo).
  double score(const std::vector<double>& member_outputs) const;
};
/// The acquisition of one proposal round. `in_flight`: other proposals of the strategy are still
/// being evaluated, which gives the member the weight SurrogateConfig::thompson_in_flight. The
/// member is drawn in every case, so the RNG stream does not depend on the mode.
Acquisition make_acquisition(const SurrogateConfig& config, const Predictor& predictor, bool in_flight, Rng& rng);

/// Memo of the pure per-genome work of candidate_pool(): validity and canonical hash (fixed for
/// good) and the ensemble members' outputs (fixed while the predictor is not retrained), from
/// which ucb and every Thompson member score alike. Consecutive proposals meet mostly the same
/// candidates (the elites' neighbourhoods and mutations), so they are hashed, encoded and scored
/// once per retraining instead of once per proposal. Every value is what recomputing would give,
/// so the memo changes no choice and is not saved: after a restart it refills with the same values.
class CandidateMemo {
 public:
  /// The canonical hash of `g`, or nullopt when `g` is not a valid complete architecture.
  std::optional<std::uint64_t> hash(const SearchSpace& space, const Genome& g);
  /// space.encode(g) for a valid `g`.
  const std::vector<float>& encoding(const SearchSpace& space, const Genome& g);
  /// The acquisition score of space.encode(g) for a valid `g`.
  double score(const SearchSpace& space, const Genome& g, const Acquisition& acquisition);
  void clear() {
    entries_.clear();
    previous_.clear();
    retired_.clear();
    retired_next_ = retired_.end();
  }
  std::size_t size() const { return entries_.size() + previous_.size(); }

 private:
  struct Entry {
    bool valid = false;
    std::uint64_t hash = 0;
    std::uint64_t scored_at = 0;  ///< predictor trainings when `outputs` were computed; 0: not yet
    std::vector<double> outputs;  ///< Predictor::member_outputs at `scored_at`
    std::vector<float> encoding;  ///< empty until first asked for
    bool has_priors = false;      ///< `priors` holds the predictor's prior_outputs (never change)
    std::vector<double> priors;
  };
  struct GenomeHash {
    std::size_t operator()(const Genome& g) const;
  };
  Entry& entry(const SearchSpace& space, const Genome& g);
  /// Bounds the memory at two generations of this size: when the current one is full it becomes
  /// the previous one, and an entry found in the previous generation moves back to the current
  /// one. The generation before is retired: freed a few entries per lookup, because freeing 65,536
  /// entries at once (as dropping the memo whole did) put a spike of several ms into one proposal
  /// (mcts's p99 decision cost went above 10 ms).
  static constexpr std::size_t kMaxEntries = std::size_t{1} << 16;
  static constexpr int kFreedPerLookup = 4;
  using Map = std::unordered_map<Genome, Entry, GenomeHash>;
  Map entries_;   ///< current generation
  Map previous_;  ///< previous generation
  Map retired_;   ///< being freed
  Map::iterator retired_next_ = retired_.end();
};

/// Up to `count` distinct unseen scored candidates below `partial` that satisfy `accept`, drawn
/// by mutating `elite` members (share local_fraction) or completing `partial` at random.
std::vector<Candidate> candidate_pool(const SearchSpace& space, const Genome& partial, const SurrogateConfig& config,
                                      const Acquisition& acquisition, const std::vector<const Genome*>& elite,
                                      const std::unordered_set<std::uint64_t>& seen, int count, int max_tries,
                                      const std::function<bool(const Genome&)>& accept, CandidateMemo& memo,
                                      Rng& rng);

/// The best-scoring member of candidate_pool(), with its full Estimate; nullopt when none found.
std::optional<Candidate> best_candidate(const SearchSpace& space, const Genome& partial, const SurrogateConfig& config,
                                        const Acquisition& acquisition, const std::vector<const Genome*>& elite,
                                        const std::unordered_set<std::uint64_t>& seen, int count, int max_tries,
                                        const std::function<bool(const Genome&)>& accept, CandidateMemo& memo,
                                        Rng& rng);

/// The `k` best evaluated (reward, genome) entries, best first; with `min_distance` > 0 each
/// differs from every better one chosen in at least that many positions (elites spread over basins).
std::vector<const Genome*> top_genomes(const std::vector<std::pair<double, Genome>>& evaluated, std::size_t k,
                                       int min_distance = 0);

/// An unseen uniformly sampled architecture (throws when `max_tries` draws are all seen).
Genome unseen_sample(const SearchSpace& space, const std::unordered_set<std::uint64_t>& seen, Rng& rng,
                     const char* who, int max_tries = 1000000);

void put_genomes(StateArchive& archive, const std::string& name, const std::vector<Genome>& genomes);
std::vector<Genome> get_genomes(const StateArchive& archive, const std::string& name);
void put_hashes(StateArchive& archive, const std::string& name, const std::unordered_set<std::uint64_t>& set);
std::unordered_set<std::uint64_t> get_hashes(const StateArchive& archive, const std::string& name);
void put_evaluated(StateArchive& archive, const std::vector<std::pair<double, Genome>>& evaluated);
std::vector<std::pair<double, Genome>> get_evaluated(const StateArchive& archive);

}  // namespace alphax::search::detail
