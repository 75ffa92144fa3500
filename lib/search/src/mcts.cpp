#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <tuple>
#include <stdexcept>

#include "alphax/search/strategies.hpp"
#include "surrogate.hpp"

namespace alphax::search {

double uct_score(double z_mean, double n_parent, double n_child, double cp) {
  return z_mean + 2.0 * cp * std::sqrt(2.0 * std::log(std::max(1.0, n_parent)) / n_child);
}

// ---------------------------------------------------------------- tree

MctsTree::MctsTree(const SearchSpace& space) : space_(&space) {
  Node root;
  root.partial = space.root();
  nodes_.push_back(std::move(root));
}

std::int32_t MctsTree::find_child(std::int32_t parent, const Action& action) const {
  for (const auto& [a, index] : node(parent).children)
    if (a == action) return index;
  return -1;
}

std::int32_t MctsTree::child(std::int32_t parent, const Action& action) {
  if (const auto existing = find_child(parent, action); existing >= 0) return existing;
  Node n;
  n.partial = space_->apply(nodes_.at(static_cast<std::size_t>(parent)).partial, action);
  n.parent = parent;
  const auto index = static_cast<std::int32_t>(nodes_.size());
  nodes_[static_cast<std::size_t>(parent)].children.emplace_back(action, index);
  nodes_.push_back(std::move(n));
  return index;
}

void MctsTree::remove_last_leaf(std::int32_t index) {
  if (index != static_cast<std::int32_t>(nodes_.size()) - 1 || !nodes_.back().children.empty())
    throw std::logic_error("MctsTree::remove_last_leaf: node " + std::to_string(index) + " is not the newest leaf");
  auto& siblings = nodes_.at(static_cast<std::size_t>(nodes_.back().parent)).children;
  std::erase_if(siblings, [&](const auto& child) { return child.second == index; });
  nodes_.pop_back();
}

void MctsTree::backpropagate(const std::vector<std::int32_t>& path, double visits, double value) {
  for (const auto index : path) {
    auto& n = nodes_.at(static_cast<std::size_t>(index));
    n.visits += visits;
    n.value_sum += value;
  }
}

std::int32_t MctsTree::select(std::int32_t parent, const std::vector<Option>& options, double cp, double mean,
                              double scale, bool mean_value) const {
  const double n_parent = node(parent).visits + 1.0;
  std::int32_t best = -1;
  double best_score = -std::numeric_limits<double>::infinity();
  for (std::size_t k = 0; k < options.size(); ++k) {
    const auto& o = options[k];
    const auto index = find_child(parent, o.action);
    const double visits = index >= 0 ? node(index).visits : 0.0;
    const double value_sum = index >= 0 ? node(index).value_sum : 0.0;
    const double x = mean_value ? (value_sum + o.rollout) / (visits + 1.0) : o.rollout;
    const double score = uct_score((x - mean) / scale, n_parent, visits + 1.0, cp);
    const auto& incumbent = best >= 0 ? options[static_cast<std::size_t>(best)].action : o.action;
    const bool lower = o.action.position < incumbent.position ||
                       (o.action.position == incumbent.position && o.action.value < incumbent.value);
    if (best < 0 || score > best_score || (score == best_score && lower)) {
      best = static_cast<std::int32_t>(k);
      best_score = score;
    }
  }
  return best;
}

void MctsTree::save(StateArchive& archive) const {
  std::vector<Genome> partials;
  std::vector<std::int64_t> parent, child_index, child_position, child_value;
  std::vector<std::uint64_t> child_count;
  std::vector<double> visits, values;
  for (const auto& n : nodes_) {
    partials.push_back(n.partial);
    parent.push_back(n.parent);
    visits.push_back(n.visits);
    values.push_back(n.value_sum);
    child_count.push_back(n.children.size());
    for (const auto& [a, index] : n.children) {
      child_position.push_back(a.position);
      child_value.push_back(a.value);
      child_index.push_back(index);
    }
  }
  detail::put_genomes(archive, "partial", partials);
  archive.put("parent", parent);
  archive.put("visits", visits);
  archive.put("value_sum", values);
  archive.put("child_count", child_count);
  archive.put("child_position", child_position);
  archive.put("child_value", child_value);
  archive.put("child_index", child_index);
}

void MctsTree::load(const StateArchive& archive) {
  const auto partials = detail::get_genomes(archive, "partial");
  const auto& parent = archive.ints("parent");
  const auto& visits = archive.doubles("visits");
  const auto& values = archive.doubles("value_sum");
  const auto& child_count = archive.uints("child_count");
  const auto& child_position = archive.ints("child_position");
  const auto& child_value = archive.ints("child_value");
  const auto& child_index = archive.ints("child_index");
  nodes_.clear();
  std::size_t c = 0;
  for (std::size_t i = 0; i < partials.size(); ++i) {
    Node n;
    n.partial = partials[i];
    n.parent = static_cast<std::int32_t>(parent.at(i));
    n.visits = visits.at(i);
    n.value_sum = values.at(i);
    for (std::uint64_t k = 0; k < child_count.at(i); ++k, ++c)
      n.children.emplace_back(Action{static_cast<std::int32_t>(child_position.at(c)), static_cast<std::int32_t>(child_value.at(c))},
                              static_cast<std::int32_t>(child_index.at(c)));
    nodes_.push_back(std::move(n));
  }
  if (nodes_.empty()) throw std::runtime_error("MctsTree::load: the archive holds no root");
}

// ---------------------------------------------------------------- strategy

MctsStrategy::MctsStrategy(const SearchSpace& space, MctsConfig config, std::uint64_t seed)
    : config_(config),
      space_(&space),
      rng_(seed),
      tree_(space),
      predictor_(space.encoding_size(), config.surrogate.predictor, mix_seed(seed)),
      memo_(std::make_unique<detail::CandidateMemo>()) {}

MctsStrategy::~MctsStrategy() = default;

std::uint64_t MctsStrategy::mix_seed(std::uint64_t seed) { return seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL; }

const std::vector<std::int32_t>& MctsStrategy::path_of(std::uint64_t proposal_id) const {
  const auto it = pending_.find(proposal_id);
  if (it == pending_.end())
    throw std::out_of_range("MctsStrategy::path_of: proposal " + std::to_string(proposal_id) + " is not pending");
  return it->second.path;
}

std::vector<std::int32_t> MctsStrategy::path_for(const Genome& genome) {
  // Follows the tree along `genome`'s decisions, expanding at most one new node.
  std::vector<std::int32_t> path{0};
  std::int32_t node = 0;
  while (!space_->is_terminal(tree_.node(node).partial)) {
    const auto position = space_->actions(tree_.node(node).partial).front().position;
    const Action next{position, genome[static_cast<std::size_t>(position)]};
    const bool expanded = tree_.find_child(node, next) >= 0;
    node = tree_.child(node, next);
    path.push_back(node);
    if (!expanded) break;
  }
  return path;
}

std::pair<Genome, std::vector<std::int32_t>> MctsStrategy::search_tree(double mean, double scale) {
  const auto elite = detail::top_genomes(evaluated_, static_cast<std::size_t>(config_.surrogate.elite),
                                         config_.surrogate.elite_distance);
  const auto acquisition = detail::make_acquisition(config_.surrogate, predictor_, !pending_.empty(), rng_);
  const auto accept_all = [](const Genome&) { return true; };
  // The best unseen completion of `partial` among `rollout_candidates` more rollouts there.
  const auto best_below = [&](const Genome& partial) {
    return detail::best_candidate(*space_, partial, config_.surrogate, acquisition, elite, seen_,
                                  config_.rollout_candidates, 4 * config_.rollout_candidates, accept_all, *memo_, rng_);
  };
  // Rollouts from the root: one scored pool serves the values of every child on the way down.
  const auto pool = detail::candidate_pool(*space_, space_->root(), config_.surrogate, acquisition, elite, seen_,
                                           config_.surrogate.candidates, 4 * config_.surrogate.candidates, accept_all,
                                           *memo_, rng_);
  if (pool.empty()) return {};
  std::vector<const detail::Candidate*> below;
  for (const auto& c : pool) below.push_back(&c);
  // With preemption a dispatched proposal is taken at once: the values show only what is still to
  // draw. Without it the tree learns of a proposal only from its result, so the in-flight
  // proposals still count in the values of the nodes above them (only the final pick skips them).
  std::vector<detail::Candidate> in_flight;
  if (!config_.preemptive) {
    in_flight.reserve(pending_.size());
    for (const auto& [id, pe] : pending_)
      if (!pe.genome.empty())
        in_flight.push_back({pe.genome, *memo_->hash(*space_, pe.genome), {}, memo_->score(*space_, pe.genome, acquisition)});
    for (const auto& c : in_flight) below.push_back(&c);
  }
  std::vector<std::int32_t> path{0};
  std::int32_t node = 0;
  bool expanded_now = false;
  while (!space_->is_terminal(tree_.node(node).partial)) {
    const auto position = space_->actions(tree_.node(node).partial).front().position;
    std::map<std::int32_t, double> rollout;  // value at `position` -> best score below that child
    for (const auto* c : below) {
      const auto v = c->genome[static_cast<std::size_t>(position)];
      const auto it = rollout.find(v);
      if (it == rollout.end() || c->score > it->second) rollout[v] = c->score;
    }
    std::vector<MctsTree::Option> options;
    for (const auto& [value, score] : rollout) options.push_back({{position, value}, score});
    const auto chosen = options[static_cast<std::size_t>(
                                    tree_.select(node, options, config_.cp, mean, scale, config_.mean_value))]
                            .action;
    std::erase_if(below, [&](const auto* c) { return c->genome[static_cast<std::size_t>(position)] != chosen.value; });
    expanded_now = tree_.find_child(node, chosen) < 0;
    node = tree_.child(node, chosen);
    path.push_back(node);
    if (expanded_now) break;  // expansion ends the selection
  }
  // More rollouts below the selected node; the best completion there is the proposal.
  std::optional<detail::Candidate> best;
  for (const auto* c : below)
    if ((!best || c->score > best->score) && !seen_.count(c->hash)) best = *c;
  // While climbing (incumbent_first), `below` already holds every unseen neighbour of the
  // incumbent under the node, which is all that a second pool there would hold.
  if (!best || !best->next_to_incumbent) {
    auto extra = best_below(tree_.node(node).partial);
    if (extra && (!best || extra->score > best->score)) best = std::move(extra);
  }
  // Everything left below the selected node is in flight (only without preemption, whose values
  // still count it): the proposal comes from below the nearest ancestor that holds something else,
  // and a node expanded for this selection is taken back (expansion would end later selections there).
  while (!best && path.size() > 1) {
    if (expanded_now) tree_.remove_last_leaf(path.back());
    expanded_now = false;
    path.pop_back();
    best = best_below(tree_.node(path.back()).partial);
  }
  if (!best) return {};
  return {std::move(best->genome), std::move(path)};
}

Proposal MctsStrategy::propose() {
  const double count = static_cast<double>(evaluated_.size());
  const double mean = count > 0 ? sum_ / count : 0.0;
  const double var = count > 1 ? std::max(0.0, sum_sq_ / count - mean * mean) : 0.0;
  const double scale = var > 1e-12 ? std::sqrt(var) : 1.0;
  const bool warm = evaluated_.size() >= static_cast<std::size_t>(config_.surrogate.initial_random) &&
                    predictor_.trained();
  Proposal p;
  p.id = next_id_++;
  Pending pending;
  if (warm) std::tie(p.genome, pending.path) = search_tree(mean, scale);
  if (p.genome.empty()) {  // warm-up, or no unseen architecture found by the rollouts: a uniform draw
    p.genome = detail::unseen_sample(*space_, seen_, rng_, "MctsStrategy::propose");
    pending.path = path_for(p.genome);
  }
  p.predicted = predictor_.trained() ? predictor_.predict(space_->encode(p.genome)).mean : mean;
  pending.predicted = p.predicted;
  pending.genome = p.genome;
  seen_.insert(space_->canonical_hash(p.genome));
  pending_.emplace(p.id, std::move(pending));
  return p;
}

void MctsStrategy::on_dispatch(const Proposal& proposal) {
  const auto it = pending_.find(proposal.id);
  if (it == pending_.end() || it->second.dispatched || !config_.preemptive) return;
  tree_.backpropagate(it->second.path, 1.0, it->second.predicted);
  it->second.dispatched = true;
}

void MctsStrategy::on_result(const Proposal& proposal, const EvalResult& result) {
  const double worst = evaluated_.empty()
                           ? 0.0
                           : std::min_element(evaluated_.begin(), evaluated_.end())->first;
  const double value = reward_of(result, worst);
  if (const auto it = pending_.find(proposal.id); it != pending_.end()) {
    if (it->second.dispatched)
      tree_.backpropagate(it->second.path, 0.0, value - it->second.predicted);  // replace the prediction
    else
      tree_.backpropagate(it->second.path, 1.0, value);
    pending_.erase(it);
  }
  seen_.insert(space_->canonical_hash(proposal.genome));
  evaluated_.emplace_back(value, proposal.genome);
  sum_ += value;
  sum_sq_ += value * value;
  predictor_.add(space_->encode(proposal.genome), value);
}

void MctsStrategy::save(StateArchive& archive) const {
  archive.put("strategy", std::string("mcts"));
  archive.put_scalar("next_id", next_id_);
  archive.put("sums", std::vector<double>{sum_, sum_sq_});
  tree_.save(archive.child("tree"));
  predictor_.save(archive.child("predictor"));
  detail::put_hashes(archive, "seen", seen_);
  detail::put_evaluated(archive, evaluated_);
  std::vector<std::uint64_t> ids, dispatched;
  std::vector<double> predicted;
  std::vector<Genome> paths, genomes;
  for (const auto& [id, pe] : pending_) {
    ids.push_back(id);
    dispatched.push_back(pe.dispatched ? 1 : 0);
    predicted.push_back(pe.predicted);
    paths.emplace_back(pe.path.begin(), pe.path.end());
    genomes.push_back(pe.genome);
  }
  auto& pend = archive.child("pending");
  pend.put("ids", ids);
  pend.put("dispatched", dispatched);
  pend.put("predicted", predicted);
  detail::put_genomes(pend, "path", paths);
  detail::put_genomes(pend, "genome", genomes);
  save_rng(archive, "rng", rng_);
}

void MctsStrategy::load(const StateArchive& archive) {
  if (archive.text("strategy") != "mcts")
    throw std::runtime_error("MctsStrategy::load: the archive holds strategy '" + archive.text("strategy") + "'");
  next_id_ = archive.scalar_uint("next_id");
  const auto& sums = archive.doubles("sums");
  sum_ = sums.at(0);
  sum_sq_ = sums.at(1);
  tree_.load(archive.child("tree"));
  predictor_.load(archive.child("predictor"));
  seen_ = detail::get_hashes(archive, "seen");
  evaluated_ = detail::get_evaluated(archive);
  const auto& pend = archive.child("pending");
  const auto& ids = pend.uints("ids");
  const auto& dispatched = pend.uints("dispatched");
  const auto& predicted = pend.doubles("predicted");
  const auto paths = detail::get_genomes(pend, "path");
  // Checkpoints written before session 20 hold no in-flight genomes; without preemption those
  // proposals then count in the tree only once their results are in.
  const auto genomes = pend.has_entry("genome_values") ? detail::get_genomes(pend, "genome")
                                                       : std::vector<Genome>(ids.size());
  for (std::size_t i = 0; i < genomes.size(); ++i)
    if (!genomes[i].empty() && !space_->is_valid(genomes[i]))
      throw std::runtime_error("MctsStrategy::load: in-flight proposal " + std::to_string(ids.at(i)) +
                               " holds an invalid architecture for space '" + space_->name() +
                               "': the checkpoint is damaged or belongs to another space");
  pending_.clear();
  for (std::size_t i = 0; i < ids.size(); ++i)
    pending_.emplace(ids[i], Pending{std::vector<std::int32_t>(paths.at(i).begin(), paths.at(i).end()),
                                     predicted.at(i), dispatched.at(i) != 0, genomes.at(i)});
  load_rng(archive, "rng", rng_);
  memo_->clear();  // the loaded predictor may differ from the one the memo's scores came from
}

}  // namespace alphax::search
