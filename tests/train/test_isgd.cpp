// ISGD: the control chart, the extra steps of the sub-problem, and ISGD inside the Trainer.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "alphax/train/isgd.hpp"
#include "alphax/train/trainer.hpp"
#include "synthetic_data.hpp"

namespace alphax::train {
namespace {

using testing::kNoValidation;
using testing::quadrant_set;
using testing::tiny_config;
using testing::tiny_spec;

TEST(LossControlChart, LimitIsMeanPlusThreeStdOfTheLastWindowOnceFull) {
  LossControlChart chart(4);
  EXPECT_EQ(chart.limit(), std::numeric_limits<double>::infinity());
  for (double loss : {1.0, 2.0, 3.0}) chart.push(loss);
  EXPECT_FALSE(chart.full());
  EXPECT_FALSE(chart.over_limit(100.0));  // no limit before the window is full
  chart.push(4.0);
  ASSERT_TRUE(chart.full());
  // {1, 2, 3, 4}: mean 2.5, population variance 1.25.
  EXPECT_DOUBLE_EQ(chart.mean(), 2.5);
  EXPECT_DOUBLE_EQ(chart.stddev(), std::sqrt(1.25));
  EXPECT_DOUBLE_EQ(chart.limit(), 2.5 + 3.0 * std::sqrt(1.25));
  EXPECT_TRUE(chart.over_limit(5.9));
  EXPECT_FALSE(chart.over_limit(5.8));
  // The oldest loss leaves the window: {2, 3, 4, 10}.
  chart.push(10.0);
  EXPECT_DOUBLE_EQ(chart.mean(), 4.75);
  const double var = ((2 - 4.75) * (2 - 4.75) + (3 - 4.75) * (3 - 4.75) + (4 - 4.75) * (4 - 4.75) +
                      (10 - 4.75) * (10 - 4.75)) /
                     4.0;
  EXPECT_DOUBLE_EQ(chart.limit(), 4.75 + 3.0 * std::sqrt(var));
  EXPECT_EQ(chart.losses(), (std::vector<double>{2, 3, 4, 10}));
  LossControlChart restored(4);
  const auto saved = chart.losses();
  restored.restore(saved);
  EXPECT_DOUBLE_EQ(restored.limit(), chart.limit());
}

TEST(LossControlChart, RejectsWindowsTooShortForAStandardDeviation) {
  EXPECT_THROW(LossControlChart(1), std::invalid_argument);
  OptimizerConfig c;
  c.name = "isgd";
  c.extra = {{"zeta", 2.5}};
  EXPECT_THROW((void)parse_isgd_config(c), std::invalid_argument);
  c.extra = {{"window", 1}};
  EXPECT_THROW((void)parse_isgd_config(c), std::invalid_argument);
  c.extra = {{"epsilon", 0.5}, {"zeta", 3}, {"window", 10}};
  const auto parsed = parse_isgd_config(c);
  EXPECT_DOUBLE_EQ(parsed.epsilon, 0.5);
  EXPECT_EQ(parsed.zeta, 3);
  EXPECT_EQ(parsed.window, 10);
}

// ψ(w) = ½‖w‖², ∇ψ = w: the sub-problem's steps in closed form.
struct Quadratic {
  std::span<float> w;
  int loss_calls = 0;
  IsgdBatchModel model() {
    return {[this] {
              ++loss_calls;
              return 0.5 * std::inner_product(w.begin(), w.end(), w.begin(), 0.0);
            },
            [this] { return std::span<const float>(w); }};
  }
};

TEST(IsgdExtraSteps, FollowTheSubProblemGradientAndStopAtTheCap) {
  std::vector<float> w{2.0f, -2.0f};
  const std::vector<float> w0{1.0f, -1.0f};
  Quadratic q{w};
  IsgdConfig c;
  c.epsilon = 0.4;
  c.zeta = 3;
  const double lr = 0.05;
  const auto done = isgd_extra_steps(w, w0, /*limit=*/0.0, lr, c, /*n_weights=*/2, q.model());
  EXPECT_EQ(done.steps, 3);  // ψ never reaches 0: the cap stops it
  ASSERT_EQ(done.losses.size(), 3u);
  EXPECT_GT(done.losses[0], done.losses[1]);
  EXPECT_GT(done.losses[1], done.losses[2]);
  // Replay: w -= lr((ψ − limit)·w + ε/n_w·(w − w0)).
  double a = 2.0;
  for (int k = 0; k < 3; ++k) {
    const double psi = a * a;  // ½(a² + a²)
    a -= lr * (psi * a + 0.2 * (a - 1.0));
  }
  EXPECT_NEAR(w[0], a, 1e-5);
  EXPECT_NEAR(w[1], -a, 1e-5);
}

TEST(IsgdExtraSteps, StopAsSoonAsTheLossIsUnderTheLimit) {
  // ψ = 9 at w = (3, -3); one step of rate 0.1 on (ψ − 3)·w lands at w = (1.2, -1.2), ψ = 1.44 < 3.
  std::vector<float> w{3.0f, -3.0f};
  const std::vector<float> w0 = w;
  Quadratic q{w};
  IsgdConfig c;
  c.zeta = 50;
  const auto done = isgd_extra_steps(w, w0, /*limit=*/3.0, 0.1, c, 2, q.model());
  EXPECT_EQ(done.steps, 1);
  ASSERT_EQ(done.losses.size(), 2u);  // the second ψ ended it
  EXPECT_NEAR(done.losses[1], 1.44, 1e-5);
  EXPECT_EQ(q.loss_calls, 2);
}

TrainConfig isgd_config(std::int64_t zeta, std::int64_t window) {
  TrainConfig c = tiny_config();
  c.optimizer.name = "isgd";
  c.optimizer.extra = {
      {"epsilon", 0.1}, {"zeta", static_cast<double>(zeta)}, {"window", static_cast<double>(window)}};
  return c;
}

TEST(TrainerIsgd, AnOverLimitBatchGetsExtraStepsThatLowerItsLossUpToTheCap) {
  const auto data = quadrant_set(64, 1);
  const TrainConfig c = isgd_config(/*zeta=*/3, /*window=*/4);
  Network net(tiny_spec(c, data));
  net.initialize(c.seed);
  Trainer trainer(c, net, data, kNoValidation, channel_stats(data));
  ASSERT_NE(trainer.isgd_chart(), nullptr);
  // A window of tiny losses puts the limit far below any loss of the untrained network.
  const std::vector<double> tiny{0.010, 0.011, 0.012, 0.013};
  trainer.isgd_chart()->restore(tiny);
  std::vector<std::int64_t> batch(16);
  std::iota(batch.begin(), batch.end(), 0);
  const double loss = trainer.train_step(batch);
  const auto& step = trainer.last_isgd_step();
  EXPECT_TRUE(step.over_limit);
  EXPECT_LT(step.limit, 0.02);
  EXPECT_EQ(step.extra.steps, 3);  // the limit is out of reach: ζ stops it
  ASSERT_EQ(step.extra.losses.size(), 3u);
  EXPECT_LT(step.extra.losses.front(), loss);  // after the regular step
  EXPECT_LT(step.extra.losses.back(), step.extra.losses.front());
  EXPECT_EQ(trainer.isgd_chart()->losses().back(), loss);  // the regular loss entered the window
}

TEST(TrainerIsgd, WithTheLimitNeverCrossedIsgdEqualsSgdBitForBit) {
  // The same full batch every step at a small rate: the loss falls monotonically, so it never
  // exceeds the mean of the window before it, let alone mean + 3 std.
  const auto data = quadrant_set(32, 1);
  auto run = [&](const std::string& name, std::vector<double>* losses, std::int64_t* over) {
    TrainConfig c = isgd_config(5, 2);
    c.batch = 32;
    c.optimizer.lr = 0.01;
    c.optimizer.name = name;
    if (name == "sgd") c.optimizer.extra.clear();
    Network net(tiny_spec(c, data));
    net.initialize(c.seed);
    Trainer trainer(c, net, data, kNoValidation, channel_stats(data));
    std::vector<std::int64_t> batch(32);
    std::iota(batch.begin(), batch.end(), 0);
    for (int s = 0; s < 8; ++s) {
      losses->push_back(trainer.train_step(batch));
      *over += trainer.last_isgd_step().over_limit ? 1 : 0;
    }
    if (name == "isgd") {
      EXPECT_TRUE(trainer.isgd_chart()->full());
    }
    const auto w = net.parameters().values();
    return std::vector<float>(w.begin(), w.end());
  };
  std::vector<double> sgd_losses, isgd_losses;
  std::int64_t sgd_over = 0, isgd_over = 0;
  const auto sgd = run("sgd", &sgd_losses, &sgd_over);
  const auto isgd = run("isgd", &isgd_losses, &isgd_over);
  for (std::size_t i = 1; i < isgd_losses.size(); ++i)
    ASSERT_LT(isgd_losses[i], isgd_losses[i - 1]) << "step " << i;
  EXPECT_EQ(isgd_over, 0);
  EXPECT_EQ(isgd_losses, sgd_losses);
  EXPECT_EQ(isgd, sgd);
}

TEST(TrainerIsgd, UnknownOptimizerNamesAndBadIsgdSettingsAreConfigErrors) {
  TrainConfig c = tiny_config();
  c.optimizer.name = "adam";
  EXPECT_THROW(validate_train_config(c), std::invalid_argument);
  c = isgd_config(-1, 0);
  EXPECT_THROW(validate_train_config(c), std::invalid_argument);
}

}  // namespace
}  // namespace alphax::train
