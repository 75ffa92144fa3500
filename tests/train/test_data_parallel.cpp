// Data-parallel trainer groups, run at 1, 2 and 4 ranks: a group of G ranks trains like one rank
// with the whole global batch (synchronised batch norm), replicas stay identical, validation is
// sharded, and ISGD decides the same on every rank.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <vector>

#include "alphax/comm/communicator.hpp"
#include "alphax/train/trainer.hpp"
#include "synthetic_data.hpp"

namespace alphax::train {
namespace {

using testing::kNoValidation;
using testing::quadrant_set;
using testing::tiny_config;
using testing::tiny_spec;

std::unique_ptr<comm::MpiCommunicator> world() {
  comm::CommunicatorOptions options;
  options.link = comm::LinkModel{1e-6, 1e-9};  // skip the ping-pong
  return std::make_unique<comm::MpiCommunicator>(MPI_COMM_WORLD, options);
}

struct Trained {
  std::vector<float> weights;
  std::vector<float> states;
  std::vector<double> losses;
  std::int64_t extra_steps = 0;
};

// k steps of `config` on the same global batches, on `group` (null: this rank alone).
Trained train_steps(const TrainConfig& config, const ImageSet& data, comm::Communicator* group, int steps,
                    const std::vector<double>& chart = {}) {
  Network net(tiny_spec(config, data));
  net.initialize(config.seed);
  Trainer trainer(config, net, data, kNoValidation, channel_stats(data), group);
  if (!chart.empty()) trainer.isgd_chart()->restore(chart);
  Trained out;
  for (int s = 0; s < steps; ++s) {
    auto batch = trainer.batches().next();
    if (batch.empty()) {
      trainer.batches().next_epoch();
      batch = trainer.batches().next();
    }
    out.losses.push_back(trainer.train_step(batch));
    out.extra_steps += trainer.last_isgd_step().extra.steps;
  }
  const auto w = net.parameters().values();
  const auto st = net.parameters().states();
  out.weights.assign(w.begin(), w.end());
  out.states.assign(st.begin(), st.end());
  return out;
}

float max_abs_difference(const std::vector<float>& a, const std::vector<float>& b) {
  float d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}

// Rank 0's copy of `values` compared bit for bit on every rank.
bool same_on_every_rank(const std::vector<float>& values, comm::Communicator& group) {
  std::vector<float> root(values);
  group.broadcast(std::span<float>(root), 0);
  double differ = root == values ? 0.0 : 1.0;
  group.allreduce(std::span<double>(&differ, 1), comm::ReduceOp::max, comm::Algorithm::lp);
  return differ == 0.0;
}

TrainConfig sync_config(std::int64_t batch) {
  TrainConfig c = tiny_config();
  c.batch = batch;
  c.parallel.sync_batch_norm = true;
  return c;
}

// Three steps (one epoch of distinct batches): the group and the single rank differ only by the
// order of float sums (observed <= 1.2e-7 here; per-replica batch norm would differ by ~1e-2).
// Longer runs are not compared: a 1e-7 difference can flip a ReLU whose input is ~0 and then grow.
void expect_group_equals_one_rank(const TrainConfig& c, comm::Communicator& group) {
  const auto data = quadrant_set(96, 5);
  const Trained alone = train_steps(c, data, nullptr, 3);
  const Trained together = train_steps(c, data, &group, 3);
  ASSERT_EQ(alone.weights.size(), together.weights.size());
  for (std::size_t s = 0; s < alone.losses.size(); ++s)
    EXPECT_NEAR(together.losses[s], alone.losses[s], 1e-6);
  EXPECT_LT(max_abs_difference(together.weights, alone.weights), 1e-5) << "group of " << group.size();
  EXPECT_LT(max_abs_difference(together.states, alone.states), 1e-5) << "group of " << group.size();
  EXPECT_TRUE(same_on_every_rank(together.weights, group));
  EXPECT_TRUE(same_on_every_rank(together.states, group));
}

TEST(DataParallel, SyncBatchNormGroupTrainsLikeOneRankWithTheGlobalBatch) {
  auto group = world();
  expect_group_equals_one_rank(sync_config(32), *group);
}

TEST(DataParallel, UnevenShardsAreWeightedByTheirSize) {
  auto group = world();
  expect_group_equals_one_rank(sync_config(30), *group);  // 30 = 7 + 8 + 7 + 8 on four ranks
}

TEST(DataParallel, SubGroupsOfTwoTrainLikeOneRankToo) {
  auto all = world();
  if (all->size() < 4) GTEST_SKIP() << "needs 4 ranks";
  auto pair = all->split(all->rank() / 2, all->rank());
  expect_group_equals_one_rank(sync_config(32), *pair);
}

TEST(DataParallel, PerReplicaBatchNormKeepsReplicasIdenticalAndAveragesStatistics) {
  auto group = world();
  const auto data = quadrant_set(96, 5);
  TrainConfig c = tiny_config();
  c.batch = 32;
  Network net(tiny_spec(c, data));
  net.initialize(c.seed + static_cast<std::uint64_t>(group->rank()));  // the leader's weights win
  const auto validation = quadrant_set(40, 6);
  Trainer trainer(c, net, data, validation, channel_stats(data), group.get());
  const auto w0 = net.parameters().values();
  EXPECT_TRUE(same_on_every_rank(std::vector<float>(w0.begin(), w0.end()), *group));
  for (int s = 0; s < 3; ++s) (void)trainer.train_step(trainer.batches().next());
  const auto w = net.parameters().values();
  EXPECT_TRUE(same_on_every_rank(std::vector<float>(w.begin(), w.end()), *group));
  (void)trainer.evaluate(quadrant_set(12, 7));  // averages the per-replica running statistics first
  const auto st = net.parameters().states();
  EXPECT_TRUE(same_on_every_rank(std::vector<float>(st.begin(), st.end()), *group));
}

TEST(DataParallel, ShardedValidationCountsEveryImageOnce) {
  auto group = world();
  const auto data = quadrant_set(96, 5);
  const auto validation = quadrant_set(37, 8);  // not a multiple of the group size
  const TrainConfig c = sync_config(32);
  Network alone_net(tiny_spec(c, data));
  alone_net.initialize(c.seed);
  Trainer alone(c, alone_net, data, validation, channel_stats(data));
  Network group_net(tiny_spec(c, data));
  group_net.initialize(c.seed);
  Trainer together(c, group_net, data, validation, channel_stats(data), group.get());
  const Evaluation a = alone.evaluate(validation);
  const Evaluation b = together.evaluate(validation);
  EXPECT_EQ(b.count, 37);
  EXPECT_DOUBLE_EQ(b.accuracy, a.accuracy);
  EXPECT_NEAR(b.loss, a.loss, 1e-6);
}

TEST(DataParallel, IsgdTakesTheSameExtraStepsOnEveryRankAndMatchesOneRank) {
  auto group = world();
  TrainConfig c = sync_config(32);
  c.optimizer.name = "isgd";
  c.optimizer.extra = {{"epsilon", 0.1}, {"zeta", 2}, {"window", 4}};
  const auto data = quadrant_set(96, 5);
  // Tiny losses in the window: the step is over the limit and takes the ζ = 2 extra steps.
  const std::vector<double> chart{0.010, 0.011, 0.012, 0.013};
  const Trained alone = train_steps(c, data, nullptr, 1, chart);
  const Trained together = train_steps(c, data, group.get(), 1, chart);
  EXPECT_EQ(alone.extra_steps, 2);
  EXPECT_EQ(together.extra_steps, 2);
  EXPECT_LT(max_abs_difference(together.weights, alone.weights), 1e-5);
  EXPECT_TRUE(same_on_every_rank(together.weights, *group));
}

TEST(DataParallel, ABatchSmallerThanTheGroupIsAClearError) {
  auto group = world();
  if (group->size() < 2) GTEST_SKIP() << "needs 2 ranks";
  const auto data = quadrant_set(16, 1);
  TrainConfig c = tiny_config();
  c.batch = 1;
  Network net(tiny_spec(c, data));
  net.initialize(c.seed);
  EXPECT_THROW(Trainer(c, net, data, kNoValidation, channel_stats(data), group.get()), std::invalid_argument);
}

}  // namespace
}  // namespace alphax::train
