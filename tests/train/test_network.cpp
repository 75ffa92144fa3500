#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <random>
#include <stdexcept>
#include <vector>

#include "alphax/tensor/loss.hpp"
#include "alphax/train/network.hpp"

namespace alphax::train {
namespace {

constexpr const char* kCell =
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";

NetworkSpec nb201_spec(const std::string& cell, std::int32_t n, std::int32_t c, std::int64_t side = 28) {
  NetworkSpec spec;
  spec.cell = parse_nb201_cell(cell);
  spec.cells_per_stage = n;
  spec.channels = c;
  spec.input_channels = 1;
  spec.input_height = side;
  spec.input_width = side;
  spec.num_classes = 10;
  return spec;
}

std::int64_t conv_bn(std::int64_t in, std::int64_t out, std::int64_t k) { return out * in * k * k + 2 * out; }

TEST(NetworkSize, Nb201CellParameterCountMatchesTheHandCount) {
  const Network net(nb201_spec(kCell, 1, 16));
  // stem conv3x3 1->16 + BN; five nor_conv_3x3 edges per cell (skip_connect has no weights);
  // reduction = ReLU-conv3x3 s2-BN + ReLU-conv3x3-BN + 1x1 shortcut conv; final BN; dense 64->10.
  const std::int64_t expected = conv_bn(1, 16, 3) + 5 * conv_bn(16, 16, 3) +
                                (conv_bn(16, 32, 3) + conv_bn(32, 32, 3) + 32 * 16) + 5 * conv_bn(32, 32, 3) +
                                (conv_bn(32, 64, 3) + conv_bn(64, 64, 3) + 64 * 32) + 5 * conv_bn(64, 64, 3) +
                                2 * 64 + (64 * 10 + 10);
  EXPECT_EQ(expected, 316058);
  EXPECT_EQ(net.parameter_count(), expected);
  EXPECT_GE(net.parameters().size(), expected);  // flat buffer: the same plus alignment padding
}

TEST(NetworkSize, Nb201CellFlopsMatchTheHandCount) {
  const Network net(nb201_spec(kCell, 1, 16));
  auto conv = [](std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t side) {
    return 2 * in * out * k * k * side * side;
  };
  const std::int64_t expected = conv(1, 16, 3, 28) + 5 * conv(16, 16, 3, 28) + conv(16, 32, 3, 14) +
                                conv(32, 32, 3, 14) + conv(16, 32, 1, 14) + 5 * conv(32, 32, 3, 14) +
                                conv(32, 64, 3, 7) + conv(64, 64, 3, 7) + conv(32, 64, 1, 7) +
                                5 * conv(64, 64, 3, 7) + 2 * 64 * 10;
  EXPECT_EQ(net.flops_per_sample(), expected);
}

TEST(NetworkSize, NoneEdgesAndPoolsHaveNoParametersAndMoreCellsAddWeights) {
  const Network pools(nb201_spec("|avg_pool_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|", 1, 8));
  const std::int64_t fixed = conv_bn(1, 8, 3) + (conv_bn(8, 16, 3) + conv_bn(16, 16, 3) + 16 * 8) +
                             (conv_bn(16, 32, 3) + conv_bn(32, 32, 3) + 32 * 16) + 2 * 32 + 32 * 10 + 10;
  EXPECT_EQ(pools.parameter_count(), fixed);
  const Network two(nb201_spec("|nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|none~2|", 2, 8));
  EXPECT_EQ(two.parameter_count(), fixed + 2 * (conv_bn(8, 8, 1) + conv_bn(16, 16, 1) + conv_bn(32, 32, 1)));
}

TEST(NetworkSize, PlainCnnHasThreeConvLayers) {
  NetworkSpec spec;
  spec.skeleton = "plain";
  spec.channels = 8;
  const Network net(spec);
  EXPECT_EQ(net.parameter_count(), conv_bn(1, 8, 3) + conv_bn(8, 16, 3) + conv_bn(16, 32, 3) + 32 * 10 + 10);
}

TEST(NetworkBuild, BadSpecsThrowNamingTheField) {
  NetworkSpec spec = nb201_spec(kCell, 1, 16);
  spec.skeleton = "resnet";
  EXPECT_THROW(Network{spec}, std::invalid_argument);
  spec = nb201_spec(kCell, 1, 0);
  EXPECT_THROW(Network{spec}, std::invalid_argument);
  spec = nb201_spec(kCell, 1, 4, 30);  // 30 -> 15 -> 8 (conv) vs 7 (pool): does not fit the skeleton
  try {
    Network net(spec);
    FAIL() << "no error for a 30x30 input";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("divisible by 4"), std::string::npos) << e.what();
  }
}

TEST(NetworkInit, SameSeedSameWeightsOtherSeedOtherWeights) {
  Network a(nb201_spec(kCell, 1, 4));
  Network b(nb201_spec(kCell, 1, 4));
  a.initialize(5);
  b.initialize(5);
  const auto va = a.parameters().values();
  const auto vb = b.parameters().values();
  EXPECT_TRUE(std::equal(va.begin(), va.end(), vb.begin()));
  b.initialize(6);
  EXPECT_FALSE(std::equal(va.begin(), va.end(), b.parameters().values().begin()));
}

// For every parameter tensor p: the derivative of the loss along p's own gradient direction
// (d = g_p / |g_p|, so the exact value is |g_p|) by central differences vs the backward pass, on a
// small network in float. Checks that the wiring (shared ReLUs, node sums, skip/pool edges,
// reduction shortcut) routes every gradient. Returns the name of the worst parameter and its error
// relative to |g_p| (+ a small absolute allowance for float rounding).
std::pair<std::string, double> check_gradient(NetworkSpec spec, std::uint64_t seed) {
  spec.input_height = 8;
  spec.input_width = 8;
  Network net(spec);
  net.initialize(seed);
  std::mt19937_64 rng(seed);
  tensor::Tensor x(tensor::Shape{6, spec.input_channels, 8, 8});
  tensor::fill_normal(x, 0.0f, 1.0f, rng);
  std::vector<std::int32_t> labels{0, 1, 2, 3, 4, 5};
  auto loss_at = [&]() {
    return static_cast<double>(tensor::softmax_cross_entropy(net.forward(x, true), labels, nullptr));
  };
  const auto& logits = net.forward(x, true);
  tensor::Tensor dlogits(logits.shape());
  (void)tensor::softmax_cross_entropy(logits, labels, &dlogits);
  net.backward(dlogits);
  const std::vector<float> grads(net.parameters().grads().begin(), net.parameters().grads().end());
  auto w = net.parameters().values();
  const std::vector<float> w0(w.begin(), w.end());
  std::pair<std::string, double> worst{"", 0.0};
  for (const auto& p : net.parameters().parameters()) {
    const auto begin = static_cast<std::size_t>(p.offset);
    const auto end = begin + static_cast<std::size_t>(p.shape.size());
    double norm = 0;
    for (auto i = begin; i < end; ++i) norm += static_cast<double>(grads[i]) * grads[i];
    norm = std::sqrt(norm);
    if (norm < 1e-4) continue;
    auto loss_shifted = [&](double h) {
      for (auto i = begin; i < end; ++i) w[i] = static_cast<float>(w0[i] + h * grads[i] / norm);
      const double l = loss_at();
      for (auto i = begin; i < end; ++i) w[i] = w0[i];
      return l;
    };
    // A step can cross a ReLU or max-pool kink, and float rounding limits small steps: take the best
    // of three step sizes (a wrong gradient is wrong at every step size).
    double error = 1e300;
    for (const double eps : {1e-3, 3e-4, 1e-4}) {
      const double numeric = (loss_shifted(eps) - loss_shifted(-eps)) / (2 * eps);
      error = std::min(error, std::abs(numeric - norm) / (norm + 1e-2));
    }
    if (error > worst.second) worst = {p.name, error};
  }
  return worst;
}

TEST(NetworkGradient, Nb201CellBackwardMatchesFiniteDifferences) {
  const auto [name, error] = check_gradient(nb201_spec(kCell, 1, 3), 1);
  EXPECT_LT(error, 0.05) << name;
  const auto [name2, error2] = check_gradient(
      nb201_spec("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|", 2, 3), 2);
  EXPECT_LT(error2, 0.05) << name2;
}

TEST(NetworkGradient, Nb101NodeOpsBackwardMatchesFiniteDifferences) {
  NetworkSpec spec = nb201_spec(kCell, 1, 3);
  spec.cell.num_nodes = 4;
  spec.cell.node_ops = {"input", "conv3x3-bn-relu", "maxpool3x3", "conv1x1-bn-relu"};
  spec.cell.edges = {{0, 1, "identity"}, {0, 2, "identity"}, {1, 2, "identity"}, {2, 3, "identity"}, {0, 3, "identity"}};
  const auto [name, error] = check_gradient(spec, 3);
  EXPECT_LT(error, 0.05) << name;
}

TEST(NetworkGradient, PlainCnnBackwardMatchesFiniteDifferences) {
  NetworkSpec spec;
  spec.skeleton = "plain";
  spec.channels = 3;
  const auto [name, error] = check_gradient(spec, 4);
  EXPECT_LT(error, 0.05) << name;
}

TEST(NetworkForward, RejectsAnInputOfTheWrongShape) {
  Network net(nb201_spec(kCell, 1, 4));
  net.initialize(1);
  tensor::Tensor x(tensor::Shape{2, 3, 28, 28});
  EXPECT_THROW((void)net.forward(x, true), std::invalid_argument);
}

}  // namespace
}  // namespace alphax::train
