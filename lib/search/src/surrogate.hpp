#pragma once
// Candidate generation and acquisition shared by the surrogate-driven strategies (mcts, lanas),
// plus the (de)serialisation helpers of genome lists.
#include <functional>
#include <optional>
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
};

/// Completes `partial` by uniformly random legal actions; nullopt if no valid completion was found.
std::optional<Genome> complete_randomly(const SearchSpace& space, const Genome& partial, Rng& rng);

/// Fills the undecided positions of `partial` from `donor`, then applies `edits` random mutations
/// that keep the decided positions; nullopt when the result is invalid.
std::optional<Genome> complete_from(const SearchSpace& space, const Genome& partial, const Genome& donor,
                                    int edits, Rng& rng);

/// How candidates are scored in one proposal round: Thompson (one ensemble member, drawn per
/// round) or ucb (mean + kappa * stddev). Scores are 0 while the predictor is untrained.
struct Acquisition {
  const Predictor* predictor = nullptr;
  bool thompson = true;
  double kappa = 0.0;
  std::size_t member = 0;
  double score(const std::vector<float>& x) const;
};
Acquisition make_acquisition(const SurrogateConfig& config, const Predictor& predictor, Rng& rng);

/// Up to `count` distinct unseen scored candidates below `partial` that satisfy `accept`, drawn
/// by mutating `elite` members (share local_fraction) or completing `partial` at random.
std::vector<Candidate> candidate_pool(const SearchSpace& space, const Genome& partial, const SurrogateConfig& config,
                                      const Acquisition& acquisition, const std::vector<const Genome*>& elite,
                                      const std::unordered_set<std::uint64_t>& seen, int count, int max_tries,
                                      const std::function<bool(const Genome&)>& accept, Rng& rng);

/// The best-scoring member of candidate_pool(), with its full Estimate; nullopt when none found.
std::optional<Candidate> best_candidate(const SearchSpace& space, const Genome& partial, const SurrogateConfig& config,
                                        const Acquisition& acquisition, const std::vector<const Genome*>& elite,
                                        const std::unordered_set<std::uint64_t>& seen, int count, int max_tries,
                                        const std::function<bool(const Genome&)>& accept, Rng& rng);

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
