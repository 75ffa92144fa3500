#pragma once
/// \file
/// \brief The search strategies: random, regularized evolution, AlphaX MCTS, LaNAS.
/// Build them with make_strategy() (registry.hpp); the types are public for tests and tools.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "alphax/search/predictor.hpp"
#include "alphax/search/search_space.hpp"
#include "alphax/search/search_strategy.hpp"

namespace alphax::search {

namespace detail {
class CandidateMemo;
}  // namespace detail

/// \brief The value a strategy learns from: the objective when ok, else `fallback`.
double reward_of(const EvalResult& result, double fallback);

/// \brief Uniform sampling without replacement over canonical classes.
class RandomSearch final : public SearchStrategy {
 public:
  RandomSearch(const SearchSpace& space, std::uint64_t seed);
  std::string name() const override { return "random"; }
  Proposal propose() override;
  void on_dispatch(const Proposal& proposal) override;
  void on_result(const Proposal& proposal, const EvalResult& result) override;
  void save(StateArchive& archive) const override;
  void load(const StateArchive& archive) override;

 private:
  const SearchSpace* space_;
  Rng rng_;
  std::uint64_t next_id_ = 0;
  std::unordered_set<std::uint64_t> proposed_;
};

/// \brief Regularized (aging) evolution, Real et al. 2019.
struct EvolutionConfig {
  std::int32_t population = 50;
  std::int32_t tournament = 10;
  /// \brief After this many proposals in a row that were all known classes (answered from the
  /// driver's cache, never dispatched), the next proposal is a uniform draw instead of a mutant: a
  /// converged population whose mutants are all known would otherwise re-propose them forever
  /// although the space has unseen classes. 0: off.
  std::int32_t stall_limit = 1000;
};

/// \brief Regularized evolution: random until `population` results are in, then the best of a
/// random tournament is mutated; the oldest member dies. A uniform draw replaces the mutant after
/// `stall_limit` known classes in a row.
class RegularizedEvolution final : public SearchStrategy {
 public:
  RegularizedEvolution(const SearchSpace& space, EvolutionConfig config, std::uint64_t seed);
  std::string name() const override { return "evolution"; }
  Proposal propose() override;
  void on_dispatch(const Proposal& proposal) override;
  void on_result(const Proposal& proposal, const EvalResult& result) override;
  void save(StateArchive& archive) const override;
  void load(const StateArchive& archive) override;

 private:
  struct Member {
    Genome genome;
    double fitness = 0.0;
  };
  const SearchSpace* space_;
  EvolutionConfig config_;
  Rng rng_;
  std::uint64_t next_id_ = 0;
  std::uint64_t proposed_random_ = 0;
  std::uint64_t since_dispatch_ = 0;  ///< proposals since the last one dispatched (stall_limit)
  std::vector<Member> population_;  ///< oldest first
  double worst_ = 0.0;
};

/// \brief Parameters shared by the surrogate-driven strategies (mcts, lanas).
struct SurrogateConfig {
  std::int32_t initial_random = 8;   ///< uniform samples before the model drives
  std::int32_t candidates = 192;     ///< candidates scored per proposal
  double local_fraction = 0.7;       ///< share of candidates made by mutating the best evaluated
  std::int32_t elite = 8;            ///< how many of the best evaluated archs candidates mutate
  std::int32_t elite_distance = 0;   ///< elites differ pairwise in at least this many positions
  /// \brief The best evaluated archs whose whole one-edit neighbourhood is scored on every
  /// proposal: random mutations miss part of it, and the best cell is most often next to one of
  /// the best seen (local search). Costs sum_i (K_i - 1) scorings each.
  std::int32_t neighbourhoods = 3;
  /// \brief While the best evaluated arch (the incumbent) has unseen one-edit neighbours, they
  /// are the whole candidate pool: the search climbs from its best result before it scores
  /// anything else (lanas: the best of them in the region its tree picks). At W = 1 on NB201
  /// (seeds 4000-4099) it took mcts from 74.7 to 60.5 mean samples to the best and lanas from 68.4
  /// to 55.2; on a categorical NK table it moved their means by -7 to +4 samples (docs/search.md,
  /// "Session 18").
  bool incumbent_first = true;
  double kappa = 0.5;                ///< ucb acquisition = mean + kappa * stddev
  /// \brief Score by one random ensemble member per proposal instead of ucb, always. Off by
  /// default: in a sequential search ucb ranks the candidates near the best more reliably once
  /// the data are dense there.
  bool thompson = false;
  /// \brief While other proposals of the strategy are in flight, score by this weight times one
  /// random ensemble member's prediction (Thompson) plus the rest times ucb; 0 is ucb alone, 1 is
  /// Thompson (parallel Thompson sampling). Concurrent proposals then follow different members
  /// and spread over near-ties of the ranking instead of all taking its next best; a sequential
  /// search (nothing in flight) is unchanged. 0.5: on NB201 (noisy evaluations) it saved 2-23
  /// samples at W = 16 on three seed sets; on a noise-free categorical table it cost 4-8 (not
  /// significant). See docs/search.md, "Session 16".
  double thompson_in_flight = 0.5;
  PredictorConfig predictor;
};

/// \brief AlphaX MCTS parameters.
struct MctsConfig {
  /// \brief UCT: z(x̄) + 2 Cp sqrt(2 ln n_parent / n_child). x̄ is z-scored by the spread of
  /// all results, which on a table with a long tail of bad cells is wide against the differences
  /// among the top candidates: a few hundredths of a standard deviation is enough exploration.
  double cp = 0.02;
  /// \brief Preemptive backpropagation: a dispatched proposal adds its predicted reward (and a
  /// visit) along its path at once and no longer counts in the values of the nodes above it, so
  /// the selections made while it is in flight go elsewhere. Off: the tree learns of a proposal
  /// only from its result; the in-flight proposals still count in the node values, concurrent
  /// selections descend towards them, and only the final pick below the selected node skips them.
  /// Without it mcts needed 159 instead of 88 samples to the best at W = 16 on NB201
  /// (docs/search.md, "Preemptive backpropagation at W = 16").
  bool preemptive = true;
  /// \brief x̄ averages the rewards below with the rollout (classic MCTS); off by default: x̄ is
  /// then the rollout alone, what can still be drawn below, not what was already evaluated there.
  bool mean_value = false;
  std::int32_t rollout_candidates = 32;  ///< extra completions the meta-DNN scores below the selected node
  /// \brief The meta-DNN with randomized priors (PredictorConfig::prior_scale 1): without them the
  /// ensemble was confidently wrong about unsampled basins and long runs sat at a local optimum
  /// (docs/search.md, "Why mcts had a heavy tail").
  SurrogateConfig surrogate = [] {
    SurrogateConfig s;
    s.predictor.prior_scale = 1.0;
    return s;
  }();
};

/// \brief The MCTS tree: nodes are partial genomes, edges actions. Statistics are visit counts
/// and sums of rewards (objective units) of the evaluations below a node: real results, and
/// predictions while an evaluation is in flight.
class MctsTree {
 public:
  /// \brief One node of the tree.
  struct Node {
    Genome partial;
    std::int32_t parent = -1;
    std::vector<std::pair<Action, std::int32_t>> children;  ///< expanded children
    double visits = 0.0;
    double value_sum = 0.0;
  };
  /// \brief A child the selection may take: its action and the meta-DNN's rollout value there
  /// (the best acquisition score among unseen completions below it).
  struct Option {
    Action action;
    double rollout = 0.0;
  };
  explicit MctsTree(const SearchSpace& space);
  /// \brief Node 0 is the root (space.root()).
  const Node& node(std::int32_t index) const { return nodes_[static_cast<std::size_t>(index)]; }
  std::size_t size() const { return nodes_.size(); }
  /// \brief The child of `parent` reached by `action`, or -1 when not expanded.
  std::int32_t find_child(std::int32_t parent, const Action& action) const;
  /// \brief Creates (or returns) the child of `parent` reached by `action` (expansion).
  std::int32_t child(std::int32_t parent, const Action& action);
  /// \brief Takes back the newest node (a leaf expanded by a selection that did not propose below it).
  void remove_last_leaf(std::int32_t index);
  /// \brief Adds `visits` and `value` to every node of `path`.
  void backpropagate(const std::vector<std::int32_t>& path, double visits, double value);
  /// \brief The UCT choice among `options` below `parent` (index into options; -1 if empty).
  /// The rollout counts as one visit: n_child = visits + 1, n_parent = visits(parent) + 1, and
  /// x̄ = (value_sum + rollout) / (visits + 1) when `mean_value`, else x̄ = rollout; x̄ is
  /// z-scored by (mean, scale). Ties go to the lowest action.
  std::int32_t select(std::int32_t parent, const std::vector<Option>& options, double cp, double mean, double scale,
                      bool mean_value) const;

  void save(StateArchive& archive) const;
  void load(const StateArchive& archive);

 private:
  const SearchSpace* space_;
  std::vector<Node> nodes_;
};

/// \brief UCT score of a child: z + 2 cp sqrt(2 ln n_parent / n_child).
double uct_score(double z_mean, double n_parent, double n_child, double cp);

/// \brief AlphaX: MCTS over partial architectures (one action per tree level, in position order)
/// with meta-DNN rollouts and preemptive backpropagation along the traversed path.
///
/// A proposal scores a pool of unseen complete architectures with the meta-DNN's acquisition
/// (the rollouts: mutations of the best evaluated and random completions). Selection descends
/// from the root by UCT over the children that hold pool members, each valued by its best
/// member (see MctsTree::select), and stops on expanding a new node (or at a terminal one).
/// `rollout_candidates` more completions are drawn below that node, and the best-scoring one
/// below it that is not in flight is proposed with the traversed path (when everything below is
/// in flight, from below the nearest ancestor that holds more): on_dispatch backpropagates its
/// predicted reward along the path (preemptive), on_result replaces the prediction by the real
/// reward.
class MctsStrategy final : public SearchStrategy {
 public:
  MctsStrategy(const SearchSpace& space, MctsConfig config, std::uint64_t seed);
  ~MctsStrategy() override;
  std::string name() const override { return "mcts"; }
  Proposal propose() override;
  void on_dispatch(const Proposal& proposal) override;
  void on_result(const Proposal& proposal, const EvalResult& result) override;
  void save(StateArchive& archive) const override;
  void load(const StateArchive& archive) override;
  const MctsTree& tree() const { return tree_; }
  /// \brief The tree path (node indices, root first) a pending proposal was drawn from.
  const std::vector<std::int32_t>& path_of(std::uint64_t proposal_id) const;

 private:
  struct Pending {
    std::vector<std::int32_t> path;
    double predicted = 0.0;
    bool dispatched = false;
    Genome genome;  ///< what is in flight (empty when loaded from a checkpoint older than session 20)
  };
  static std::uint64_t mix_seed(std::uint64_t seed);
  std::vector<std::int32_t> path_for(const Genome& genome);
  /// \brief Selection, expansion and the rollouts below the selected node; empty genome if none.
  std::pair<Genome, std::vector<std::int32_t>> search_tree(double mean, double scale);
  MctsConfig config_;
  const SearchSpace* space_;
  Rng rng_;
  MctsTree tree_;
  Predictor predictor_;
  std::uint64_t next_id_ = 0;
  std::map<std::uint64_t, Pending> pending_;
  std::unordered_set<std::uint64_t> seen_;  ///< classes proposed (evaluated or in flight)
  std::vector<std::pair<double, Genome>> evaluated_;  ///< (reward, genome)
  /// Hashes and scores of candidates already met (pure values, not saved: a cold memo gives the same).
  std::unique_ptr<detail::CandidateMemo> memo_;
  double sum_ = 0.0, sum_sq_ = 0.0;
};

/// \brief LaNAS parameters.
struct LanasConfig {
  std::int32_t max_depth = 5;       ///< height of the partition tree
  std::int32_t min_split = 8;       ///< a node with fewer samples is a leaf
  /// \brief UCB on z-scored x̄. As for mcts, the z-scale is the spread of all results, wide
  /// against the differences among the best regions' candidates: 0.1 (0.5 before session 15, which
  /// spread the proposals over regions the model rates lower; docs/search.md).
  double cp = 0.1;
  double ridge = 1e-2;              ///< ridge penalty of the closed-form linear splits
  std::int32_t rebuild_every = 1;   ///< rebuild the tree after every k results...
  double rebuild_growth = 0.02;     ///< ...or after rebuild_growth * results, if more
  std::int32_t max_tries = 4096;    ///< region samples tried before a leaf counts as drained
  SurrogateConfig surrogate;
};

/// \brief The LaNAS partition tree: every internal node holds a linear model; an encoding goes
/// left ("good") when the model predicts at least the node's mean prediction.
class LanasTree {
 public:
  /// \brief A node: its samples, statistics and (internal nodes) the linear split.
  struct Node {
    std::int32_t left = -1, right = -1, parent = -1;
    std::vector<double> weights;  ///< size encoding + 1 (bias last); empty for leaves
    double threshold = 0.0;
    double visits = 0.0;
    double value_sum = 0.0;
    bool drained = false;
  };
  /// \brief Builds the tree from encodings `x` and rewards `y` (same length); returns, per sample,
  /// the leaf it lands in.
  std::vector<std::int32_t> build(const std::vector<std::vector<float>>& x, const std::vector<double>& y,
                                  const LanasConfig& config);
  /// \brief Whether node `index` is a leaf.
  bool is_leaf(std::int32_t index) const { return nodes_[static_cast<std::size_t>(index)].left < 0; }
  const Node& node(std::int32_t index) const { return nodes_[static_cast<std::size_t>(index)]; }
  Node& node(std::int32_t index) { return nodes_[static_cast<std::size_t>(index)]; }
  std::size_t size() const { return nodes_.size(); }
  /// \brief Adds a node by hand (tests); returns its index. The first node added is the root.
  std::int32_t add_node(Node node);
  /// \brief The leaf path an encoding routes to (root first).
  std::vector<std::int32_t> route(const std::vector<float>& x) const;
  /// \brief Whether `x` lies in the region of `node` (satisfies every split on its path).
  bool in_region(std::int32_t node, const std::vector<float>& x) const;
  /// \brief UCB descent from the root over non-drained children, x̄ = the node's sample mean
  /// z-scored with (mean, scale). Returns the path; empty when every leaf is drained.
  std::vector<std::int32_t> select(double cp, double mean, double scale) const;
  /// \brief UCB descent with x̄ of node i = `values[i]` (-inf: nothing left to draw there, closed).
  std::vector<std::int32_t> select(double cp, double mean, double scale, const std::vector<double>& values) const;
  void backpropagate(const std::vector<std::int32_t>& path, double visits, double value);

  void save(StateArchive& archive) const;
  void load(const StateArchive& archive);

 private:
  bool goes_left(const Node& node, const std::vector<float>& x) const;
  bool subtree_open(std::int32_t index) const;
  std::vector<Node> nodes_;
};

/// \brief LaNAS with learned linear splits, UCB path selection and sampling inside the chosen leaf.
///
/// The tree is rebuilt from all results (closed-form ridge regression per node, split at the
/// mean prediction). A proposal scores a pool of unseen candidates (mutations of the best
/// evaluated, uniform draws) with the meta-DNN, routes them to leaves, and descends by UCB where
/// a node's x̄ is the best score still drawable below it and n its evaluations (done and in
/// flight). In the chosen leaf, mutations of the leaf's own members that stay in the region join
/// the leaf's pool candidates; the best of them is proposed with the leaf's path.
class LanasStrategy final : public SearchStrategy {
 public:
  LanasStrategy(const SearchSpace& space, LanasConfig config, std::uint64_t seed);
  ~LanasStrategy() override;
  std::string name() const override { return "lanas"; }
  Proposal propose() override;
  void on_dispatch(const Proposal& proposal) override;
  void on_result(const Proposal& proposal, const EvalResult& result) override;
  void save(StateArchive& archive) const override;
  void load(const StateArchive& archive) override;
  const LanasTree& tree() const { return tree_; }
  /// \brief The leaf path a pending proposal was drawn from.
  const std::vector<std::int32_t>& path_of(std::uint64_t proposal_id) const;

 private:
  struct Pending {
    std::vector<std::int32_t> path;
    double predicted = 0.0;
    bool dispatched = false;
    std::vector<float> encoding;
  };
  void rebuild();
  LanasConfig config_;
  const SearchSpace* space_;
  Rng rng_;
  LanasTree tree_;
  Predictor predictor_;
  std::map<std::int32_t, std::vector<std::size_t>> leaf_members_;  ///< leaf -> indices into evaluated_
  std::uint64_t next_id_ = 0;
  std::uint64_t since_rebuild_ = 0;
  std::map<std::uint64_t, Pending> pending_;
  std::unordered_set<std::uint64_t> seen_;
  std::vector<std::pair<double, Genome>> evaluated_;
  /// Hashes and scores of candidates already met (pure values, not saved: a cold memo gives the same).
  std::unique_ptr<detail::CandidateMemo> memo_;
  double sum_ = 0.0, sum_sq_ = 0.0;
};

}  // namespace alphax::search
