// Learning-rate scaling with the global batch: none, linear (fixed warm-up), LEGW.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "alphax/train/legw.hpp"
#include "alphax/train/trainer.hpp"
#include "synthetic_data.hpp"

namespace alphax::train {
namespace {

using testing::kNoValidation;

TrainConfig scaled(const std::string& rule) {
  TrainConfig c;
  c.epochs = 10;
  c.optimizer.lr = 0.7;            // used only without scaling
  c.schedule.warmup_epochs = 0.5;  // used only without scaling
  c.schedule.scaling = rule;
  c.schedule.base_batch = 128;
  c.schedule.base_lr = 0.1;
  c.schedule.base_warmup_epochs = 0.25;
  return c;
}

TEST(LearningRatePlan, NoScalingKeepsTheConfiguredRateAndWarmUp) {
  const auto plan = learning_rate_plan(scaled("none"), 2048);
  EXPECT_DOUBLE_EQ(plan.peak_lr, 0.7);
  EXPECT_DOUBLE_EQ(plan.schedule.warmup_epochs, 0.5);
}

TEST(LearningRatePlan, LinearScalingMultipliesTheRateAndKeepsTheWarmUp) {
  const auto plan = learning_rate_plan(scaled("linear"), 512);  // k = 4
  EXPECT_DOUBLE_EQ(plan.peak_lr, 0.4);
  EXPECT_DOUBLE_EQ(plan.schedule.warmup_epochs, 0.25);
}

TEST(LearningRatePlan, LegwScalesTheRateBySqrtKAndTheWarmUpByK) {
  const auto at_base = learning_rate_plan(scaled("legw"), 128);
  EXPECT_DOUBLE_EQ(at_base.peak_lr, 0.1);
  EXPECT_DOUBLE_EQ(at_base.schedule.warmup_epochs, 0.25);
  const auto plan = learning_rate_plan(scaled("legw"), 2048);  // k = 16
  EXPECT_DOUBLE_EQ(plan.peak_lr, 0.4);
  EXPECT_DOUBLE_EQ(plan.schedule.warmup_epochs, 4.0);
  // The warm-up is linear over 4 epochs of steps: step i uses peak·(i+1)/warm-up steps.
  EXPECT_NEAR(planned_learning_rate(plan, 0, 10, 10), 0.4 / 40.0, 1e-12);
  EXPECT_NEAR(planned_learning_rate(plan, 19, 10, 10), 0.2, 1e-12);
  EXPECT_NEAR(planned_learning_rate(plan, 40, 10, 10), 0.4, 1e-12);
}

TEST(LearningRatePlan, AWarmUpLongerThanTheRunIsAnErrorNamingTheFix) {
  TrainConfig c = scaled("legw");
  c.epochs = 3;
  try {
    (void)learning_rate_plan(c, 2048);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("base_warmup_epochs"), std::string::npos) << e.what();
  }
  c.schedule.base_lr = 0;
  EXPECT_THROW(validate_train_config(c), std::invalid_argument);
  c = scaled("sqrt");
  EXPECT_THROW(validate_train_config(c), std::invalid_argument);
}

TEST(LearningRatePlan, TheTrainerUsesThePlanOfItsGlobalBatch) {
  const auto data = testing::quadrant_set(64, 1);
  TrainConfig c = testing::tiny_config();
  c.batch = 32;
  c.schedule.scaling = "legw";
  c.schedule.base_batch = 8;
  c.schedule.base_lr = 0.01;
  c.schedule.base_warmup_epochs = 0.25;  // k = 4: one epoch (2 steps) of warm-up
  Network net(testing::tiny_spec(c, data));
  net.initialize(c.seed);
  Trainer trainer(c, net, data, kNoValidation, channel_stats(data));
  EXPECT_DOUBLE_EQ(trainer.plan().peak_lr, 0.02);
  EXPECT_DOUBLE_EQ(trainer.plan().schedule.warmup_epochs, 1.0);
  EXPECT_NEAR(trainer.current_lr(), 0.01, 1e-12);
}

}  // namespace
}  // namespace alphax::train
