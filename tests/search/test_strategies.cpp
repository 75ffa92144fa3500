// Strategies: bit-exact save/load (with evaluations in flight), UCT and LaNAS choices on hand-made
// trees, preemptive backpropagation, proposals inside the chosen LaNAS region, baselines.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <optional>
#include <unordered_set>

#include "alphax/search/search_driver.hpp"
#include "alphax/search/strategies.hpp"
#include "search_test_util.hpp"

namespace alphax::search {
namespace {

using testing::space_from;
using testing::SyntheticEvaluator;

/// Small but complete configurations, so every strategy reaches its model-driven phase quickly.
std::string strategy_yaml(const std::string& name) {
  if (name == "evolution") return "{name: evolution, population: 6, tournament: 3}";
  if (name == "mcts") return "{name: mcts, initial_random: 4, candidates: 48, rollout_candidates: 8}";
  if (name == "mcts_nopreempt")
    return "{name: mcts, initial_random: 4, candidates: 48, rollout_candidates: 8, preemptive: false}";
  if (name == "lanas") return "{name: lanas, initial_random: 4, min_split: 4, candidates: 24}";
  return "{name: " + name + "}";
}

/// `strategy_yaml` (a flow map) with `extra` keys added.
std::string with(const std::string& strategy_yaml, const std::string& extra) {
  return strategy_yaml.substr(0, strategy_yaml.size() - 1) + ", " + extra + "}";
}

/// A search with `workers` evaluations in flight; results come back in the order `order` draws.
struct Scripted {
  SearchDriver driver;
  std::deque<Proposal> in_flight;
  Rng order;
  Scripted(const SearchSpace& space, SearchStrategy& strategy, std::uint64_t seed)
      : driver(space, strategy), order(seed) {}

  /// Fills the workers, then completes one evaluation; returns the proposals made.
  std::vector<Proposal> step(Evaluator& evaluator, const SearchSpace& space, std::size_t workers) {
    std::vector<Proposal> made;
    while (in_flight.size() < workers) {
      made.push_back(driver.next());
      in_flight.push_back(made.back());
    }
    const auto pick = std::uniform_int_distribution<std::size_t>(0, in_flight.size() - 1)(order);
    const Proposal p = in_flight[pick];
    in_flight.erase(in_flight.begin() + static_cast<std::ptrdiff_t>(pick));
    driver.complete(p, evaluator.evaluate(space, p.genome));
    return made;
  }
};

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

class SaveLoad : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(SaveLoad, LoadedStrategyMakesExactlyTheOriginalsProposalsWithEvaluationsInFlight) {
  const auto& [strategy_name, space_yaml] = GetParam();
  const auto space = space_from(space_yaml);
  SyntheticEvaluator evaluator(*space, 21);
  const auto node = YAML::Load(strategy_yaml(strategy_name));
  constexpr std::size_t kWorkers = 3;

  auto original = make_strategy(node, *space, 7);
  Scripted a(*space, *original, 99);
  for (int i = 0; i < 14; ++i) a.step(evaluator, *space, kWorkers);
  while (a.in_flight.size() < kWorkers) a.in_flight.push_back(a.driver.next());  // all workers busy

  StateArchive strategy_state, driver_state;
  original->save(strategy_state);
  a.driver.save(driver_state);
  auto restored = make_strategy(node, *space, 12345);  // another seed: load() must overwrite it all
  restored->load(strategy_state);
  Scripted b(*space, *restored, 99);
  b.driver.load(driver_state);
  b.order = a.order;
  const auto pending = b.driver.in_flight_proposals();
  b.in_flight.assign(pending.begin(), pending.end());
  // The test's own bookkeeping orders in-flight evaluations by dispatch, as the driver does by id.
  ASSERT_EQ(b.in_flight.size(), a.in_flight.size());
  for (std::size_t i = 0; i < a.in_flight.size(); ++i) ASSERT_EQ(b.in_flight[i].id, a.in_flight[i].id);

  StateArchive again;
  restored->save(again);
  EXPECT_EQ(again, strategy_state);

  std::size_t compared = 0;
  for (int i = 0; i < 24; ++i) {
    const auto pa = a.step(evaluator, *space, kWorkers);
    const auto pb = b.step(evaluator, *space, kWorkers);
    ASSERT_EQ(pa.size(), pb.size());
    for (std::size_t k = 0; k < pa.size(); ++k, ++compared) {
      ASSERT_EQ(pa[k].id, pb[k].id);
      ASSERT_EQ(pa[k].genome, pb[k].genome) << "proposal " << compared << " after the restore";
      ASSERT_TRUE(same_bits(pa[k].predicted, pb[k].predicted));
    }
  }
  EXPECT_GE(compared, 20u);
  StateArchive final_a, final_b;
  original->save(final_a);
  restored->save(final_b);
  EXPECT_EQ(final_a, final_b);
}

INSTANTIATE_TEST_SUITE_P(EveryStrategyOnEverySpace, SaveLoad,
                         ::testing::Combine(::testing::Values("random", "evolution", "mcts", "mcts_nopreempt", "lanas"),
                                            ::testing::ValuesIn(testing::space_yamls())),
                         [](const auto& param_info) {
                           const auto& space = std::get<1>(param_info.param);
                           const auto tag = space.find("nb201") != std::string::npos   ? "nb201"
                                            : space.find("nb101") != std::string::npos ? "nb101"
                                                                                       : "categorical";
                           return std::get<0>(param_info.param) + "_" + tag;
                         });

TEST(SaveLoad, ArchiveOfAnotherStrategyIsRefused) {
  Nb201Space space;
  StateArchive archive;
  make_strategy(YAML::Load("{name: random}"), space, 1)->save(archive);
  for (const auto* name : {"evolution", "mcts", "lanas"}) {
    auto s = make_strategy(YAML::Load(std::string("{name: ") + name + "}"), space, 1);
    try {
      s->load(archive);
      ADD_FAILURE() << name << " loaded a random-search archive";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("'random'"), std::string::npos) << e.what();
    }
  }
}

/// `archive` as an mcts checkpoint of session 19 wrote it: no in-flight genomes under "pending".
StateArchive without_pending_genomes(const StateArchive& archive) {
  StateArchive old;
  for (const auto& [name, value] : archive.entries()) old.put(name, value);
  for (const auto& [name, child] : archive.children()) {
    if (name != "pending") {
      old.child(name) = child;
      continue;
    }
    auto& pending = old.child(name);
    for (const auto& [entry, value] : child.entries())
      if (!entry.starts_with("genome_")) pending.put(entry, value);
  }
  return old;
}

// A checkpoint written before the in-flight genomes were saved still loads. With preemption they
// are not needed, so the proposals stay exactly the original's; without it the in-flight
// proposals of the checkpoint count in the tree only once their results are in.
TEST(SaveLoad, MctsCheckpointWithoutInFlightGenomesStillLoads) {
  Nb201Space space;
  for (const auto* name : {"mcts", "mcts_nopreempt"}) {
    SyntheticEvaluator evaluator(space, 21);
    const auto node = YAML::Load(strategy_yaml(name));
    auto original = make_strategy(node, space, 7);
    Scripted a(space, *original, 99);
    for (int i = 0; i < 14; ++i) a.step(evaluator, space, 3);
    StateArchive state;
    original->save(state);
    ASSERT_TRUE(state.child("pending").has_entry("genome_values"));
    const auto old = without_pending_genomes(state);
    ASSERT_FALSE(old.child("pending").has_entry("genome_values"));
    ASSERT_TRUE(old.child("pending").has_entry("path_values"));
    auto restored = make_strategy(node, space, 12345);
    ASSERT_NO_THROW(restored->load(old)) << name;
    const auto next = restored->propose();
    EXPECT_TRUE(space.is_valid(next.genome));
    if (std::string(name) == "mcts") {
      EXPECT_EQ(next.genome, original->propose().genome);
    }
  }
}

TEST(SaveLoad, MctsCheckpointWithAnInvalidInFlightArchitectureIsRefused) {
  Nb201Space space;
  SyntheticEvaluator evaluator(space, 21);
  auto original = make_strategy(YAML::Load(strategy_yaml("mcts_nopreempt")), space, 7);
  Scripted a(space, *original, 99);
  for (int i = 0; i < 14; ++i) a.step(evaluator, space, 3);
  StateArchive state;
  original->save(state);
  auto& pending = state.child("pending");
  auto values = pending.ints("genome_values");
  ASSERT_FALSE(values.empty());
  values.front() = 99;  // no such operation
  pending.put("genome_values", values);
  auto restored = make_strategy(YAML::Load(strategy_yaml("mcts_nopreempt")), space, 7);
  try {
    restored->load(state);
    ADD_FAILURE() << "a damaged in-flight architecture was loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("invalid architecture"), std::string::npos) << e.what();
  }
}

// mcts and lanas keep the hashes and scores of candidates they met in a memo that is not saved.
// A strategy whose memo is dropped before every proposal (load() clears it, as after a restart)
// must make exactly the proposals of one whose memo stayed warm across retrainings.
class ColdMemo : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(ColdMemo, ProposalsEqualThoseOfAWarmMemo) {
  const auto& [strategy, space_yaml] = GetParam();
  const auto space = space_from(space_yaml);
  SyntheticEvaluator evaluator(*space, 5);
  const auto node = YAML::Load(strategy);
  auto warm = make_strategy(node, *space, 3);
  auto cold = make_strategy(node, *space, 3);
  Scripted a(*space, *warm, 17), b(*space, *cold, 17);
  constexpr std::size_t kWorkers = 3;
  std::size_t compared = 0;
  for (int i = 0; i < 40; ++i) {
    StateArchive state;
    cold->save(state);
    cold->load(state);
    const auto pa = a.step(evaluator, *space, kWorkers);
    const auto pb = b.step(evaluator, *space, kWorkers);
    ASSERT_EQ(pa.size(), pb.size());
    for (std::size_t k = 0; k < pa.size(); ++k, ++compared) {
      ASSERT_EQ(pa[k].genome, pb[k].genome) << "proposal " << compared;
      ASSERT_TRUE(same_bits(pa[k].predicted, pb[k].predicted));
    }
  }
  EXPECT_GE(compared, 40u);
}

INSTANTIATE_TEST_SUITE_P(
    SurrogateStrategies, ColdMemo,
    ::testing::Combine(::testing::Values(strategy_yaml("mcts"), strategy_yaml("lanas"),
                                         "{name: mcts, initial_random: 4, candidates: 48, rollout_candidates: 8, "
                                         "thompson: true}"),
                       ::testing::ValuesIn(testing::space_yamls())),
    [](const auto& param_info) {
      const auto& strategy = std::get<0>(param_info.param);
      const auto& space = std::get<1>(param_info.param);
      const std::string name = strategy.find("thompson") != std::string::npos ? "mcts_thompson"
                               : strategy.find("lanas") != std::string::npos  ? "lanas"
                                                                              : "mcts";
      const auto tag = space.find("nb201") != std::string::npos   ? "nb201"
                       : space.find("nb101") != std::string::npos ? "nb101"
                                                                  : "categorical";
      return name + "_" + tag;
    });

// ---------------------------------------------------------------- UCT on hand-made trees

TEST(Uct, ScoreIsMeanPlusTwoCpTimesTheExplorationTerm) {
  EXPECT_DOUBLE_EQ(uct_score(0.5, 12.0, 2.0, 1.0), 0.5 + 2.0 * std::sqrt(2.0 * std::log(12.0) / 2.0));
  EXPECT_DOUBLE_EQ(uct_score(0.5, 12.0, 2.0, 0.0), 0.5);
}

struct HandTree {
  std::unique_ptr<SearchSpace> space = space_from("{name: categorical, choices: [3, 2]}");
  MctsTree tree{*space};
  /// Expands child `value` of the root with `visits` evaluations of mean `mean` below it.
  std::int32_t add(std::int32_t value, double visits, double mean) {
    const auto c = tree.child(0, {0, value});
    tree.backpropagate({0, c}, visits, visits * mean);
    return c;
  }
  static MctsTree::Option option(std::int32_t value, double rollout) { return {{0, value}, rollout}; }
};

TEST(Uct, RolloutCountsAsOneVisitInTheMeanAndTheExplorationTerm) {
  HandTree h;
  h.add(0, 10.0, 1.0);
  h.add(1, 2.0, 0.0);
  const std::vector<MctsTree::Option> options{HandTree::option(0, 1.0), HandTree::option(1, 0.0)};
  // n_parent = 13; x̄ = (10 + 1) / 11 = 1 with n = 11, against x̄ = 0 / 3 with n = 3:
  // 1 + 2 Cp sqrt(2 ln 13 / 11) against 2 Cp sqrt(2 ln 13 / 3).
  EXPECT_EQ(h.tree.select(0, options, 1.0, 0.0, 1.0, true), 1);   // 2.37 < 2.62
  EXPECT_EQ(h.tree.select(0, options, 0.25, 0.0, 1.0, true), 0);  // 1.34 > 0.65
  EXPECT_EQ(h.tree.select(0, options, 0.0, 0.0, 1.0, true), 0);
}

TEST(Uct, MeanValueWeighsTheEvaluationsBelowAgainstTheRollout) {
  HandTree h;
  h.add(0, 10.0, 0.0);  // evaluated often, poorly
  const std::vector<MctsTree::Option> options{HandTree::option(0, 2.0), HandTree::option(1, 1.5)};
  EXPECT_EQ(h.tree.select(0, options, 0.0, 0.0, 1.0, true), 1);   // (0 + 2) / 11 < 1.5 (unexpanded)
  EXPECT_EQ(h.tree.select(0, options, 0.0, 0.0, 1.0, false), 0);  // rollouts alone: 2 > 1.5
}

TEST(Uct, MeanIsZScoredByTheGivenScale) {
  HandTree h;
  h.add(0, 10.0, 90.0);
  h.add(1, 2.0, 89.0);
  const std::vector<MctsTree::Option> options{HandTree::option(0, 90.0), HandTree::option(1, 89.0)};
  // Raw accuracies: a 1-point lead beats the exploration bonus; in standard deviations of 10 it does not.
  EXPECT_EQ(h.tree.select(0, options, 0.25, 85.0, 1.0, true), 0);
  EXPECT_EQ(h.tree.select(0, options, 0.25, 85.0, 10.0, true), 1);
}

TEST(Uct, TiesGoToTheLowestActionWhateverTheOrder) {
  HandTree h;
  const std::vector<MctsTree::Option> options{HandTree::option(2, 1.0), HandTree::option(1, 1.0)};
  EXPECT_EQ(h.tree.select(0, options, 0.5, 0.0, 1.0, true), 1);
  EXPECT_EQ(h.tree.select(0, {}, 0.5, 0.0, 1.0, true), -1);
}

TEST(MctsTree, ExpansionCreatesOneNodePerNewActionAndFindsItAgain) {
  HandTree h;
  EXPECT_EQ(h.tree.find_child(0, {0, 1}), -1);
  const auto c = h.tree.child(0, {0, 1});
  EXPECT_EQ(h.tree.child(0, {0, 1}), c);
  EXPECT_EQ(h.tree.find_child(0, {0, 1}), c);
  EXPECT_EQ(h.tree.size(), 2u);
  EXPECT_EQ(h.tree.node(c).partial, (Genome{1, kUndecided}));
  EXPECT_EQ(h.tree.node(c).parent, 0);
}

TEST(MctsTree, OnlyTheNewestLeafCanBeTakenBack) {
  HandTree h;
  const auto a = h.tree.child(0, {0, 1});
  const auto b = h.tree.child(0, {0, 2});
  EXPECT_THROW(h.tree.remove_last_leaf(a), std::logic_error);
  h.tree.remove_last_leaf(b);
  EXPECT_EQ(h.tree.size(), 2u);
  EXPECT_EQ(h.tree.find_child(0, {0, 2}), -1);
  EXPECT_EQ(h.tree.find_child(0, {0, 1}), a);
  const auto deeper = h.tree.child(a, {1, 0});
  EXPECT_THROW(h.tree.remove_last_leaf(a), std::logic_error);  // it has a child now
  h.tree.remove_last_leaf(deeper);
  EXPECT_TRUE(h.tree.node(a).children.empty());
}

// ---------------------------------------------------------------- LaNAS on hand-made trees

/// Root splits on feature 0 (left = "good" when x0 >= 0.5); its right child splits on feature 1.
struct HandPartition {
  LanasTree tree;
  std::int32_t left = -1, right = -1, right_left = -1, right_right = -1;
  HandPartition() {
    LanasTree::Node root;
    root.weights = {1.0, 0.0, 0.0};
    root.threshold = 0.5;
    tree.add_node(root);
    LanasTree::Node l, r;
    l.parent = r.parent = 0;
    left = tree.add_node(l);
    r.weights = {0.0, 1.0, 0.0};
    r.threshold = 0.5;
    right = tree.add_node(r);
    LanasTree::Node rl, rr;
    rl.parent = rr.parent = right;
    right_left = tree.add_node(rl);
    right_right = tree.add_node(rr);
    tree.node(0).left = left;
    tree.node(0).right = right;
    tree.node(right).left = right_left;
    tree.node(right).right = right_right;
  }
  void stats(std::int32_t leaf, double visits, double mean) {
    std::vector<std::int32_t> path;
    for (auto i = leaf; i >= 0; i = tree.node(i).parent) path.insert(path.begin(), i);
    tree.backpropagate(path, visits, visits * mean);
  }
};

TEST(LanasTree, RoutingAndRegionsFollowTheLinearSplits) {
  HandPartition h;
  EXPECT_EQ(h.tree.route({1.0f, 0.0f}), (std::vector<std::int32_t>{0, h.left}));
  EXPECT_EQ(h.tree.route({0.0f, 1.0f}), (std::vector<std::int32_t>{0, h.right, h.right_left}));
  EXPECT_EQ(h.tree.route({0.0f, 0.0f}), (std::vector<std::int32_t>{0, h.right, h.right_right}));
  EXPECT_TRUE(h.tree.in_region(h.right_left, {0.0f, 1.0f}));
  EXPECT_FALSE(h.tree.in_region(h.right_left, {1.0f, 1.0f}));  // fails the root's split
  EXPECT_FALSE(h.tree.in_region(h.right_left, {0.0f, 0.0f}));
  EXPECT_TRUE(h.tree.in_region(0, {0.3f, 0.7f}));
}

TEST(LanasTree, UcbDescendsByZScoredMeanAndVisits) {
  HandPartition h;
  h.stats(h.left, 10.0, 0.9);
  h.stats(h.right_left, 1.0, 0.5);
  h.stats(h.right_right, 1.0, 0.5);
  // Root n = 12; left: 0.9 + 2 Cp sqrt(2 ln 12 / 10), right: 0.5 + 2 Cp sqrt(2 ln 12 / 2).
  EXPECT_EQ(h.tree.select(0.1, 0.0, 1.0).back(), h.left);
  const auto explore = h.tree.select(1.0, 0.0, 1.0);
  ASSERT_EQ(explore.size(), 3u);
  EXPECT_EQ(explore[1], h.right);
  EXPECT_EQ(explore[2], h.right_left);  // equal children: the left ("good") one wins the tie
  h.tree.node(h.right_left).drained = true;
  EXPECT_EQ(h.tree.select(1.0, 0.0, 1.0).back(), h.right_right);
  h.tree.node(h.right_right).drained = true;
  EXPECT_EQ(h.tree.select(1.0, 0.0, 1.0).back(), h.left);  // a drained subtree is closed
  h.tree.node(h.left).drained = true;
  EXPECT_TRUE(h.tree.select(1.0, 0.0, 1.0).empty());
}

TEST(LanasTree, GivenValuesReplaceTheSampleMeansAndMinusInfinityCloses) {
  HandPartition h;
  h.stats(h.left, 10.0, 0.9);
  h.stats(h.right_left, 1.0, 0.5);
  h.stats(h.right_right, 1.0, 0.5);
  const double closed = -std::numeric_limits<double>::infinity();
  std::vector<double> values(h.tree.size(), 0.0);
  values[static_cast<std::size_t>(h.left)] = 0.2;
  values[static_cast<std::size_t>(h.right)] = 3.0;
  values[static_cast<std::size_t>(h.right_left)] = closed;
  values[static_cast<std::size_t>(h.right_right)] = 3.0;
  EXPECT_EQ(h.tree.select(0.1, 0.0, 1.0, values), (std::vector<std::int32_t>{0, h.right, h.right_right}));
  values[static_cast<std::size_t>(h.right)] = closed;
  EXPECT_EQ(h.tree.select(0.1, 0.0, 1.0, values), (std::vector<std::int32_t>{0, h.left}));
}

TEST(LanasTree, BuildSplitsTheSamplesByTheirLinearPrediction) {
  // y = x0 exactly: the root's ridge fit puts every x0 = 1 sample on the good (left) side.
  std::vector<std::vector<float>> x;
  std::vector<double> y;
  for (int i = 0; i < 16; ++i) {
    x.push_back({static_cast<float>(i % 2), static_cast<float>((i / 2) % 2)});
    y.push_back(static_cast<double>(i % 2));
  }
  LanasConfig config;
  config.max_depth = 1;
  config.min_split = 2;
  config.ridge = 1e-6;
  LanasTree tree;
  const auto leaf_of = tree.build(x, y, config);
  ASSERT_EQ(tree.size(), 3u);
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(leaf_of[i], y[i] > 0.5 ? tree.node(0).left : tree.node(0).right);
  EXPECT_DOUBLE_EQ(tree.node(tree.node(0).left).value_sum / tree.node(tree.node(0).left).visits, 1.0);
  EXPECT_DOUBLE_EQ(tree.node(0).visits, 16.0);
}

// ---------------------------------------------------------------- preemptive backpropagation

/// Runs `results` evaluations one at a time so that the model-driven phase has begun.
void warm_up(SearchStrategy& strategy, const SearchSpace& space, Evaluator& evaluator, int results) {
  SearchDriver driver(space, strategy);
  for (int i = 0; i < results; ++i) {
    const auto p = driver.next();
    driver.complete(p, evaluator.evaluate(space, p.genome));
  }
}

struct PathStats {
  std::vector<double> visits, values;
};
PathStats stats_along(const MctsTree& tree, const std::vector<std::int32_t>& path) {
  PathStats s;
  for (const auto i : path) {
    s.visits.push_back(tree.node(i).visits);
    s.values.push_back(tree.node(i).value_sum);
  }
  return s;
}

TEST(MctsPreemptive, DispatchAddsThePredictionAlongThePathAndTheResultReplacesIt) {
  Nb201Space space;
  SyntheticEvaluator evaluator(space, 4);
  MctsStrategy mcts(space, [] {
    MctsConfig c;
    c.surrogate.initial_random = 4;
    return c;
  }(), 5);
  warm_up(mcts, space, evaluator, 10);
  const Proposal p = mcts.propose();
  const auto path = mcts.path_of(p.id);
  ASSERT_GE(path.size(), 2u);
  EXPECT_EQ(path.front(), 0);
  const auto before = stats_along(mcts.tree(), path);
  std::vector<std::int32_t> off_path;
  for (const auto& [action, child] : mcts.tree().node(0).children)
    if (child != path[1]) off_path.push_back(child);
  ASSERT_FALSE(off_path.empty());
  const auto off_before = stats_along(mcts.tree(), off_path);

  mcts.on_dispatch(p);
  const auto dispatched = stats_along(mcts.tree(), path);
  for (std::size_t k = 0; k < path.size(); ++k) {
    EXPECT_EQ(dispatched.visits[k], before.visits[k] + 1.0);
    EXPECT_NEAR(dispatched.values[k], before.values[k] + p.predicted, 1e-9 * std::abs(before.values[k]) + 1e-12);
  }
  const auto off_after = stats_along(mcts.tree(), off_path);  // nodes off the path keep their statistics
  EXPECT_EQ(off_after.visits, off_before.visits);
  EXPECT_EQ(off_after.values, off_before.values);

  const auto result = evaluator.evaluate(space, p.genome);
  ASSERT_NE(result.objective, p.predicted);
  mcts.on_result(p, result);
  const auto after = stats_along(mcts.tree(), path);
  for (std::size_t k = 0; k < path.size(); ++k) {
    EXPECT_EQ(after.visits[k], before.visits[k] + 1.0);  // the visit stays; only the value changes
    EXPECT_NEAR(after.values[k], before.values[k] + result.objective, 1e-9 * std::abs(before.values[k]) + 1e-9);
  }
}

TEST(MctsPreemptive, WithoutItDispatchChangesNothingAndTheResultAddsOneVisit) {
  Nb201Space space;
  SyntheticEvaluator evaluator(space, 4);
  MctsStrategy mcts(space, [] {
    MctsConfig c;
    c.surrogate.initial_random = 4;
    c.preemptive = false;
    return c;
  }(), 5);
  warm_up(mcts, space, evaluator, 10);
  const Proposal p = mcts.propose();
  const auto path = mcts.path_of(p.id);
  const auto before = stats_along(mcts.tree(), path);
  mcts.on_dispatch(p);
  const auto dispatched = stats_along(mcts.tree(), path);
  EXPECT_EQ(dispatched.visits, before.visits);
  EXPECT_EQ(dispatched.values, before.values);
  const auto result = evaluator.evaluate(space, p.genome);
  mcts.on_result(p, result);
  const auto after = stats_along(mcts.tree(), path);
  for (std::size_t k = 0; k < path.size(); ++k) {
    EXPECT_EQ(after.visits[k], before.visits[k] + 1.0);
    EXPECT_NEAR(after.values[k], before.values[k] + result.objective, 1e-9 * std::abs(before.values[k]) + 1e-9);
  }
}

TEST(MctsPreemptive, ConcurrentProposalsDrawDistinctUnseenClassesWithOrWithoutIt) {
  Nb101Space space;
  for (const auto* preemptive : {"true", "false"}) {
    SyntheticEvaluator evaluator(space, 9);
    auto mcts = make_strategy(YAML::Load(with(strategy_yaml("mcts"), std::string("preemptive: ") + preemptive)), space, 3);
    warm_up(*mcts, space, evaluator, 8);
    std::unordered_set<std::uint64_t> classes;
    for (int i = 0; i < 16; ++i) {
      const auto p = mcts->propose();
      mcts->on_dispatch(p);
      EXPECT_TRUE(classes.insert(space.canonical_hash(p.genome)).second) << "preemptive: " << preemptive;
    }
  }
}

struct ConcurrentSelections {
  int along_the_first = 0;  ///< later proposals whose path has the first one's path as a prefix
  int orphans = 0;          ///< tree nodes neither visited by a result nor on an in-flight path
  int off_path = 0;         ///< proposals whose genome contradicts a decision on their own path
};

/// Whether every decision of every node on `path` is the one `genome` makes.
bool path_leads_to(const MctsTree& tree, const std::vector<std::int32_t>& path, const Genome& genome) {
  for (const auto n : path) {
    const auto& partial = tree.node(n).partial;
    for (std::size_t k = 0; k < partial.size(); ++k)
      if (partial[k] != kUndecided && partial[k] != genome.at(k)) return false;
  }
  return true;
}

/// `count` concurrent proposals after 12 sequential results: how many descend the tree along the
/// path of the first of them, and whether the selections left unused nodes in the tree.
/// mcts for the concurrency tests: ucb scores for every proposal, in flight or not, so that
/// concurrent proposals differ only through what the tree knows of each other.
MctsConfig concurrent_config(bool preemptive) {
  MctsConfig c;
  c.surrogate.initial_random = 4;
  c.surrogate.thompson_in_flight = 0.0;
  c.preemptive = preemptive;
  return c;
}

ConcurrentSelections concurrent_selections(bool preemptive, std::uint64_t seed, int count) {
  Nb201Space space;
  SyntheticEvaluator evaluator(space, 4);
  MctsStrategy mcts(space, concurrent_config(preemptive), seed);
  warm_up(mcts, space, evaluator, 12);
  const Proposal first = mcts.propose();
  mcts.on_dispatch(first);
  const auto first_path = mcts.path_of(first.id);
  ConcurrentSelections result;
  result.off_path += !path_leads_to(mcts.tree(), first_path, first.genome);
  std::vector<bool> used(mcts.tree().size(), false);
  for (const auto i : first_path) used.at(static_cast<std::size_t>(i)) = true;
  for (int i = 1; i < count; ++i) {
    const Proposal p = mcts.propose();
    mcts.on_dispatch(p);
    const auto& path = mcts.path_of(p.id);
    result.along_the_first +=
        path.size() >= first_path.size() && std::equal(first_path.begin(), first_path.end(), path.begin());
    result.off_path += !path_leads_to(mcts.tree(), path, p.genome);
    used.resize(mcts.tree().size(), false);
    for (const auto n : path) used.at(static_cast<std::size_t>(n)) = true;
  }
  for (std::size_t n = 1; n < mcts.tree().size(); ++n)
    result.orphans += !used.at(n) && mcts.tree().node(static_cast<std::int32_t>(n)).visits == 0.0;
  return result;
}

// Without preemption the tree learns of a proposal only from its result: the node values still
// count the in-flight candidates, so every concurrent selection descends towards the first one
// (only the final pick skips what is in flight, from higher up when nothing else is left below).
// With it the dispatched candidates are taken at once and the selections go elsewhere. Either way
// a node expanded by a selection that proposed from higher up is taken back.
TEST(MctsPreemptive, WithoutItConcurrentSelectionsFollowTheFirstWithItTheyGoElsewhere) {
  int along_with = 0;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const auto without = concurrent_selections(false, seed, 8);
    const auto with_it = concurrent_selections(true, seed, 8);
    EXPECT_EQ(without.along_the_first, 7) << "seed " << seed;
    EXPECT_EQ(without.orphans, 0) << "seed " << seed;
    EXPECT_EQ(with_it.orphans, 0) << "seed " << seed;
    EXPECT_EQ(without.off_path, 0) << "seed " << seed;  // on_result backpropagates along these paths
    EXPECT_EQ(with_it.off_path, 0) << "seed " << seed;
    along_with += with_it.along_the_first;
  }
  EXPECT_LT(along_with, 7);  // fewer than one in seven follows the first (none did when written)
}

// Without preemption the in-flight genomes steer the selections, so they must survive a restart:
// restored with them, the strategy makes the original's next proposal; restored from an archive
// without them (as session 19 wrote), it no longer follows the in-flight candidates.
TEST(MctsPreemptive, WithoutItTheInFlightProposalsSteerTheTreeAcrossARestart) {
  Nb201Space space;
  const MctsConfig config = concurrent_config(false);
  int differs_without_genomes = 0;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    SyntheticEvaluator evaluator(space, 4);
    MctsStrategy original(space, config, seed);
    warm_up(original, space, evaluator, 12);
    for (int i = 0; i < 4; ++i) original.on_dispatch(original.propose());
    StateArchive state;
    original.save(state);
    MctsStrategy restored(space, config, seed + 100), forgetful(space, config, seed + 100);
    restored.load(state);
    forgetful.load(without_pending_genomes(state));
    const auto expected = original.propose();
    EXPECT_EQ(restored.propose().genome, expected.genome) << "seed " << seed;
    differs_without_genomes += forgetful.propose().genome != expected.genome;
  }
  EXPECT_GE(differs_without_genomes, 3);
}

/// The proposals of `strategy_yaml` (seed 3) with `workers` evaluations in flight, 30 results.
std::vector<Genome> proposals_of(const std::string& strategy_yaml, const SearchSpace& space, std::size_t workers) {
  SyntheticEvaluator evaluator(space, 5);
  auto strategy = make_strategy(YAML::Load(strategy_yaml), space, 3);
  Scripted run(space, *strategy, 17);
  std::vector<Genome> genomes;
  for (int i = 0; i < 30; ++i)
    for (const auto& p : run.step(evaluator, space, workers)) genomes.push_back(p.genome);
  return genomes;
}

class ThompsonInFlight : public ::testing::TestWithParam<std::string> {};

// With thompson_in_flight 1, mcts and lanas score by ucb when nothing else is in flight and by one
// random ensemble member (Thompson) when other proposals are: exactly the proposals of ucb (0) in a
// sequential search, exactly those of thompson: true with several workers.
TEST_P(ThompsonInFlight, SequentialSearchesKeepUcbConcurrentProposalsUseThompson) {
  Nb201Space space;
  const auto in_flight = with(strategy_yaml(GetParam()), "thompson_in_flight: 1");
  const auto ucb = with(strategy_yaml(GetParam()), "thompson_in_flight: 0");
  const auto thompson = with(strategy_yaml(GetParam()), "thompson: true");
  EXPECT_EQ(proposals_of(in_flight, space, 1), proposals_of(ucb, space, 1));
  EXPECT_NE(proposals_of(thompson, space, 1), proposals_of(ucb, space, 1));  // the modes do differ here
  const auto concurrent = proposals_of(in_flight, space, 4);
  EXPECT_EQ(concurrent, proposals_of(thompson, space, 4));
  EXPECT_NE(concurrent, proposals_of(ucb, space, 4));
  // A weight between: ucb in a sequential search, neither ucb's nor Thompson's proposals in a batch.
  const auto blend = with(strategy_yaml(GetParam()), "thompson_in_flight: 0.5");
  EXPECT_EQ(proposals_of(blend, space, 1), proposals_of(ucb, space, 1));
  const auto blended = proposals_of(blend, space, 4);
  EXPECT_NE(blended, concurrent);
  EXPECT_NE(blended, proposals_of(ucb, space, 4));
}

INSTANTIATE_TEST_SUITE_P(SurrogateStrategies, ThompsonInFlight, ::testing::Values("mcts", "lanas"),
                         [](const auto& param_info) { return param_info.param; });

/// Counts, over a sequential search of `results` results on every test space, the model-driven
/// proposals made while the incumbent (the best result so far) had unseen one-edit neighbours:
/// `checked` of them, `from_incumbent` one edit from the incumbent.
struct NeighbourCounts {
  int checked = 0, from_incumbent = 0;
};
NeighbourCounts neighbour_proposals(const std::string& strategy_yaml, int results) {
  NeighbourCounts counts;
  for (const auto& yaml : testing::space_yamls()) {
    const auto space = space_from(yaml);
    SyntheticEvaluator evaluator(*space, 6);
    auto strategy = make_strategy(YAML::Load(strategy_yaml), *space, 8);
    SearchDriver driver(*space, *strategy);
    std::unordered_set<std::uint64_t> seen;
    std::optional<std::pair<double, Genome>> incumbent;
    for (int i = 0; i < results; ++i) {
      const auto p = driver.next();
      const auto h = space->canonical_hash(p.genome);
      if (i >= 4 && incumbent) {  // past initial_random: 4
        std::unordered_set<std::uint64_t> unseen_next_to_incumbent;
        for (const auto& n : space->neighbours(incumbent->second))
          if (const auto c = space->canonical_hash(n); !seen.count(c)) unseen_next_to_incumbent.insert(c);
        if (!unseen_next_to_incumbent.empty()) {
          ++counts.checked;
          counts.from_incumbent += unseen_next_to_incumbent.count(h) ? 1 : 0;
        }
      }
      const auto r = evaluator.evaluate(*space, p.genome);
      driver.complete(p, r);
      seen.insert(h);
      if (!incumbent || r.objective > incumbent->first) incumbent = {r.objective, p.genome};
    }
  }
  return counts;
}

class IncumbentFirst : public ::testing::TestWithParam<std::string> {};

// With incumbent_first, mcts and lanas propose only the incumbent's unseen neighbours while it has
// any (lanas: the best of them in the region its tree picks); without it they also propose farther
// cells (the control that shows the test can fail).
TEST_P(IncumbentFirst, ProposalsClimbFromTheBestResultWhileItHasUnseenNeighbours) {
  const auto on = neighbour_proposals(with(strategy_yaml(GetParam()), "incumbent_first: true"), 40);
  ASSERT_GT(on.checked, 30);
  EXPECT_EQ(on.from_incumbent, on.checked);
  const auto off = neighbour_proposals(with(strategy_yaml(GetParam()), "incumbent_first: false"), 40);
  ASSERT_GT(off.checked, 30);
  EXPECT_LT(off.from_incumbent, off.checked);
}

INSTANTIATE_TEST_SUITE_P(SurrogateStrategies, IncumbentFirst, ::testing::Values("mcts", "lanas"),
                         [](const auto& param_info) { return param_info.param; });

TEST(LanasStrategy, ProposalLiesInTheLeafTheTreeChose) {
  for (const auto& yaml : testing::space_yamls()) {
    const auto space = space_from(yaml);
    SyntheticEvaluator evaluator(*space, 6);
    LanasStrategy lanas(*space, [] {
      LanasConfig c;
      c.surrogate.initial_random = 4;
      c.min_split = 4;
      c.surrogate.candidates = 32;
      return c;
    }(), 8);
    SearchDriver driver(*space, lanas);
    for (int i = 0; i < 40; ++i) {
      const auto p = driver.next();
      const auto& path = lanas.path_of(p.id);
      ASSERT_FALSE(path.empty());
      ASSERT_TRUE(lanas.tree().is_leaf(path.back()));
      EXPECT_EQ(lanas.tree().route(space->encode(p.genome)), path) << yaml << " proposal " << i;
      driver.complete(p, evaluator.evaluate(*space, p.genome));
    }
    EXPECT_GT(lanas.tree().size(), 1u) << yaml;  // the tree did split
  }
}

TEST(LanasStrategy, EvaluationsInFlightCountAlongTheirPathAcrossRebuilds) {
  Nb201Space space;
  SyntheticEvaluator evaluator(space, 6);
  LanasStrategy lanas(space, LanasConfig{}, 2);
  SearchDriver driver(space, lanas);
  for (int i = 0; i < 20; ++i) {
    const auto p = driver.next();
    driver.complete(p, evaluator.evaluate(space, p.genome));
  }
  const auto a = driver.next();
  const auto b = driver.next();  // both dispatched (preemptively counted)
  const double root_before = lanas.tree().node(0).visits;
  driver.complete(a, evaluator.evaluate(space, a.genome));  // rebuild: 21 results + b in flight
  EXPECT_EQ(lanas.tree().node(0).visits, 22.0);
  EXPECT_EQ(root_before, 22.0);
  EXPECT_EQ(lanas.tree().route(space.encode(b.genome)), lanas.path_of(b.id));
}

// ---------------------------------------------------------------- baselines

TEST(RandomSearch, ProposesEveryClassOnceThenSaysTheSpaceIsExhausted) {
  const auto space = space_from("{name: categorical, choices: [3, 4, 2]}");
  RandomSearch random(*space, 1);
  std::unordered_set<std::uint64_t> classes;
  for (int i = 0; i < 24; ++i) EXPECT_TRUE(classes.insert(space->canonical_hash(random.propose().genome)).second);
  try {
    random.propose();
    ADD_FAILURE() << "expected the exhausted space to be reported";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("exhausted"), std::string::npos) << e.what();
  }
}

TEST(RegularizedEvolution, MutatesTheTournamentWinnerAndAgesOutTheOldest) {
  const auto space = space_from("{name: categorical, choices: [10, 10, 10]}");
  RegularizedEvolution evolution(*space, {4, 4}, 3);  // tournament = population: the best is the parent
  const auto score = [](const Genome& g) { return static_cast<double>(g[0] * 100 + g[1] * 10 + g[2]); };
  const auto result_of = [&](const Genome& g) {
    EvalResult r;
    r.objective = score(g);
    return r;
  };
  std::vector<Genome> population;
  for (int i = 0; i < 4; ++i) {
    const auto p = evolution.propose();
    evolution.on_result(p, result_of(p.genome));
    population.push_back(p.genome);
  }
  for (int round = 0; round < 20; ++round) {
    const auto best = *std::max_element(population.begin(), population.end(),
                                        [&](const Genome& a, const Genome& b) { return score(a) < score(b); });
    const auto p = evolution.propose();
    std::size_t changed = 0;
    for (std::size_t i = 0; i < 3; ++i) changed += p.genome[i] != best[i] ? 1 : 0;
    EXPECT_EQ(changed, 1u) << "round " << round;
    evolution.on_result(p, result_of(p.genome));
    population.push_back(p.genome);
    population.erase(population.begin());  // aging: the oldest dies, whatever its fitness
  }
}

/// Evaluates classes of `space` with regularized evolution through a driver that gives up after
/// 300 free re-proposals in a row; returns how many classes were evaluated before it gave up.
std::uint64_t classes_reached(const SearchSpace& space, std::int32_t stall_limit) {
  SyntheticEvaluator evaluator(space, 5);
  RegularizedEvolution evolution(space, {8, 4, stall_limit}, 11);
  SearchDriver driver(space, evolution);
  driver.set_max_free_proposals(300);
  try {
    while (driver.unique_samples() < 64) {
      const auto p = driver.next();
      driver.complete(p, evaluator.evaluate(space, p.genome));
    }
  } catch (const std::runtime_error&) {
  }
  return driver.unique_samples();
}

TEST(RegularizedEvolution, ConvergedPopulationFallsBackToUniformDrawsInsteadOfStalling) {
  // 64 classes: the population converges and its mutants are all known long before the space is
  // exhausted. Without the fallback the driver gives up early; with it every class is reached.
  const auto space = space_from("{name: categorical, choices: [2, 2, 2, 2, 2, 2]}");
  EXPECT_LT(classes_reached(*space, 0), 64u);
  EXPECT_EQ(classes_reached(*space, 20), 64u);
}

}  // namespace
}  // namespace alphax::search
