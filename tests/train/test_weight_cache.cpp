// Weight transfer: cell distance, layer-by-layer copy by name and shape, serialisation, the cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>

#include "alphax/train/weight_cache.hpp"
#include "synthetic_data.hpp"

namespace alphax::train {
namespace {

constexpr const char* kParent =
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|";
constexpr const char* kChild =  // edge 1->2 changes op
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|";

TEST(CellDistance, CountsDifferingEdgeAndNodeOps) {
  EXPECT_EQ(cell_distance(parse_nb201_cell(kParent), parse_nb201_cell(kParent)), 0);
  EXPECT_EQ(cell_distance(parse_nb201_cell(kParent), parse_nb201_cell(kChild)), 1);
  const auto none = parse_nb201_cell("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|");
  EXPECT_EQ(cell_distance(parse_nb201_cell(kParent), none), 6);
  CellSpec a{3, {"", "conv3x3-bn-relu", ""}, {{0, 1, "identity"}, {1, 2, "identity"}}};
  CellSpec b{3, {"", "maxpool3x3", ""}, {{0, 1, "skip_connect"}, {1, 2, "identity"}, {0, 2, "identity"}}};
  EXPECT_EQ(cell_distance(a, b), 2);  // node 1's op, and the extra edge 0->2
}

Network build(const char* cell, std::uint64_t seed) {
  const auto data = testing::quadrant_set(8, 1);
  Network net(make_network_spec(testing::tiny_config().network, parse_nb201_cell(cell), data));
  net.initialize(seed);
  return net;
}

std::vector<float> values_of(const Network& net, const std::string& name) {
  for (const auto& p : net.parameters().parameters()) {
    if (p.name != name) continue;
    const auto v = net.parameters().values();
    return std::vector<float>(v.begin() + p.offset, v.begin() + p.offset + p.shape.size());
  }
  ADD_FAILURE() << "no parameter " << name;
  return {};
}

TEST(LoadMatchingWeights, CopiesEveryLayerTheChildSharesAndKeepsTheRest) {
  Network parent = build(kParent, 1);
  parent.parameters().states()[0] = 42.0f;  // a trained batch-norm statistic
  Network child = build(kChild, 2);
  const std::string changed = "stage0.cell0.edge1-2.nor_conv_3x3.conv.weight";
  const std::string shared = "stage0.cell0.edge0-1.nor_conv_3x3.conv.weight";
  const auto fresh = values_of(child, changed);
  const auto report = load_matching_weights(copy_weights(parent), child);
  EXPECT_EQ(values_of(child, shared), values_of(parent, shared));
  EXPECT_EQ(values_of(child, "classifier.weight"), values_of(parent, "classifier.weight"));
  EXPECT_EQ(values_of(child, "stem.conv.weight"), values_of(parent, "stem.conv.weight"));
  EXPECT_EQ(values_of(child, changed), fresh);  // no counterpart in the parent (it had a 1x1 there)
  EXPECT_EQ(child.parameters().states()[0], 42.0f);
  EXPECT_GT(report.scalars, 0);
  EXPECT_LT(report.scalars, report.total_scalars);
  EXPECT_EQ(report.total_scalars, child.parameter_count());
}

TEST(LoadMatchingWeights, SkipsTensorsWhoseShapeDiffers) {
  Network parent = build(kParent, 1);
  NetworkWeights weights = copy_weights(parent);
  for (auto& t : weights.parameters) {
    if (t.name == "classifier.weight") t.shape = {t.shape[1], t.shape[0]};  // same size, other shape
  }
  Network child = build(kParent, 2);
  const auto fresh = values_of(child, "classifier.weight");
  (void)load_matching_weights(weights, child);
  EXPECT_EQ(values_of(child, "classifier.weight"), fresh);
  EXPECT_EQ(values_of(child, "stem.conv.weight"), values_of(parent, "stem.conv.weight"));
}

TEST(SerializeWeights, RoundTripsAndRejectsDamage) {
  const NetworkWeights w = copy_weights(build(kParent, 1));
  const auto bytes = serialize_weights(w);
  const NetworkWeights back = deserialize_weights(bytes);
  ASSERT_EQ(back.parameters.size(), w.parameters.size());
  ASSERT_EQ(back.states.size(), w.states.size());
  for (std::size_t i = 0; i < w.parameters.size(); ++i) {
    EXPECT_EQ(back.parameters[i].name, w.parameters[i].name);
    EXPECT_EQ(back.parameters[i].shape, w.parameters[i].shape);
    EXPECT_EQ(back.parameters[i].values, w.parameters[i].values);
  }
  EXPECT_THROW((void)deserialize_weights(std::span(bytes).first(bytes.size() / 2)), std::runtime_error);
  auto foreign = bytes;
  foreign[0] = std::byte{0};
  EXPECT_THROW((void)deserialize_weights(foreign), std::runtime_error);
}

std::shared_ptr<const NetworkWeights> no_weights() { return std::make_shared<NetworkWeights>(); }

TEST(WeightCache, KeepsTheMostRecentlyUsedAndSparesPinnedEntries) {
  WeightCache cache(2);
  const auto cell = parse_nb201_cell(kParent);
  cache.insert("a", cell, no_weights());
  cache.insert("b", cell, no_weights());
  cache.pin("a");                         // a is in use (and now the most recent)
  cache.insert("c", cell, no_weights());  // over capacity: b, the least recent unpinned, goes
  ASSERT_EQ(cache.entries().size(), 2u);
  EXPECT_EQ(cache.entries()[0].key, "a");
  EXPECT_EQ(cache.entries()[1].key, "c");
  cache.pin("c");
  cache.insert("d", cell, no_weights());  // a and c pinned, d the newest: the cache holds 3
  ASSERT_EQ(cache.entries().size(), 3u);
  cache.unpin("a");  // released: a, now the least recent unpinned, goes
  ASSERT_EQ(cache.entries().size(), 2u);
  EXPECT_EQ(cache.entries()[0].key, "c");
  EXPECT_EQ(cache.entries()[1].key, "d");
  EXPECT_THROW(cache.pin("nothing"), std::out_of_range);
  EXPECT_THROW(WeightCache(0), std::invalid_argument);
}

TEST(WeightCache, ClosestPrefersFewestDifferencesThenTheMostRecent) {
  WeightCache cache(4);
  EXPECT_FALSE(cache.closest(parse_nb201_cell(kChild)).has_value());
  cache.insert("parent", parse_nb201_cell(kParent), no_weights());
  cache.insert("none", parse_nb201_cell("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"), no_weights());
  auto match = cache.closest(parse_nb201_cell(kChild));
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->key, "parent");
  EXPECT_EQ(match->distance, 1);
  cache.insert("twin", parse_nb201_cell(kParent), no_weights());  // same distance, more recent
  EXPECT_EQ(cache.closest(parse_nb201_cell(kChild))->key, "twin");
  EXPECT_FALSE(
      cache
          .closest(parse_nb201_cell("|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|"
                                    "avg_pool_3x3~1|avg_pool_3x3~2|"),
                   /*max_distance=*/2)
          .has_value());
}

TEST(WeightCache, RestoreReproducesTheSavedOrderAndPins) {
  WeightCache cache(2);
  cache.insert("a", parse_nb201_cell(kParent), no_weights());
  cache.insert("b", parse_nb201_cell(kChild), no_weights());
  cache.pin("a");
  WeightCache copy(2);
  copy.restore(cache.entries());
  ASSERT_EQ(copy.entries().size(), 2u);
  EXPECT_EQ(copy.entries()[0].key, "b");
  EXPECT_EQ(copy.entries()[1].key, "a");
  EXPECT_EQ(copy.entries()[1].pins, 1);
  auto twice = cache.entries();
  twice.push_back(twice[0]);
  EXPECT_THROW(copy.restore(twice), std::invalid_argument);
}

TEST(EpochsWithParent, IsTheConfiguredFractionRoundedUp) {
  TrainConfig c;
  c.epochs = 4;
  c.transfer.epochs_fraction = 0.5;
  EXPECT_EQ(epochs_with_parent(c), 2);
  c.epochs = 5;
  EXPECT_EQ(epochs_with_parent(c), 3);
  c.epochs = 1;
  c.transfer.epochs_fraction = 0.1;
  EXPECT_EQ(epochs_with_parent(c), 1);
}

TEST(WeightCache, OnlyNetworksTrainedFromScratchBecomeParentsWhenAsked) {
  TransferConfig c;
  EXPECT_TRUE(may_become_parent(c, /*trained_from_parent=*/false));
  EXPECT_TRUE(may_become_parent(c, /*trained_from_parent=*/true));
  c.parents = "scratch";
  EXPECT_TRUE(may_become_parent(c, false));
  EXPECT_FALSE(may_become_parent(c, true));
}

}  // namespace
}  // namespace alphax::train
