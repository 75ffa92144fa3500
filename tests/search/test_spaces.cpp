// Search spaces: canonical hashing, sampling/mutation/tree validity, text forms and their errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <unordered_set>

#include "alphax/search/table_evaluator.hpp"
#include "search_test_util.hpp"

namespace alphax::search {
namespace {

using testing::space_from;

/// Expects `call` to throw std::invalid_argument whose message contains every one of `parts`.
template <typename F>
void expect_invalid(F&& call, const std::vector<std::string>& parts) {
  try {
    call();
    ADD_FAILURE() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    for (const auto& part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << "'" << part << "' not in: " << e.what();
  }
}

// Ops by index in the NB201 genome: 0 none, 1 skip, 2 conv1x1, 3 conv3x3, 4 avg_pool.
constexpr std::int32_t kNone = 0, kSkip = 1, kConv1 = 2, kConv3 = 3, kPool = 4;

std::vector<Genome> all_nb201_cells() {
  std::vector<Genome> cells;
  for (int code = 0; code < 15625; ++code) {
    Genome g(6);
    for (int e = 0, c = code; e < 6; ++e, c /= 5) g[static_cast<std::size_t>(e)] = c % 5;
    cells.push_back(g);
  }
  return cells;
}

TEST(Nb201Space, ParallelBranchesInEitherOrderHashEqual) {
  Nb201Space space;
  // Edges: 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2. Output = conv3(x) + conv1(x), once with conv3
  // through node 1 and conv1 direct, once the other way round.
  const Genome a{kConv3, kNone, kNone, kConv1, kSkip, kNone};
  const Genome b{kConv1, kNone, kNone, kConv3, kSkip, kNone};
  EXPECT_NE(a, b);
  EXPECT_EQ(space.canonical_hash(a), space.canonical_hash(b));
  // NAS-Bench-201 keeps a zero input as a term of its node: with node 2 fed conv1(x) + zero,
  // swapping conv3/conv1 between node 1 and node 2 is a different cell.
  EXPECT_NE(space.canonical_hash({kConv3, kConv1, kNone, kNone, kSkip, kSkip}),
            space.canonical_hash({kConv1, kConv3, kNone, kNone, kSkip, kSkip}));
}

TEST(Nb201Space, SkipConnectionPassesItsInputThrough) {
  Nb201Space space;
  const Genome via_node1{kSkip, kNone, kNone, kNone, kConv3, kNone};  // conv3(node1), node1 = x
  const Genome direct{kNone, kNone, kNone, kConv3, kNone, kNone};     // conv3(x)
  EXPECT_EQ(space.canonical_hash(via_node1), space.canonical_hash(direct));
}

TEST(Nb201Space, EdgesThatCannotReachTheOutputDoNotChangeTheHash) {
  Nb201Space space;
  // Edge 3<-2 is "none": node 2 is dead, so its input edges (2<-0, 2<-1) are irrelevant.
  std::set<std::uint64_t> hashes;
  for (std::int32_t e1 = 0; e1 < 5; ++e1)
    for (std::int32_t e2 = 0; e2 < 5; ++e2) hashes.insert(space.canonical_hash({kConv3, e1, e2, kSkip, kConv1, kNone}));
  EXPECT_EQ(hashes.size(), 1u);
  // With 3<-2 alive the same edges matter.
  hashes.clear();
  for (std::int32_t e1 = 1; e1 < 5; ++e1) hashes.insert(space.canonical_hash({kConv3, e1, kNone, kSkip, kConv1, kConv3}));
  EXPECT_EQ(hashes.size(), 4u);
}

TEST(Nb201Space, DifferentCellsHashDifferently) {
  Nb201Space space;
  const Genome all_conv3(6, kConv3);
  const auto h = space.canonical_hash(all_conv3);
  for (std::size_t e = 0; e < 6; ++e)
    for (std::int32_t op = 0; op < 5; ++op) {
      if (op == kConv3) continue;
      Genome g = all_conv3;
      g[e] = op;
      EXPECT_NE(space.canonical_hash(g), h) << space.format(g);
    }
}

TEST(Nb201Space, WholeSpaceHas6466ClassesAndTheTableCoversThemAll) {
  Nb201Space space;
  std::unordered_set<std::uint64_t> classes;
  for (const auto& g : all_nb201_cells()) classes.insert(space.canonical_hash(g));
  EXPECT_EQ(classes.size(), 6466u);
  TableEvaluator table(testing::nb201_table(), space, {});
  EXPECT_EQ(table.num_rows(), 15625u);
  EXPECT_EQ(table.num_classes(), 6466u);
  const auto hashes = table.class_hashes();
  EXPECT_EQ(std::unordered_set<std::uint64_t>(hashes.begin(), hashes.end()), classes);
}

TEST(Nb201Space, FormatParseRoundTripsEveryCell) {
  Nb201Space space;
  for (const auto& g : all_nb201_cells()) ASSERT_EQ(space.parse(space.format(g)), g);
  EXPECT_EQ(space.format({kConv3, kConv3, kPool, kSkip, kConv3, kSkip}),
            "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|");
}

TEST(Nb201Space, MalformedStringsAreRejectedWithTheReason) {
  Nb201Space space;
  expect_invalid([&] { space.parse(""); }, {"node groups", "need 3"});
  expect_invalid([&] { space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|"); }, {"2 node groups"});
  expect_invalid([&] { space.parse("|conv5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|"); },
                 {"unknown op 'conv5x5'", "valid ops", "nor_conv_3x3"});
  expect_invalid([&] { space.parse("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|"); }, {"none~1", "op~0"});
  expect_invalid([&] { space.parse("|none~0|+|none~0|+|none~0|none~1|none~2|"); }, {"needs 2 edges"});
  expect_invalid([&] { space.parse("none~0|+|none~0|none~1|+|none~0|none~1|none~2|"); }, {"start and end with '|'"});
  expect_invalid([&] { space.parse("|none0|+|none~0|none~1|+|none~0|none~1|none~2|"); }, {"'none0'"});
}

TEST(Nb201Space, SampleMutateAndTreeActionsGiveValidCells) {
  Nb201Space space;
  Rng rng(5);
  for (int i = 0; i < 200; ++i) {
    const auto g = space.sample(rng);
    ASSERT_TRUE(space.is_valid(g));
    const auto m = space.mutate(g, rng);
    ASSERT_TRUE(space.is_valid(m));
    std::size_t changed = 0;
    for (std::size_t e = 0; e < 6; ++e) changed += g[e] != m[e] ? 1 : 0;
    EXPECT_EQ(changed, 1u);
    EXPECT_EQ(space.encode(g).size(), space.encoding_size());
  }
  Genome partial = space.root();
  EXPECT_FALSE(space.is_valid(partial));
  for (std::size_t step = 0; step < 6; ++step) {
    EXPECT_FALSE(space.is_terminal(partial));
    const auto actions = space.actions(partial);
    ASSERT_EQ(actions.size(), 5u);
    partial = space.apply(partial, actions[step % 5]);
  }
  EXPECT_TRUE(space.is_terminal(partial));
  EXPECT_TRUE(space.is_valid(partial));
  EXPECT_TRUE(space.actions(partial).empty());
  EXPECT_THROW(space.apply(partial, {0, 1}), std::invalid_argument);            // decided already
  EXPECT_THROW(space.apply(space.root(), {0, 5}), std::invalid_argument);       // no op 5
  EXPECT_THROW(space.canonical_hash(space.root()), std::invalid_argument);       // partial
}

TEST(Nb201Space, SampleDrawsDistinctCellsUniformlyUnlessTheYamlAsksForCells) {
  // Random search over canonical classes means every class is equally likely by default; `sample:
  // cells` (a uniform op per edge) draws a class in proportion to its size, which is 1 for 5,116
  // classes and up to 275 (cells whose output is the zero tensor, for instance).
  constexpr int kPerClass = 20;
  constexpr int kDraws = 6466 * kPerClass;
  const auto draw = [&](const SearchSpace& space, std::set<Genome>* disconnected_cells) {
    Rng rng(11);
    std::map<std::uint64_t, int> count;
    for (int i = 0; i < kDraws; ++i) {
      const auto g = space.sample(rng);
      ++count[space.canonical_hash(g)];
      if (g[3] == kNone && g[4] == kNone && g[5] == kNone) disconnected_cells->insert(g);
    }
    return count;
  };
  const Genome disconnected_cell{kConv3, kConv3, kConv3, kNone, kNone, kNone};
  const auto by_class = space_from("{name: nb201}");
  std::set<Genome> disconnected_cells;
  auto count = draw(*by_class, &disconnected_cells);
  EXPECT_EQ(count.size(), 6466u);  // ~1e-5 chance that a class is missed at 20 draws per class
  EXPECT_LT(count[by_class->canonical_hash(disconnected_cell)], 3 * kPerClass);
  EXPECT_GT(disconnected_cells.size(), 1u);  // the class's cells are drawn, not one representative
  int largest = 0;
  for (const auto& [h, n] : count) largest = std::max(largest, n);
  EXPECT_LT(largest, 3 * kPerClass);

  const auto by_cell = space_from("{name: nb201, sample: cells}");
  std::set<Genome> disconnected_by_cell;
  count = draw(*by_cell, &disconnected_by_cell);
  int class_size = 0;
  for (const auto& g : all_nb201_cells())
    class_size += by_cell->canonical_hash(g) == by_cell->canonical_hash(disconnected_cell) ? 1 : 0;
  ASSERT_GT(class_size, 125);  // at least the 5^3 cells with "none" on all three output edges
  const double expected_by_cell = static_cast<double>(class_size) * kDraws / 15625.0;
  EXPECT_GT(count[by_cell->canonical_hash(disconnected_cell)], 0.8 * expected_by_cell);
  EXPECT_LT(count[by_cell->canonical_hash(disconnected_cell)], 1.2 * expected_by_cell);

  expect_invalid([] { space_from("{name: nb201, sample: edges}"); }, {"space.sample", "'edges'", "classes", "cells"});
  expect_invalid([] { space_from("{name: nb101, sample: cells}"); }, {"space.sample", "unknown key"});
}

TEST(Nb201Space, IsomorphsEncodeAlike) {
  Nb201Space space;
  // Two paths input->1->3 and input->3 with their ops swapped: one function, one encoding.
  const Genome a{kConv3, kNone, kNone, kConv1, kSkip, kNone};
  const Genome b{kConv1, kNone, kNone, kConv3, kSkip, kNone};
  ASSERT_EQ(space.canonical_hash(a), space.canonical_hash(b));
  EXPECT_EQ(space.encode(a), space.encode(b));
}

// Every cell of a class encodes alike. The converse does not hold: NAS-Bench-201's classes keep
// apart cells that differ only in parts that carry nothing to the output (a node that receives
// nothing, summed in), which the encoding prunes as it always did.
TEST(Nb201Space, CellsOfOneClassEncodeAlike) {
  Nb201Space space;
  std::map<std::uint64_t, std::vector<float>> encoding_of_class;
  std::set<std::vector<float>> encodings;
  for (const auto& g : all_nb201_cells()) {
    const auto x = space.encode(g);
    const auto [by_class, added] = encoding_of_class.emplace(space.canonical_hash(g), x);
    EXPECT_EQ(by_class->second, x) << "cells of one class encode differently: " << space.format(g);
    encodings.insert(x);
  }
  EXPECT_EQ(encoding_of_class.size(), 6466u);
  EXPECT_EQ(encodings.size(), 6236u);  // the 6,466 classes, less those told apart only by dead parts
}

TEST(Nb201Space, EdgesThatFeedNothingToTheOutputEncodeAsNone) {
  Nb201Space space;
  // Edge 2->3 is none, so node 2 reaches nothing: edges 0->2 and 1->2 are dead.
  const Genome a{kConv3, kConv1, kPool, kSkip, kConv3, kNone};
  const Genome b{kConv3, kSkip, kConv3, kSkip, kConv3, kNone};
  const Genome all_none_but_live{kConv3, kNone, kNone, kSkip, kConv3, kNone};
  EXPECT_EQ(space.canonical_hash(a), space.canonical_hash(b));
  EXPECT_EQ(space.encode(a), space.encode(b));
  EXPECT_EQ(space.encode(a), space.encode(all_none_but_live));
  // Edge 0->1 is none, so node 1 receives nothing: edges 1->2 and 1->3 are dead.
  const Genome c{kNone, kConv3, kConv1, kSkip, kPool, kConv3};
  const Genome d{kNone, kConv3, kSkip, kSkip, kConv1, kConv3};
  EXPECT_EQ(space.encode(c), space.encode(d));
  // A live edge keeps its op: changing it changes the encoding.
  const Genome e{kConv3, kConv1, kPool, kSkip, kConv1, kNone};
  EXPECT_NE(space.encode(a), space.encode(e));
  // Partial genomes: an undecided edge may still carry a path, so nothing behind it is pruned.
  Genome partial = space.root();
  partial[0] = kConv3;
  partial[2] = kPool;
  const auto x = space.encode(partial);
  EXPECT_EQ(x[0 * 5 + kConv3], 1.0f);
  EXPECT_EQ(x[2 * 5 + kPool], 1.0f);
}

// ---------------------------------------------------------------- NAS-Bench-101

/// A genome from an edge list and the five interior ops (0 conv3x3, 1 conv1x1, 2 maxpool).
Genome nb101(const std::vector<std::pair<int, int>>& edges, const std::array<std::int32_t, 5>& ops) {
  Genome g(Nb101Space::kAdjacency + Nb101Space::kInterior, 0);
  for (const auto& [from, to] : edges)
    for (std::size_t p = 0; p < Nb101Space::kAdjacency; ++p)
      if (Nb101Space::edge_of(p) == std::array<std::int32_t, 2>{from, to}) g[p] = 1;
  std::copy(ops.begin(), ops.end(), g.begin() + Nb101Space::kAdjacency);
  return g;
}

TEST(Nb101Space, NodesOffEveryInputOutputPathAreLeftOutOfTheEncoding) {
  Nb101Space space;
  // input -> conv3 -> output; a dangling node (2 in a, 3 in b, each with its own op) hangs off the input.
  const auto a = nb101({{0, 1}, {1, 6}, {0, 2}}, {0, 2, 1, 1, 1});
  const auto b = nb101({{0, 1}, {1, 6}, {0, 3}}, {0, 1, 0, 1, 2});
  ASSERT_TRUE(space.is_valid(a));
  ASSERT_TRUE(space.is_valid(b));
  EXPECT_EQ(space.canonical_hash(a), space.canonical_hash(b));
  EXPECT_EQ(space.encode(a), space.encode(b));
  // The op on the path matters.
  const auto c = nb101({{0, 1}, {1, 6}, {0, 2}}, {1, 2, 1, 1, 1});
  EXPECT_NE(space.encode(a), space.encode(c));
}

TEST(Nb101Space, RelabelledInteriorNodesHashEqual) {
  Nb101Space space;
  // input -> conv3 -> maxpool -> output, once through nodes 1,2 and once through nodes 3,5.
  const auto a = nb101({{0, 1}, {1, 2}, {2, 6}}, {0, 2, 1, 1, 1});
  const auto b = nb101({{0, 3}, {3, 5}, {5, 6}}, {1, 1, 0, 1, 2});
  EXPECT_EQ(space.canonical_hash(a), space.canonical_hash(b));
  // Two parallel branches, swapped.
  const auto c = nb101({{0, 1}, {0, 2}, {1, 6}, {2, 6}}, {0, 1, 2, 2, 2});
  const auto d = nb101({{0, 1}, {0, 2}, {1, 6}, {2, 6}}, {1, 0, 0, 0, 0});
  EXPECT_EQ(space.canonical_hash(c), space.canonical_hash(d));
}

TEST(Nb101Space, ValidExactlyWhenTheOutputIsReachableWithAtMostNineEdges) {
  // Every one of the 2^21 adjacency patterns, against a plain depth-first search.
  Nb101Space space;
  Genome g(space.genome_length(), 0);
  std::size_t valid = 0;
  for (std::uint32_t pattern = 0; pattern < (1u << Nb101Space::kAdjacency); ++pattern) {
    bool edge[Nb101Space::kNodes][Nb101Space::kNodes] = {};
    int edges = 0;
    for (std::size_t p = 0; p < Nb101Space::kAdjacency; ++p) {
      g[p] = static_cast<std::int32_t>((pattern >> p) & 1u);
      const auto [from, to] = Nb101Space::edge_of(p);
      edge[from][to] = g[p] == 1;
      edges += g[p];
    }
    bool reached[Nb101Space::kNodes] = {true};
    std::vector<int> stack{0};
    while (!stack.empty()) {
      const int v = stack.back();
      stack.pop_back();
      for (int u = 0; u < Nb101Space::kNodes; ++u) {
        if (!edge[v][u] || reached[u]) continue;
        reached[u] = true;
        stack.push_back(u);
      }
    }
    const bool expected = edges <= 9 && reached[Nb101Space::kNodes - 1];
    ASSERT_EQ(space.is_valid(g), expected) << "adjacency pattern " << pattern;
    valid += expected ? 1 : 0;
  }
  EXPECT_GT(valid, 0u);
}

TEST(SpaceHashes, ValuesAreStableAcrossVersions) {
  // Checkpoints and search logs store canonical hashes (the strategies' seen sets, the driver's
  // cache): a change of hash values would make a resumed search re-propose what it has evaluated.
  // The values below are those of session 18's build (checked against it before the allocation-free
  // graph hash of session 19); a change here needs a checkpoint format version bump.
  Nb101Space nb101_space;
  const auto cell = nb101({{0, 1}, {1, 6}, {0, 2}, {2, 6}, {1, 2}}, {0, 1, 2, 0, 1});
  EXPECT_EQ(nb101_space.canonical_hash(cell), 13486071526070255596ull);
  Nb201Space nb201_space;
  EXPECT_EQ(nb201_space.canonical_hash({kConv3, kConv3, kPool, kSkip, kConv3, kSkip}), 2496562174003688711ull);
}

TEST(Nb101Space, NodesOffEveryInputOutputPathArePruned) {
  Nb101Space space;
  const auto base = nb101({{0, 1}, {1, 6}}, {0, 0, 0, 0, 0});
  const auto dead_end = nb101({{0, 1}, {1, 6}, {0, 4}}, {0, 0, 0, 2, 0});      // 4 never reaches the output
  const auto no_input = nb101({{0, 1}, {1, 6}, {3, 6}}, {0, 0, 1, 0, 0});      // 3 never gets the input
  EXPECT_EQ(space.canonical_hash(base), space.canonical_hash(dead_end));
  EXPECT_EQ(space.canonical_hash(base), space.canonical_hash(no_input));
  EXPECT_EQ(space.to_cell(dead_end).num_nodes, 3);
}

TEST(Nb101Space, IteratedHashSeparatesCellsWithEqualDegreesAndOps) {
  Nb101Space space;
  // Two chains of two convs each; equal multisets of (in-degree, out-degree, op) per vertex, but
  // one pairs conv3-conv1 twice and the other conv3-conv3 with conv1-conv1.
  const auto mixed = nb101({{0, 1}, {1, 3}, {3, 6}, {0, 2}, {2, 4}, {4, 6}}, {0, 1, 1, 0, 0});
  const auto paired = nb101({{0, 1}, {1, 3}, {3, 6}, {0, 2}, {2, 4}, {4, 6}}, {0, 1, 0, 1, 0});
  EXPECT_NE(space.canonical_hash(mixed), space.canonical_hash(paired));
  // Any op change on a live node, or a new live edge, changes the class.
  auto other_op = mixed;
  other_op[Nb101Space::kAdjacency] = 2;
  EXPECT_NE(space.canonical_hash(mixed), space.canonical_hash(other_op));
  const auto extra_edge = nb101({{0, 1}, {1, 3}, {3, 6}, {0, 2}, {2, 4}, {4, 6}, {0, 6}}, {0, 1, 1, 0, 0});
  EXPECT_NE(space.canonical_hash(mixed), space.canonical_hash(extra_edge));
}

TEST(Nb101Space, GraphHashIsInvariantUnderVertexPermutation) {
  Nb101Space space;
  Rng rng(17);
  for (int trial = 0; trial < 200; ++trial) {
    const auto g = space.sample(rng);
    const auto cell = space.to_cell(g);  // pruned
    const auto n = static_cast<std::size_t>(cell.num_nodes);
    std::vector<std::vector<bool>> adj(n, std::vector<bool>(n, false));
    for (const auto& e : cell.edges) adj[static_cast<std::size_t>(e.from)][static_cast<std::size_t>(e.to)] = true;
    std::vector<std::int32_t> labels(n);
    for (std::size_t v = 0; v < n; ++v) {
      const auto& op = cell.node_ops[v];
      const auto it = std::find(Nb101Space::ops().begin(), Nb101Space::ops().end(), op);
      labels[v] = v == 0 ? -1 : v + 1 == n ? -2 : static_cast<std::int32_t>(it - Nb101Space::ops().begin());
    }
    std::vector<std::size_t> perm(n);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    std::vector<std::vector<bool>> padj(n, std::vector<bool>(n, false));
    std::vector<std::int32_t> plabels(n);
    for (std::size_t a = 0; a < n; ++a) {
      plabels[perm[a]] = labels[a];
      for (std::size_t b = 0; b < n; ++b) padj[perm[a]][perm[b]] = adj[a][b];
    }
    ASSERT_EQ(graph_hash(adj, labels), graph_hash(padj, plabels));
    ASSERT_EQ(graph_hash(adj, labels), space.canonical_hash(g));
  }
}

TEST(Nb101Space, SampleMutateAndTreeActionsRespectTheEdgeLimit) {
  Nb101Space space;
  Rng rng(3);
  const auto edges = [](const Genome& g) {
    return std::count(g.begin(), g.begin() + Nb101Space::kAdjacency, 1);
  };
  for (int i = 0; i < 200; ++i) {
    const auto g = space.sample(rng);
    ASSERT_TRUE(space.is_valid(g));
    ASSERT_LE(edges(g), 9);
    const auto m = space.mutate(g, rng);
    ASSERT_TRUE(space.is_valid(m));
    EXPECT_NE(m, g);
    EXPECT_EQ(space.encode(m).size(), space.encoding_size());
  }
  int valid = 0;
  for (int i = 0; i < 100; ++i) {
    Genome partial = space.root();
    while (!space.is_terminal(partial)) {
      const auto actions = space.actions(partial);
      ASSERT_FALSE(actions.empty());
      partial = space.apply(partial, actions[std::uniform_int_distribution<std::size_t>(0, actions.size() - 1)(rng)]);
      ASSERT_LE(std::count(partial.begin(), partial.begin() + Nb101Space::kAdjacency, 1), 9);
    }
    valid += space.is_valid(partial) ? 1 : 0;  // a completion may lack an input->output path
  }
  EXPECT_GT(valid, 0);
  EXPECT_THROW(space.apply(space.root(), {0, 2}), std::invalid_argument);  // an edge bit is 0 or 1
}

TEST(Nb101Space, FormatParseRoundTripsAndMalformedStringsAreRejected) {
  Nb101Space space;
  Rng rng(8);
  for (int i = 0; i < 200; ++i) {
    const auto g = space.sample(rng);
    ASSERT_EQ(space.parse(space.format(g)), g);
  }
  const std::string ops = "|conv3x3-bn-relu,conv1x1-bn-relu,maxpool3x3,conv3x3-bn-relu,conv3x3-bn-relu";
  const std::string chain = "100000100001000100101";  // 0->1->2->3->4->5->6
  ASSERT_NO_THROW(space.parse(chain + ops));
  expect_invalid([&] { space.parse("10000" + ops); }, {"21 adjacency bits"});
  expect_invalid([&] { space.parse("10000010000010001000x" + ops); }, {"'x'", "not 0 or 1"});
  expect_invalid([&] { space.parse(chain + "|conv3x3-bn-relu,conv1x1-bn-relu"); }, {"exactly 5 ops"});
  expect_invalid([&] { space.parse(chain + "|conv3x3-bn-relu,conv1x1-bn-relu,maxpool3x3,conv3x3-bn-relu,conv7x7"); },
                 {"unknown op 'conv7x7'", "maxpool3x3"});
  expect_invalid([&] { space.parse("111111111100000000000" + ops); }, {"more than 9 edges"});
  expect_invalid([&] { space.parse("100000000000000000000" + ops); }, {"no input->output path"});
}

// ---------------------------------------------------------------- categorical

TEST(CategoricalSpace, YamlChoicesAndPositionsDefineTheSpace) {
  const auto a = space_from("{name: categorical, choices: [3, 4, 2]}");
  EXPECT_EQ(a->genome_length(), 3u);
  EXPECT_EQ(a->encoding_size(), 9u);
  EXPECT_EQ(a->format({2, 3, 1}), "231");
  const auto b = space_from("{name: categorical, positions: [{name: depth, values: [8, 16]}, {values: [a, b, c]}]}");
  EXPECT_EQ(b->genome_length(), 2u);
  const auto& positions = dynamic_cast<const CategoricalSpace&>(*b).positions();
  EXPECT_EQ(positions[0].name, "depth");
  EXPECT_EQ(positions[1].values[2], "c");
  EXPECT_EQ(b->to_cell({1, 2}).edges[1].op, "c");
}

TEST(CategoricalSpace, BadYamlNamesTheKey) {
  expect_invalid([] { space_from("{name: categorical}"); }, {"space.choices or space.positions"});
  expect_invalid([] { space_from("{name: categorical, choices: [3, 1]}"); }, {"space.choices[1]", "at least 2"});
  expect_invalid([] { space_from("{name: categorical, choices: [3, x]}"); }, {"space.choices[1]", "not an integer"});
  expect_invalid([] { space_from("{name: categorical, choices: [3], positions: []}"); }, {"not both"});
  expect_invalid([] { space_from("{name: categorical, choices: [3], lenght: 4}"); }, {"space.lenght", "unknown key"});
  expect_invalid([] { space_from("{name: categorical, positions: [{values: [a]}]}"); },
                 {"space.positions[0].values", "at least 2"});
}

TEST(CategoricalSpace, EveryGenomeIsItsOwnClassAndRoundTrips) {
  const auto space = space_from("{name: categorical, choices: [3, 4, 2]}");
  std::unordered_set<std::uint64_t> hashes;
  for (std::int32_t a = 0; a < 3; ++a)
    for (std::int32_t b = 0; b < 4; ++b)
      for (std::int32_t c = 0; c < 2; ++c) {
        const Genome g{a, b, c};
        hashes.insert(space->canonical_hash(g));
        ASSERT_EQ(space->parse(space->format(g)), g);
      }
  EXPECT_EQ(hashes.size(), 24u);
}

TEST(CategoricalSpace, WideChoicesUseDashesAndMalformedStringsAreRejected) {
  const auto space = space_from("{name: categorical, choices: [12, 3]}");
  EXPECT_EQ(space->format({11, 2}), "11-2");
  EXPECT_EQ(space->parse("11-2"), (Genome{11, 2}));
  expect_invalid([&] { space->parse("11-2-0"); }, {"3 values", "2 positions"});
  expect_invalid([&] { space->parse("12-0"); }, {"'12'", "0..11"});
  expect_invalid([&] { space->parse("a-0"); }, {"'a'"});
  expect_invalid([&] { space->parse("-0"); }, {"''"});
  const auto digits = space_from("{name: categorical, choices: [3, 3]}");
  expect_invalid([&] { digits->parse("13"); }, {"'3'", "0..2"});
  expect_invalid([&] { digits->parse("1"); }, {"1 values"});
}

TEST(CategoricalSpace, SampleMutateAndTreeActionsGiveValidGenomes) {
  const auto space = space_from("{name: categorical, choices: [3, 5, 2, 4]}");
  Rng rng(2);
  for (int i = 0; i < 200; ++i) {
    const auto g = space->sample(rng);
    ASSERT_TRUE(space->is_valid(g));
    const auto m = space->mutate(g, rng);
    ASSERT_TRUE(space->is_valid(m));
    std::size_t changed = 0;
    for (std::size_t p = 0; p < g.size(); ++p) changed += g[p] != m[p] ? 1 : 0;
    EXPECT_EQ(changed, 1u);
  }
  Genome partial = space->root();
  std::vector<std::size_t> widths;
  while (!space->is_terminal(partial)) {
    const auto actions = space->actions(partial);
    widths.push_back(actions.size());
    partial = space->apply(partial, actions.back());
  }
  EXPECT_EQ(widths, (std::vector<std::size_t>{3, 5, 2, 4}));
  EXPECT_EQ(partial, (Genome{2, 4, 1, 3}));
  EXPECT_THROW(space->apply(space->root(), {1, 5}), std::invalid_argument);
}

/// Positions in which `a` and `b` differ.
std::size_t edit_distance(const Genome& a, const Genome& b) {
  std::size_t d = 0;
  for (std::size_t p = 0; p < a.size(); ++p) d += a[p] != b[p] ? 1 : 0;
  return d;
}

TEST(Neighbours, CategoricalGivesEveryOtherValueOfEveryPositionInOrder) {
  const auto space = space_from("{name: categorical, choices: [3, 5, 2]}");
  const Genome g{1, 0, 1};
  const auto n = space->neighbours(g);
  ASSERT_EQ(n.size(), 2u + 4u + 1u);
  EXPECT_EQ(n.front(), (Genome{0, 0, 1}));
  EXPECT_EQ(n[1], (Genome{2, 0, 1}));
  EXPECT_EQ(n.back(), (Genome{1, 0, 0}));
  for (const auto& m : n) EXPECT_EQ(edit_distance(g, m), 1u);
  EXPECT_EQ(std::set<Genome>(n.begin(), n.end()).size(), n.size());
}

TEST(Neighbours, GraphSpacesGiveOnlyValidOneEditCells) {
  for (const auto* yaml : {"{name: nb201}", "{name: nb101}"}) {
    const auto space = space_from(yaml);
    Rng rng(5);
    for (int i = 0; i < 20; ++i) {
      const auto g = space->sample(rng);
      const auto n = space->neighbours(g);
      EXPECT_FALSE(n.empty()) << yaml;
      for (const auto& m : n) {
        ASSERT_TRUE(space->is_valid(m)) << yaml;
        EXPECT_EQ(edit_distance(g, m), 1u) << yaml;
      }
      if (std::string(yaml) == "{name: nb201}") {
        EXPECT_EQ(n.size(), 24u);  // 6 edges x 4 other ops
      }
    }
  }
}

// ---------------------------------------------------------------- registry

TEST(Registry, UnknownSpaceOrStrategyNamesTheValidChoices) {
  expect_invalid([] { space_from("{name: nb301}"); }, {"space.name", "'nb301'", "nb201, nb101, categorical"});
  expect_invalid([] { space_from("{}"); }, {"space.name: missing"});
  expect_invalid([] { make_space(YAML::Node()); }, {"space: missing"});
  expect_invalid([] { space_from("{name: nb201, edges: 6}"); }, {"space.edges", "unknown key"});
  Nb201Space space;
  expect_invalid([&] { make_strategy(YAML::Load("{name: bayesopt}"), space, 0); },
                 {"strategy.name", "'bayesopt'", "random, evolution, mcts, lanas"});
  expect_invalid([&] { make_strategy(YAML::Load("{name: mcts, cpp: 1}"), space, 0); }, {"strategy.cpp", "unknown key"});
  expect_invalid([&] { make_strategy(YAML::Load("{name: mcts, cp: high}"), space, 0); }, {"strategy.cp", "not a number"});
  expect_invalid([&] { make_strategy(YAML::Load("{name: mcts, thompson_in_flight: 1.5}"), space, 0); },
                 {"strategy.thompson_in_flight", "[0, 1]"});
  expect_invalid([&] { make_strategy(YAML::Load("{name: evolution, population: 5, tournament: 9}"), space, 0); },
                 {"strategy.tournament"});
  expect_invalid([&] { make_strategy(YAML::Load("{name: lanas, predictor: {hiden: 3}}"), space, 0); },
                 {"strategy.predictor.hiden"});
}

}  // namespace
}  // namespace alphax::search
