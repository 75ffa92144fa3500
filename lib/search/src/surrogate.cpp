#include "surrogate.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <unordered_map>

#include "alphax/search/spaces.hpp"

namespace alphax::search::detail {

std::optional<Genome> complete_randomly(const SearchSpace& space, const Genome& partial, Rng& rng) {
  for (int attempt = 0; attempt < 64; ++attempt) {
    Genome g = partial;
    while (!space.is_terminal(g)) {
      const auto actions = space.actions(g);
      if (actions.empty()) break;
      g = space.apply(g, actions[std::uniform_int_distribution<std::size_t>(0, actions.size() - 1)(rng)]);
    }
    if (space.is_terminal(g) && space.is_valid(g)) return g;
  }
  return std::nullopt;
}

namespace {
bool keeps_decided(const Genome& partial, const Genome& g) {
  for (std::size_t i = 0; i < partial.size(); ++i)
    if (partial[i] != kUndecided && partial[i] != g[i]) return false;
  return true;
}
}  // namespace

std::optional<Genome> complete_from(const SearchSpace& space, const Genome& partial, const Genome& donor, int edits,
                                    Rng& rng) {
  Genome g = donor;
  for (std::size_t i = 0; i < partial.size(); ++i)
    if (partial[i] != kUndecided) g[i] = partial[i];
  if (!space.is_valid(g)) return std::nullopt;
  for (int e = 0; e < edits; ++e) {
    for (int attempt = 0; attempt < 8; ++attempt) {
      Genome m = space.mutate(g, rng);
      if (keeps_decided(partial, m)) {
        g = std::move(m);
        break;
      }
    }
  }
  return g;
}

std::vector<const Genome*> top_genomes(const std::vector<std::pair<double, Genome>>& evaluated, std::size_t k,
                                       int min_distance) {
  std::vector<const std::pair<double, Genome>*> order;
  order.reserve(evaluated.size());
  for (const auto& e : evaluated) order.push_back(&e);
  // Only the head of the ranking is ever needed: spread elites come from the best 16 k.
  const auto head = std::min(order.size(), min_distance > 0 ? 16 * k : k);
  // Ties broken by insertion order, so the choice is deterministic.
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(head), order.end(),
                    [](const auto* a, const auto* b) { return a->first > b->first || (a->first == b->first && a < b); });
  const auto distance = [](const Genome& a, const Genome& b) {
    int d = 0;
    for (std::size_t i = 0; i < a.size(); ++i) d += a[i] != b[i] ? 1 : 0;
    return d;
  };
  std::vector<const Genome*> result;
  for (std::size_t i = 0; i < head && result.size() < k; ++i) {
    const auto& g = order[i]->second;
    if (std::all_of(result.begin(), result.end(), [&](const Genome* r) { return distance(*r, g) >= min_distance; }))
      result.push_back(&g);
  }
  return result;
}

double Acquisition::score(const std::vector<double>& member_outputs) const {
  if (!predictor->trained()) return 0.0;
  if (member_weight == 1.0) return predictor->objective(member_outputs.at(member));
  const auto e = predictor->estimate(member_outputs);
  const double ucb = e.mean + kappa * e.stddev;
  if (member_weight == 0.0) return ucb;
  return member_weight * predictor->objective(member_outputs.at(member)) + (1.0 - member_weight) * ucb;
}

Acquisition make_acquisition(const SurrogateConfig& config, const Predictor& predictor, bool in_flight, Rng& rng) {
  Acquisition a;
  a.predictor = &predictor;
  a.kappa = config.kappa;
  a.member = std::uniform_int_distribution<std::size_t>(0, predictor.ensemble_size() - 1)(rng);
  a.member_weight = config.thompson ? 1.0 : in_flight ? config.thompson_in_flight : 0.0;
  return a;
}

std::size_t CandidateMemo::GenomeHash::operator()(const Genome& g) const {
  std::uint64_t h = 0x6a09e667f3bcc909ULL;
  for (const auto v : g) h = mix64(h ^ static_cast<std::uint64_t>(static_cast<std::uint32_t>(v)));
  return static_cast<std::size_t>(h);
}

CandidateMemo::Entry& CandidateMemo::entry(const SearchSpace& space, const Genome& g) {
  for (int i = 0; i < kFreedPerLookup && retired_next_ != retired_.end(); ++i) retired_next_ = retired_.erase(retired_next_);
  if (const auto it = entries_.find(g); it != entries_.end()) return it->second;
  if (entries_.size() >= kMaxEntries) {
    retired_.clear();  // normally empty by now: kMaxEntries lookups have freed kFreedPerLookup each
    retired_ = std::move(previous_);
    retired_next_ = retired_.begin();
    previous_ = std::move(entries_);
    entries_.clear();
  }
  if (auto node = previous_.extract(g); !node.empty()) return entries_.insert(std::move(node)).position->second;
  Entry e;
  e.valid = space.is_valid(g);
  if (e.valid) e.hash = space.canonical_hash(g);
  return entries_.emplace(g, e).first->second;
}

std::optional<std::uint64_t> CandidateMemo::hash(const SearchSpace& space, const Genome& g) {
  const auto& e = entry(space, g);
  if (!e.valid) return std::nullopt;
  return e.hash;
}

const std::vector<float>& CandidateMemo::encoding(const SearchSpace& space, const Genome& g) {
  auto& e = entry(space, g);
  if (e.encoding.empty()) e.encoding = space.encode(g);
  return e.encoding;
}

double CandidateMemo::score(const SearchSpace& space, const Genome& g, const Acquisition& acquisition) {
  if (!acquisition.predictor->trained()) return 0.0;
  auto& e = entry(space, g);
  const auto version = acquisition.predictor->trainings();
  if (e.scored_at != version) {
    if (e.encoding.empty()) e.encoding = space.encode(g);
    if (!e.has_priors) {  // the prior nets are fixed: their outputs are computed once per genome
      e.priors = acquisition.predictor->prior_outputs(e.encoding);
      e.has_priors = true;
    }
    e.outputs = acquisition.predictor->member_outputs(e.encoding, e.priors);
    e.scored_at = version;
  }
  return acquisition.score(e.outputs);
}

std::vector<Candidate> candidate_pool(const SearchSpace& space, const Genome& partial, const SurrogateConfig& config,
                                      const Acquisition& acquisition, const std::vector<const Genome*>& elite,
                                      const std::unordered_set<std::uint64_t>& seen, int count, int max_tries,
                                      const std::function<bool(const Genome&)>& accept, CandidateMemo& memo,
                                      Rng& rng) {
  std::vector<Candidate> pool;
  std::unordered_map<std::uint64_t, std::size_t> scored;  // class -> index in pool
  // The pool index of `g` (added and scored if new); nullopt when `g` is seen, invalid, above
  // `partial` or not accepted.
  const auto add = [&](Genome g) -> std::optional<std::size_t> {
    if (!keeps_decided(partial, g)) return std::nullopt;
    const auto valid_hash = memo.hash(space, g);
    if (!valid_hash) return std::nullopt;
    const auto h = *valid_hash;
    if (const auto it = scored.find(h); it != scored.end()) return it->second;
    if (seen.count(h) || !accept(g)) return std::nullopt;
    scored.emplace(h, pool.size());
    Candidate c{std::move(g), h, {}, 0.0};
    c.score = memo.score(space, c.genome, acquisition);
    pool.push_back(std::move(c));
    return pool.size() - 1;
  };
  // The incumbent's unseen neighbours, while it has any inside `partial` and `accept`, are the
  // whole pool: the next best cell is most often one edit from the best seen, and scoring distant
  // candidates against them is where the ensemble's optimism about unsampled regions wins.
  if (config.incumbent_first && !elite.empty()) {
    for (auto& n : space.neighbours(*elite.front()))
      if (const auto i = add(std::move(n))) pool[*i].next_to_incumbent = true;
    if (!pool.empty()) return pool;
  }
  // Sampled candidates: mutations (1-2 edits) of the elite, share local_fraction, else random completions.
  std::bernoulli_distribution local(config.local_fraction);
  std::uniform_int_distribution<int> edits(1, 2);
  for (int tries = 0; tries < max_tries && static_cast<int>(pool.size()) < count; ++tries) {
    std::optional<Genome> g;
    if (!elite.empty() && local(rng)) {
      const auto* donor = elite[std::uniform_int_distribution<std::size_t>(0, elite.size() - 1)(rng)];
      g = complete_from(space, partial, *donor, edits(rng), rng);
    } else {
      g = complete_randomly(space, partial, rng);
    }
    if (g) add(std::move(*g));
  }
  // Whole one-edit neighbourhoods of the best evaluated: sampling misses part of them.
  const auto whole = std::min(elite.size(), static_cast<std::size_t>(std::max(0, config.neighbourhoods)));
  for (std::size_t e = 0; e < whole; ++e)
    if (auto base = complete_from(space, partial, *elite[e], 0, rng))
      for (auto& n : space.neighbours(*base)) add(std::move(n));
  return pool;
}

std::optional<Candidate> best_candidate(const SearchSpace& space, const Genome& partial, const SurrogateConfig& config,
                                        const Acquisition& acquisition, const std::vector<const Genome*>& elite,
                                        const std::unordered_set<std::uint64_t>& seen, int count, int max_tries,
                                        const std::function<bool(const Genome&)>& accept, CandidateMemo& memo,
                                        Rng& rng) {
  auto pool = candidate_pool(space, partial, config, acquisition, elite, seen, count, max_tries, accept, memo, rng);
  if (pool.empty()) return std::nullopt;
  std::size_t best = 0;
  for (std::size_t i = 1; i < pool.size(); ++i)
    if (pool[i].score > pool[best].score) best = i;
  Candidate c = std::move(pool[best]);
  c.estimate = acquisition.predictor->predict(space.encode(c.genome));
  return c;
}

Genome unseen_sample(const SearchSpace& space, const std::unordered_set<std::uint64_t>& seen, Rng& rng,
                     const char* who, int max_tries) {
  for (int t = 0; t < max_tries; ++t) {
    Genome g = space.sample(rng);
    if (!seen.count(space.canonical_hash(g))) return g;
  }
  throw std::runtime_error(std::string(who) + ": " + std::to_string(max_tries) +
                           " random draws were all already proposed; the space '" + space.name() +
                           "' looks exhausted (lower the budget)");
}

void put_genomes(StateArchive& archive, const std::string& name, const std::vector<Genome>& genomes) {
  std::vector<std::int64_t> flat;
  std::vector<std::uint64_t> lengths;
  for (const auto& g : genomes) {
    lengths.push_back(g.size());
    flat.insert(flat.end(), g.begin(), g.end());
  }
  archive.put(name + "_values", flat);
  archive.put(name + "_lengths", lengths);
}

std::vector<Genome> get_genomes(const StateArchive& archive, const std::string& name) {
  const auto& flat = archive.ints(name + "_values");
  const auto& lengths = archive.uints(name + "_lengths");
  std::vector<Genome> genomes;
  std::size_t offset = 0;
  for (auto len : lengths) {
    if (offset + len > flat.size()) throw std::runtime_error("StateArchive: genome list '" + name + "' is truncated");
    genomes.emplace_back(flat.begin() + static_cast<std::ptrdiff_t>(offset),
                         flat.begin() + static_cast<std::ptrdiff_t>(offset + len));
    offset += len;
  }
  return genomes;
}

void put_hashes(StateArchive& archive, const std::string& name, const std::unordered_set<std::uint64_t>& set) {
  std::vector<std::uint64_t> v(set.begin(), set.end());
  std::sort(v.begin(), v.end());
  archive.put(name, v);
}

std::unordered_set<std::uint64_t> get_hashes(const StateArchive& archive, const std::string& name) {
  const auto& v = archive.uints(name);
  return {v.begin(), v.end()};
}

void put_evaluated(StateArchive& archive, const std::vector<std::pair<double, Genome>>& evaluated) {
  std::vector<double> rewards;
  std::vector<Genome> genomes;
  for (const auto& [r, g] : evaluated) {
    rewards.push_back(r);
    genomes.push_back(g);
  }
  archive.put("evaluated_rewards", rewards);
  put_genomes(archive, "evaluated", genomes);
}

std::vector<std::pair<double, Genome>> get_evaluated(const StateArchive& archive) {
  const auto& rewards = archive.doubles("evaluated_rewards");
  auto genomes = get_genomes(archive, "evaluated");
  if (rewards.size() != genomes.size()) throw std::runtime_error("StateArchive: evaluated lists differ in length");
  std::vector<std::pair<double, Genome>> result;
  for (std::size_t i = 0; i < rewards.size(); ++i) result.emplace_back(rewards[i], std::move(genomes[i]));
  return result;
}

}  // namespace alphax::search::detail
