#include <gtest/gtest.h>

#include <cmath>

#include "alphax/comm/cost_model.hpp"
#include "alphax/comm/types.hpp"

namespace alphax::comm {
namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;
// A 200 Mbit/s link with 100 µs latency, like the shaped test network.
constexpr LinkModel kSlowNetwork{1e-4, 1.0 / 25e6};

TEST(CostModel, BlockSizeFollowsSquareRootFormula) {
  const LinkModel link{1e-5, 1e-9};  // b* ≈ 236 KB: inside the clamp
  const std::size_t n = 16 * kMiB;
  const double ideal = std::sqrt(static_cast<double>(n) * link.alpha_s / (3.0 * link.beta_s_per_byte));
  const std::size_t block = optimal_block_bytes(Collective::broadcast, 4, n, link);
  EXPECT_LE(block, static_cast<std::size_t>(ideal));
  EXPECT_GT(block + 64, static_cast<std::size_t>(ideal));
  EXPECT_EQ(block % 64, 0u);
}

TEST(CostModel, BlockSizeIsClampedPerCollective) {
  const LinkModel latency_bound{1e-2, 1e-12};
  EXPECT_EQ(optimal_block_bytes(Collective::broadcast, 2, 64 * kMiB, latency_bound), kMaxBroadcastBlockBytes);
  EXPECT_EQ(optimal_block_bytes(Collective::reduce, 2, 64 * kMiB, latency_bound), kMaxReduceBlockBytes);
  const LinkModel bandwidth_bound{1e-9, 1e-6};
  EXPECT_EQ(optimal_block_bytes(Collective::allreduce, 8, 1024, bandwidth_bound), kMinBlockBytes);
  EXPECT_EQ(optimal_block_bytes(Collective::allreduce, 8, 1024, LinkModel{}), kDefaultBlockBytes);
}

TEST(CostModel, LpBroadcastIsFlatInRanksWhileTreeGrowsWithLogP) {
  const std::size_t n = 16 * kMiB;
  const std::size_t b = optimal_block_bytes(Collective::broadcast, 8, n, kSlowNetwork);
  const double lp2 = predict_seconds(Collective::broadcast, Algorithm::lp, 2, n, b, kSlowNetwork);
  const double lp8 = predict_seconds(Collective::broadcast, Algorithm::lp, 8, n, b, kSlowNetwork);
  const double tree8 = predict_seconds(Collective::broadcast, Algorithm::mpi, 8, n, b, kSlowNetwork);
  EXPECT_LT(lp8, 1.1 * lp2);
  EXPECT_NEAR(tree8, 3.0 * (kSlowNetwork.alpha_s + n * kSlowNetwork.beta_s_per_byte), 1e-9);
  EXPECT_EQ(choose_algorithm(Collective::broadcast, 8, n, b, kRingSegmentBytes, kSlowNetwork), Algorithm::lp);
}

TEST(CostModel, AutoPicksRingForLargeAllreduceOnManyRanks) {
  const std::size_t n = 16 * kMiB;
  const std::size_t b = optimal_block_bytes(Collective::allreduce, 8, n, kSlowNetwork);
  const double ring =
      predict_seconds(Collective::allreduce, Algorithm::ring, 8, n, kRingSegmentBytes, kSlowNetwork);
  const double lp = predict_seconds(Collective::allreduce, Algorithm::lp, 8, n, b, kSlowNetwork);
  EXPECT_LT(ring, lp);
  EXPECT_NEAR(ring, 2.0 * 7.0 / 8.0 * n * kSlowNetwork.beta_s_per_byte, 0.05 * ring);
  EXPECT_EQ(choose_algorithm(Collective::allreduce, 8, n, b, kRingSegmentBytes, kSlowNetwork),
            Algorithm::ring);
}

TEST(CostModel, AutoPicksTheTreeForTinyMessagesOnManyRanks) {
  const LinkModel link{1e-5, 1e-10};
  EXPECT_EQ(choose_algorithm(Collective::broadcast, 8, 64, kMinBlockBytes, kMinBlockBytes, link),
            Algorithm::mpi);
  EXPECT_EQ(choose_algorithm(Collective::allreduce, 8, 64, kMinBlockBytes, kMinBlockBytes, link),
            Algorithm::mpi);
}

TEST(CostModel, SingleRankOrEmptyMessageCostsNothing) {
  EXPECT_EQ(predict_seconds(Collective::allreduce, Algorithm::ring, 1, kMiB, kMinBlockBytes, kSlowNetwork),
            0.0);
  EXPECT_EQ(choose_algorithm(Collective::reduce, 4, 0, kMinBlockBytes, kMinBlockBytes, kSlowNetwork),
            Algorithm::lp);
}

TEST(CostModel, RingTimeFallsWithSegmentSizeSoItsSegmentIsTheLargestSlot) {
  const std::size_t n = 16 * kMiB;
  double previous =
      predict_seconds(Collective::allreduce, Algorithm::ring, 8, n, kMinBlockBytes, kSlowNetwork);
  for (std::size_t segment = 2 * kMinBlockBytes; segment <= kRingSegmentBytes; segment *= 2) {
    const double t = predict_seconds(Collective::allreduce, Algorithm::ring, 8, n, segment, kSlowNetwork);
    EXPECT_LT(t, previous) << segment;
    previous = t;
  }
  EXPECT_EQ(kRingSegmentBytes, kMaxReduceBlockBytes);
}

TEST(CostModel, RingHasNoBroadcastForm) {
  EXPECT_TRUE(std::isinf(
      predict_seconds(Collective::broadcast, Algorithm::ring, 4, kMiB, kMinBlockBytes, kSlowNetwork)));
}

TEST(Names, AlgorithmsAndCollectivesRoundTripThroughTheirNames) {
  for (Algorithm a : {Algorithm::automatic, Algorithm::lp, Algorithm::ring, Algorithm::mpi, Algorithm::nccl})
    EXPECT_EQ(parse_algorithm(to_string(a)), a);
  for (Collective c : {Collective::broadcast, Collective::reduce, Collective::allreduce})
    EXPECT_EQ(parse_collective(to_string(c)), c);
  EXPECT_THROW(parse_algorithm("binomial"), std::invalid_argument);
  EXPECT_THROW(parse_collective("scatter"), std::invalid_argument);
}

}  // namespace
}  // namespace alphax::comm
