#include <algorithm>
#include <stdexcept>

#include "alphax/search/strategies.hpp"
#include "surrogate.hpp"

namespace alphax::search {

double reward_of(const EvalResult& result, double fallback) {
  return result.status == EvalStatus::ok ? result.objective : fallback;
}

// ---------------------------------------------------------------- random search

RandomSearch::RandomSearch(const SearchSpace& space, std::uint64_t seed) : space_(&space), rng_(seed) {}

Proposal RandomSearch::propose() {
  Proposal p;
  p.id = next_id_++;
  p.genome = detail::unseen_sample(*space_, proposed_, rng_, "RandomSearch::propose");
  proposed_.insert(space_->canonical_hash(p.genome));
  return p;
}

void RandomSearch::on_dispatch(const Proposal& /*proposal*/) {}
void RandomSearch::on_result(const Proposal& /*proposal*/, const EvalResult& /*result*/) {}

void RandomSearch::save(StateArchive& archive) const {
  archive.put("strategy", std::string("random"));
  archive.put_scalar("next_id", next_id_);
  detail::put_hashes(archive, "proposed", proposed_);
  save_rng(archive, "rng", rng_);
}

void RandomSearch::load(const StateArchive& archive) {
  if (archive.text("strategy") != "random")
    throw std::runtime_error("RandomSearch::load: the archive holds strategy '" + archive.text("strategy") + "'");
  next_id_ = archive.scalar_uint("next_id");
  proposed_ = detail::get_hashes(archive, "proposed");
  load_rng(archive, "rng", rng_);
}

// ---------------------------------------------------------------- regularized evolution

RegularizedEvolution::RegularizedEvolution(const SearchSpace& space, EvolutionConfig config, std::uint64_t seed)
    : space_(&space), config_(config), rng_(seed) {
  if (config_.population < 1 || config_.tournament < 1 || config_.tournament > config_.population)
    throw std::invalid_argument("RegularizedEvolution: need 1 <= tournament <= population");
}

Proposal RegularizedEvolution::propose() {
  Proposal p;
  p.id = next_id_++;
  const bool stalled = config_.stall_limit > 0 && since_dispatch_ >= static_cast<std::uint64_t>(config_.stall_limit);
  ++since_dispatch_;
  if (proposed_random_ < static_cast<std::uint64_t>(config_.population) || population_.empty() || stalled) {
    if (!stalled) ++proposed_random_;
    p.genome = space_->sample(rng_);
    return p;
  }
  // Tournament: `tournament` distinct members drawn uniformly; the fittest (oldest on ties) is the parent.
  std::vector<std::size_t> index(population_.size());
  for (std::size_t i = 0; i < index.size(); ++i) index[i] = i;
  const auto k = std::min<std::size_t>(static_cast<std::size_t>(config_.tournament), index.size());
  std::size_t parent = index.size();
  for (std::size_t i = 0; i < k; ++i) {
    const auto j = std::uniform_int_distribution<std::size_t>(i, index.size() - 1)(rng_);
    std::swap(index[i], index[j]);
    if (parent == index.size() || population_[index[i]].fitness > population_[parent].fitness ||
        (population_[index[i]].fitness == population_[parent].fitness && index[i] < parent))
      parent = index[i];
  }
  p.genome = space_->mutate(population_[parent].genome, rng_);
  return p;
}

void RegularizedEvolution::on_dispatch(const Proposal& /*proposal*/) { since_dispatch_ = 0; }

void RegularizedEvolution::on_result(const Proposal& proposal, const EvalResult& result) {
  const double fitness = reward_of(result, worst_);
  if (result.status == EvalStatus::ok) worst_ = population_.empty() ? fitness : std::min(worst_, fitness);
  population_.push_back({proposal.genome, fitness});
  if (population_.size() > static_cast<std::size_t>(config_.population)) population_.erase(population_.begin());
}

void RegularizedEvolution::save(StateArchive& archive) const {
  archive.put("strategy", std::string("evolution"));
  archive.put("counters", std::vector<std::uint64_t>{next_id_, proposed_random_, since_dispatch_});
  std::vector<Genome> genomes;
  std::vector<double> fitness;
  for (const auto& m : population_) {
    genomes.push_back(m.genome);
    fitness.push_back(m.fitness);
  }
  detail::put_genomes(archive, "population", genomes);
  archive.put("fitness", fitness);
  archive.put_scalar("worst", worst_);
  save_rng(archive, "rng", rng_);
}

void RegularizedEvolution::load(const StateArchive& archive) {
  if (archive.text("strategy") != "evolution")
    throw std::runtime_error("RegularizedEvolution::load: the archive holds strategy '" + archive.text("strategy") + "'");
  const auto& counters = archive.uints("counters");
  next_id_ = counters.at(0);
  proposed_random_ = counters.at(1);
  since_dispatch_ = counters.size() > 2 ? counters[2] : 0;  // archives before stall_limit lack it
  const auto genomes = detail::get_genomes(archive, "population");
  const auto& fitness = archive.doubles("fitness");
  population_.clear();
  for (std::size_t i = 0; i < genomes.size(); ++i) population_.push_back({genomes[i], fitness.at(i)});
  worst_ = archive.scalar_double("worst");
  load_rng(archive, "rng", rng_);
}

}  // namespace alphax::search
