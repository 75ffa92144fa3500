#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "alphax/search/strategies.hpp"
#include "surrogate.hpp"

namespace alphax::search {

namespace {

/// Ridge regression y ~ w.x + b in closed form (normal equations, Gaussian elimination with
/// partial pivoting); returns d weights followed by the bias.
std::vector<double> fit_linear(const std::vector<std::vector<float>>& x, const std::vector<double>& y,
                               const std::vector<std::size_t>& rows, double ridge) {
  const std::size_t d = x.front().size() + 1;
  std::vector<double> a(d * d, 0.0), rhs(d, 0.0), f(d);
  for (const auto r : rows) {
    for (std::size_t j = 0; j + 1 < d; ++j) f[j] = x[r][j];
    f[d - 1] = 1.0;
    for (std::size_t i = 0; i < d; ++i) {
      if (f[i] == 0.0) continue;
      rhs[i] += f[i] * y[r];
      for (std::size_t j = 0; j < d; ++j) a[i * d + j] += f[i] * f[j];
    }
  }
  for (std::size_t i = 0; i + 1 < d; ++i) a[i * d + i] += ridge * static_cast<double>(rows.size());
  a[(d - 1) * d + (d - 1)] += 1e-9;
  for (std::size_t col = 0; col < d; ++col) {
    std::size_t pivot = col;
    for (std::size_t r = col + 1; r < d; ++r)
      if (std::abs(a[r * d + col]) > std::abs(a[pivot * d + col])) pivot = r;
    if (std::abs(a[pivot * d + col]) < 1e-15) continue;
    if (pivot != col) {
      for (std::size_t j = 0; j < d; ++j) std::swap(a[col * d + j], a[pivot * d + j]);
      std::swap(rhs[col], rhs[pivot]);
    }
    for (std::size_t r = 0; r < d; ++r) {
      if (r == col) continue;
      const double factor = a[r * d + col] / a[col * d + col];
      if (factor == 0.0) continue;
      for (std::size_t j = col; j < d; ++j) a[r * d + j] -= factor * a[col * d + j];
      rhs[r] -= factor * rhs[col];
    }
  }
  std::vector<double> w(d, 0.0);
  for (std::size_t i = 0; i < d; ++i)
    if (std::abs(a[i * d + i]) >= 1e-15) w[i] = rhs[i] / a[i * d + i];
  return w;
}

double linear(const std::vector<double>& w, const std::vector<float>& x) {
  double s = w.back();
  for (std::size_t j = 0; j < x.size(); ++j) s += w[j] * static_cast<double>(x[j]);
  return s;
}

}  // namespace

// ---------------------------------------------------------------- tree

std::int32_t LanasTree::add_node(Node node) {
  nodes_.push_back(std::move(node));
  return static_cast<std::int32_t>(nodes_.size()) - 1;
}

bool LanasTree::goes_left(const Node& node, const std::vector<float>& x) const {
  return linear(node.weights, x) >= node.threshold;
}

std::vector<std::int32_t> LanasTree::build(const std::vector<std::vector<float>>& x, const std::vector<double>& y,
                                           const LanasConfig& config) {
  nodes_.clear();
  std::vector<std::int32_t> leaf_of(x.size(), 0);
  if (x.empty()) {
    add_node({});
    return leaf_of;
  }
  struct Work {
    std::int32_t node;
    std::int32_t depth;
    std::vector<std::size_t> rows;
  };
  std::vector<std::size_t> all(x.size());
  std::iota(all.begin(), all.end(), 0);
  add_node({});
  std::vector<Work> stack{{0, 0, std::move(all)}};
  while (!stack.empty()) {
    Work w = std::move(stack.back());
    stack.pop_back();
    {
      auto& n = nodes_[static_cast<std::size_t>(w.node)];
      n.visits = static_cast<double>(w.rows.size());
      n.value_sum = 0.0;
      for (const auto r : w.rows) n.value_sum += y[r];
    }
    for (const auto r : w.rows) leaf_of[r] = w.node;
    if (w.depth >= config.max_depth || static_cast<std::int32_t>(w.rows.size()) < config.min_split) continue;
    auto weights = fit_linear(x, y, w.rows, config.ridge);
    double threshold = 0.0;
    for (const auto r : w.rows) threshold += linear(weights, x[r]);
    threshold /= static_cast<double>(w.rows.size());
    std::vector<std::size_t> good, bad;
    for (const auto r : w.rows) (linear(weights, x[r]) >= threshold ? good : bad).push_back(r);
    if (good.empty() || bad.empty()) continue;
    Node left, right;
    left.parent = right.parent = w.node;
    const auto l = add_node(std::move(left));
    const auto r = add_node(std::move(right));
    auto& n = nodes_[static_cast<std::size_t>(w.node)];
    n.weights = std::move(weights);
    n.threshold = threshold;
    n.left = l;
    n.right = r;
    stack.push_back({r, w.depth + 1, std::move(bad)});
    stack.push_back({l, w.depth + 1, std::move(good)});
  }
  return leaf_of;
}

std::vector<std::int32_t> LanasTree::route(const std::vector<float>& x) const {
  std::vector<std::int32_t> path;
  if (nodes_.empty()) return path;
  std::int32_t i = 0;
  path.push_back(i);
  while (!is_leaf(i)) {
    i = goes_left(node(i), x) ? node(i).left : node(i).right;
    path.push_back(i);
  }
  return path;
}

bool LanasTree::in_region(std::int32_t index, const std::vector<float>& x) const {
  for (std::int32_t child = index, parent = node(index).parent; parent >= 0; child = parent, parent = node(parent).parent)
    if (goes_left(node(parent), x) != (node(parent).left == child)) return false;
  return true;
}

bool LanasTree::subtree_open(std::int32_t index) const {
  if (is_leaf(index)) return !node(index).drained;
  return subtree_open(node(index).left) || subtree_open(node(index).right);
}

std::vector<std::int32_t> LanasTree::select(double cp, double mean, double scale) const {
  std::vector<double> values(nodes_.size(), -std::numeric_limits<double>::infinity());
  for (std::size_t i = nodes_.size(); i-- > 0;) {
    const auto index = static_cast<std::int32_t>(i);
    const auto& n = nodes_[i];
    if (!subtree_open(index)) continue;
    values[i] = n.visits > 0.0 ? n.value_sum / n.visits : std::numeric_limits<double>::infinity();
  }
  return select(cp, mean, scale, values);
}

std::vector<std::int32_t> LanasTree::select(double cp, double mean, double scale, const std::vector<double>& values) const {
  std::vector<std::int32_t> path;
  if (nodes_.empty() || values.size() != nodes_.size() || values[0] == -std::numeric_limits<double>::infinity())
    return path;
  std::int32_t i = 0;
  path.push_back(i);
  while (!is_leaf(i)) {
    const auto& n = node(i);
    std::int32_t best = -1;
    double best_score = -std::numeric_limits<double>::infinity();
    for (const auto c : {n.left, n.right}) {  // left (good) first: it wins ties
      const double x = values[static_cast<std::size_t>(c)];
      if (x == -std::numeric_limits<double>::infinity()) continue;  // closed
      const auto& child = node(c);
      const double score = child.visits <= 0.0 || x == std::numeric_limits<double>::infinity()
                               ? std::numeric_limits<double>::infinity()
                               : uct_score((x - mean) / scale, n.visits, child.visits, cp);
      if (best < 0 || score > best_score) {
        best = c;
        best_score = score;
      }
    }
    if (best < 0) return {};
    i = best;
    path.push_back(i);
  }
  return path;
}

void LanasTree::backpropagate(const std::vector<std::int32_t>& path, double visits, double value) {
  for (const auto i : path) {
    nodes_.at(static_cast<std::size_t>(i)).visits += visits;
    nodes_.at(static_cast<std::size_t>(i)).value_sum += value;
  }
}

void LanasTree::save(StateArchive& archive) const {
  std::vector<std::int64_t> links, drained;
  std::vector<double> weights, stats;
  std::vector<std::uint64_t> weight_count;
  for (const auto& n : nodes_) {
    links.insert(links.end(), {n.left, n.right, n.parent});
    drained.push_back(n.drained ? 1 : 0);
    stats.insert(stats.end(), {n.threshold, n.visits, n.value_sum});
    weight_count.push_back(n.weights.size());
    weights.insert(weights.end(), n.weights.begin(), n.weights.end());
  }
  archive.put("links", links);
  archive.put("drained", drained);
  archive.put("stats", stats);
  archive.put("weights", weights);
  archive.put("weight_count", weight_count);
}

void LanasTree::load(const StateArchive& archive) {
  const auto& links = archive.ints("links");
  const auto& drained = archive.ints("drained");
  const auto& stats = archive.doubles("stats");
  const auto& weights = archive.doubles("weights");
  const auto& weight_count = archive.uints("weight_count");
  nodes_.clear();
  std::size_t w = 0;
  for (std::size_t i = 0; i < drained.size(); ++i) {
    Node n;
    n.left = static_cast<std::int32_t>(links.at(3 * i));
    n.right = static_cast<std::int32_t>(links.at(3 * i + 1));
    n.parent = static_cast<std::int32_t>(links.at(3 * i + 2));
    n.drained = drained[i] != 0;
    n.threshold = stats.at(3 * i);
    n.visits = stats.at(3 * i + 1);
    n.value_sum = stats.at(3 * i + 2);
    n.weights.assign(weights.begin() + static_cast<std::ptrdiff_t>(w),
                     weights.begin() + static_cast<std::ptrdiff_t>(w + weight_count.at(i)));
    w += weight_count[i];
    nodes_.push_back(std::move(n));
  }
}

// ---------------------------------------------------------------- strategy

LanasStrategy::LanasStrategy(const SearchSpace& space, LanasConfig config, std::uint64_t seed)
    : config_(config),
      space_(&space),
      rng_(seed),
      predictor_(space.encoding_size(), config.surrogate.predictor, seed * 0x9e3779b97f4a7c15ULL + 0x1f83d9abfb41bd6bULL),
      memo_(std::make_unique<detail::CandidateMemo>()) {
  tree_.add_node({});
}

LanasStrategy::~LanasStrategy() = default;

const std::vector<std::int32_t>& LanasStrategy::path_of(std::uint64_t proposal_id) const {
  const auto it = pending_.find(proposal_id);
  if (it == pending_.end())
    throw std::out_of_range("LanasStrategy::path_of: proposal " + std::to_string(proposal_id) + " is not pending");
  return it->second.path;
}

void LanasStrategy::rebuild() {
  since_rebuild_ = 0;
  std::vector<std::vector<float>> x;
  std::vector<double> y;
  for (const auto& [reward, genome] : evaluated_) {
    x.push_back(space_->encode(genome));
    y.push_back(reward);
  }
  const auto leaf_of = tree_.build(x, y, config_);
  leaf_members_.clear();
  for (std::size_t i = 0; i < leaf_of.size(); ++i) leaf_members_[leaf_of[i]].push_back(i);
  // Evaluations in flight count with their predicted reward along their new paths.
  for (auto& [id, pe] : pending_) {
    (void)id;
    if (!pe.dispatched) continue;
    pe.path = tree_.route(pe.encoding);
    tree_.backpropagate(pe.path, 1.0, pe.predicted);
  }
}

Proposal LanasStrategy::propose() {
  const double count = static_cast<double>(evaluated_.size());
  const double mean = count > 0 ? sum_ / count : 0.0;
  const double var = count > 1 ? std::max(0.0, sum_sq_ / count - mean * mean) : 0.0;
  const double scale = var > 1e-12 ? std::sqrt(var) : 1.0;
  const bool warm = evaluated_.size() >= static_cast<std::size_t>(config_.surrogate.initial_random) &&
                    predictor_.trained();
  Proposal p;
  p.id = next_id_++;
  Pending pending;
  if (warm) {
    // x̄ of a region is what can still be drawn from it: the best meta-DNN score among unseen
    // candidates that route into it (not the mean of what was already evaluated there).
    const auto acquisition = detail::make_acquisition(config_.surrogate, predictor_, !pending_.empty(), rng_);
    const auto elite = detail::top_genomes(evaluated_, static_cast<std::size_t>(config_.surrogate.elite),
                                           config_.surrogate.elite_distance);
    const auto accept_all = [](const Genome&) { return true; };
    auto pool = detail::candidate_pool(*space_, space_->root(), config_.surrogate, acquisition, elite, seen_,
                                       config_.surrogate.candidates, 4 * config_.surrogate.candidates, accept_all, *memo_,
                                       rng_);
    std::vector<double> values(tree_.size(), -std::numeric_limits<double>::infinity());
    std::vector<std::int32_t> leaf_of(pool.size());
    for (std::size_t c = 0; c < pool.size(); ++c) {
      const auto path = tree_.route(memo_->encoding(*space_, pool[c].genome));
      leaf_of[c] = path.back();
      for (const auto n : path) values[static_cast<std::size_t>(n)] = std::max(values[static_cast<std::size_t>(n)], pool[c].score);
    }
    const auto path = tree_.select(config_.cp, mean, scale, values);
    if (!path.empty()) {
      const auto leaf = path.back();
      // Candidates of the chosen leaf: the pool's, plus mutations of the leaf's own members
      // kept only when they stay inside the region.
      std::optional<detail::Candidate> best;
      for (std::size_t c = 0; c < pool.size(); ++c)
        if (leaf_of[c] == leaf && (!best || pool[c].score > best->score)) best = pool[c];
      std::vector<std::pair<double, Genome>> members;
      if (const auto it = leaf_members_.find(leaf); it != leaf_members_.end())
        for (const auto i : it->second) members.push_back(evaluated_[i]);
      const auto donors = detail::top_genomes(members, static_cast<std::size_t>(config_.surrogate.elite));
      // While the pool is the incumbent's neighbourhood (incumbent_first), the leaf's best
      // neighbour of the incumbent is the proposal: the region's own members are not searched.
      const bool climbing = best && best->next_to_incumbent;
      if (!donors.empty() && !climbing) {
        auto local = config_.surrogate;
        local.local_fraction = 1.0;
        local.incumbent_first = false;  // the donors are the leaf's, not the incumbent
        const auto in_leaf = [&](const Genome& g) { return tree_.in_region(leaf, memo_->encoding(*space_, g)); };
        const int n = std::max(1, config_.surrogate.candidates / 4);
        auto extra = detail::best_candidate(*space_, space_->root(), local, acquisition, donors, seen_, n, 4 * n, in_leaf,
                                            *memo_, rng_);
        if (extra && (!best || extra->score > best->score)) best = std::move(extra);
      }
      if (best) {
        p.genome = std::move(best->genome);
        p.predicted = predictor_.predict(space_->encode(p.genome)).mean;
        pending.path = path;
      }
    }
  }
  if (p.genome.empty()) {
    p.genome = detail::unseen_sample(*space_, seen_, rng_, "LanasStrategy::propose");
    p.predicted = predictor_.trained() ? predictor_.predict(space_->encode(p.genome)).mean : mean;
    pending.path = tree_.route(space_->encode(p.genome));
  }
  pending.predicted = p.predicted;
  pending.encoding = space_->encode(p.genome);
  seen_.insert(space_->canonical_hash(p.genome));
  pending_.emplace(p.id, std::move(pending));
  return p;
}

void LanasStrategy::on_dispatch(const Proposal& proposal) {
  const auto it = pending_.find(proposal.id);
  if (it == pending_.end() || it->second.dispatched) return;
  tree_.backpropagate(it->second.path, 1.0, it->second.predicted);
  it->second.dispatched = true;
}

void LanasStrategy::on_result(const Proposal& proposal, const EvalResult& result) {
  const double worst =
      evaluated_.empty() ? 0.0 : std::min_element(evaluated_.begin(), evaluated_.end())->first;
  const double value = reward_of(result, worst);
  if (const auto it = pending_.find(proposal.id); it != pending_.end()) {
    if (it->second.dispatched)
      tree_.backpropagate(it->second.path, 0.0, value - it->second.predicted);
    else
      tree_.backpropagate(it->second.path, 1.0, value);
    pending_.erase(it);
  }
  seen_.insert(space_->canonical_hash(proposal.genome));
  evaluated_.emplace_back(value, proposal.genome);
  sum_ += value;
  sum_sq_ += value * value;
  predictor_.add(space_->encode(proposal.genome), value);
  const double due = std::max(static_cast<double>(config_.rebuild_every),
                              config_.rebuild_growth * static_cast<double>(evaluated_.size()));
  if (static_cast<double>(++since_rebuild_) >= due) rebuild();
}

void LanasStrategy::save(StateArchive& archive) const {
  archive.put("strategy", std::string("lanas"));
  archive.put("counters", std::vector<std::uint64_t>{next_id_, since_rebuild_});
  archive.put("sums", std::vector<double>{sum_, sum_sq_});
  tree_.save(archive.child("tree"));
  predictor_.save(archive.child("predictor"));
  detail::put_hashes(archive, "seen", seen_);
  detail::put_evaluated(archive, evaluated_);
  std::vector<std::int64_t> leaves, members;
  std::vector<std::uint64_t> member_count;
  for (const auto& [leaf, list] : leaf_members_) {
    leaves.push_back(leaf);
    member_count.push_back(list.size());
    members.insert(members.end(), list.begin(), list.end());
  }
  archive.put("leaves", leaves);
  archive.put("leaf_member_count", member_count);
  archive.put("leaf_members", members);
  std::vector<std::uint64_t> ids, dispatched;
  std::vector<double> predicted, encodings;
  std::vector<Genome> paths;
  for (const auto& [id, pe] : pending_) {
    ids.push_back(id);
    dispatched.push_back(pe.dispatched ? 1 : 0);
    predicted.push_back(pe.predicted);
    paths.emplace_back(pe.path.begin(), pe.path.end());
    encodings.insert(encodings.end(), pe.encoding.begin(), pe.encoding.end());
  }
  auto& pend = archive.child("pending");
  pend.put("ids", ids);
  pend.put("dispatched", dispatched);
  pend.put("predicted", predicted);
  pend.put("encodings", encodings);
  detail::put_genomes(pend, "path", paths);
  save_rng(archive, "rng", rng_);
}

void LanasStrategy::load(const StateArchive& archive) {
  if (archive.text("strategy") != "lanas")
    throw std::runtime_error("LanasStrategy::load: the archive holds strategy '" + archive.text("strategy") + "'");
  const auto& counters = archive.uints("counters");
  next_id_ = counters.at(0);
  since_rebuild_ = counters.at(1);
  const auto& sums = archive.doubles("sums");
  sum_ = sums.at(0);
  sum_sq_ = sums.at(1);
  tree_.load(archive.child("tree"));
  predictor_.load(archive.child("predictor"));
  seen_ = detail::get_hashes(archive, "seen");
  evaluated_ = detail::get_evaluated(archive);
  leaf_members_.clear();
  const auto& leaves = archive.ints("leaves");
  const auto& member_count = archive.uints("leaf_member_count");
  const auto& members = archive.ints("leaf_members");
  std::size_t m = 0;
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    auto& list = leaf_members_[static_cast<std::int32_t>(leaves[i])];
    for (std::uint64_t k = 0; k < member_count.at(i); ++k) list.push_back(static_cast<std::size_t>(members.at(m++)));
  }
  const auto& pend = archive.child("pending");
  const auto& ids = pend.uints("ids");
  const auto& dispatched = pend.uints("dispatched");
  const auto& predicted = pend.doubles("predicted");
  const auto& encodings = pend.doubles("encodings");
  const auto paths = detail::get_genomes(pend, "path");
  const auto width = space_->encoding_size();
  pending_.clear();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    Pending pe;
    pe.path.assign(paths.at(i).begin(), paths.at(i).end());
    pe.predicted = predicted.at(i);
    pe.dispatched = dispatched.at(i) != 0;
    pe.encoding.assign(encodings.begin() + static_cast<std::ptrdiff_t>(i * width),
                       encodings.begin() + static_cast<std::ptrdiff_t>((i + 1) * width));
    pending_.emplace(ids[i], std::move(pe));
  }
  load_rng(archive, "rng", rng_);
  memo_->clear();  // the loaded predictor may differ from the one the memo's scores came from
}

}  // namespace alphax::search
