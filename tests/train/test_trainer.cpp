#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "alphax/train/trainer.hpp"
#include "synthetic_data.hpp"

namespace alphax::train {
namespace {

using testing::kNoValidation;
using testing::quadrant_set;
using testing::tiny_config;
using testing::tiny_spec;

TEST(Trainer, StepsLowerTheLossOnASyntheticProblem) {
  const auto data = quadrant_set(64, 1);
  const TrainConfig c = tiny_config();
  Network net(tiny_spec(c, data));
  net.initialize(c.seed);
  Trainer trainer(c, net, data, kNoValidation, channel_stats(data));
  std::vector<std::int64_t> batch(32);
  for (std::size_t i = 0; i < batch.size(); ++i) batch[i] = static_cast<std::int64_t>(i);
  const double first = trainer.train_step(batch);
  double last = first;
  for (int s = 0; s < 15; ++s) last = trainer.train_step(batch);
  EXPECT_LT(last, 0.5 * first) << "first " << first << " last " << last;
}

TEST(Trainer, FitReachesHighAccuracyAndReportsEveryEpoch) {
  const auto train = quadrant_set(128, 1);
  const auto val = quadrant_set(32, 2);
  TrainConfig c = tiny_config();
  c.epochs = 4;
  Network net(tiny_spec(c, train));
  net.initialize(c.seed);
  Trainer trainer(c, net, train, val, channel_stats(train));
  int calls = 0;
  const auto result = trainer.fit([&](const EpochReport& r) { EXPECT_EQ(r.epoch, ++calls); });
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(result.status, TrainStatus::kOk);
  ASSERT_EQ(result.epochs.size(), 4u);
  EXPECT_LT(result.epochs.back().train_loss, result.epochs.front().train_loss);
  EXPECT_GE(result.validation_accuracy, 90.0);
  EXPECT_EQ(result.parameters, net.parameter_count());
}

TEST(Trainer, SameSeedGivesBitIdenticalWeights) {
  const auto train = quadrant_set(64, 1);
  const TrainConfig c = tiny_config();
  auto run = [&](std::uint64_t seed) {
    TrainConfig cs = c;
    cs.seed = seed;
    Network net(tiny_spec(cs, train));
    net.initialize(cs.seed);
    Trainer trainer(cs, net, train, kNoValidation, channel_stats(train));
    (void)trainer.fit();
    const auto w = net.parameters().values();
    return std::vector<float>(w.begin(), w.end());
  };
  const auto a = run(9);
  EXPECT_EQ(a, run(9));
  EXPECT_NE(a, run(10));
}

TEST(Trainer, NanWeightsAreReportedAsDivergedNotACrash) {
  const auto train = quadrant_set(64, 1);
  const TrainConfig c = tiny_config();
  Network net(tiny_spec(c, train));
  net.initialize(c.seed);
  net.parameters().values()[0] = std::numeric_limits<float>::quiet_NaN();  // an exploded weight
  const auto validation = quadrant_set(16, 2);
  Trainer trainer(c, net, train, validation, channel_stats(train));
  int reports = 0;
  const auto result = trainer.fit([&](const EpochReport&) { ++reports; });
  EXPECT_EQ(result.status, TrainStatus::kDiverged);
  EXPECT_STREQ(to_string(result.status), "diverged");
  EXPECT_EQ(result.epochs.size(), 1u);  // stops after the epoch in which the weights became NaN
  EXPECT_EQ(reports, 1);
}

TEST(Trainer, NanBatchLossStopsTrainingAndSkipsTheUpdate) {
  const auto train = quadrant_set(64, 1);
  const TrainConfig c = tiny_config();
  Network net(tiny_spec(c, train));
  net.initialize(c.seed);
  const auto validation = quadrant_set(16, 2);
  Trainer trainer(c, net, train, validation, channel_stats(train));
  int steps = 0;
  trainer.set_gradient_hook([&](std::span<float>, double& loss) {
    if (++steps == 2) loss = std::numeric_limits<double>::quiet_NaN();  // e.g. a corrupted group loss
  });
  const auto result = trainer.fit();
  EXPECT_EQ(result.status, TrainStatus::kDiverged);
  EXPECT_EQ(steps, 2);
  ASSERT_EQ(result.epochs.size(), 1u);
  EXPECT_TRUE(std::isnan(result.epochs[0].validation_accuracy));
}

TEST(Trainer, GradientHookSeesTheFlatGradientBeforeTheUpdate) {
  const auto train = quadrant_set(32, 1);
  const TrainConfig c = tiny_config();
  Network net(tiny_spec(c, train));
  net.initialize(c.seed);
  Trainer trainer(c, net, train, kNoValidation, channel_stats(train));
  const std::vector<float> before(net.parameters().values().begin(), net.parameters().values().end());
  double seen_loss = -1;
  trainer.set_gradient_hook([&](std::span<float> grads, double& loss) {
    EXPECT_EQ(grads.data(), net.parameters().grads().data());
    seen_loss = loss;
    for (auto& g : grads) g = 0.0f;  // a hook that zeroes gradients leaves only weight decay
  });
  std::vector<std::int64_t> batch{0, 1, 2, 3};
  const double loss = trainer.train_step(batch);
  EXPECT_EQ(seen_loss, loss);
  const auto after = net.parameters().values();
  for (std::size_t i = 0; i < before.size(); ++i) {
    ASSERT_FLOAT_EQ(after[i], before[i] - static_cast<float>(c.optimizer.lr * c.optimizer.weight_decay) * before[i]);
  }
}

TEST(Sgd, MomentumAndWeightDecayFollowThePyTorchRule) {
  OptimizerConfig oc;
  oc.momentum = 0.5;
  oc.weight_decay = 0.1;
  Sgd sgd(oc);
  std::vector<float> w{1.0f, -2.0f};
  const std::vector<float> g{0.5f, 1.0f};
  sgd.step(w, g, StepInfo{0.1, 0, 0, 0});
  // v = g + wd w = {0.6, 0.8}; w -= lr v
  EXPECT_FLOAT_EQ(w[0], 1.0f - 0.06f);
  EXPECT_FLOAT_EQ(w[1], -2.0f - 0.08f);
  sgd.step(w, g, StepInfo{0.1, 0, 1, 0});
  // v = 0.5 v + g + wd w
  EXPECT_FLOAT_EQ(w[0], 0.94f - 0.1f * (0.3f + 0.5f + 0.094f));
  const auto state = sgd.state();
  Sgd restored(oc);
  restored.restore(state);
  EXPECT_EQ(restored.state(), state);
}

TEST(Schedule, CosineWithWarmupRisesLinearlyThenDecaysToMin) {
  ScheduleConfig s;
  s.name = "cosine";
  s.warmup_epochs = 1;
  s.min_lr = 0.0;
  // 10 steps per epoch, 5 epochs: warm-up steps 0..9, cosine over steps 10..49.
  EXPECT_NEAR(learning_rate(s, 0.1, 0, 10, 5), 0.01, 1e-12);
  EXPECT_NEAR(learning_rate(s, 0.1, 9, 10, 5), 0.1, 1e-12);
  EXPECT_NEAR(learning_rate(s, 0.1, 10, 10, 5), 0.1, 1e-12);
  EXPECT_NEAR(learning_rate(s, 0.1, 30, 10, 5), 0.05, 1e-12);
  EXPECT_LT(learning_rate(s, 0.1, 49, 10, 5), 0.001);
  ScheduleConfig step;
  step.name = "step";
  step.step_epochs = 2;
  step.gamma = 0.5;
  EXPECT_NEAR(learning_rate(step, 0.1, 19, 10, 5), 0.1, 1e-12);
  EXPECT_NEAR(learning_rate(step, 0.1, 20, 10, 5), 0.05, 1e-12);
  EXPECT_NEAR(learning_rate(step, 0.1, 45, 10, 5), 0.025, 1e-12);
}

}  // namespace
}  // namespace alphax::train
