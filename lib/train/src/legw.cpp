#include "alphax/train/legw.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace alphax::train {

LearningRatePlan learning_rate_plan(const TrainConfig& config, std::int64_t global_batch) {
  if (global_batch < 1) {
    throw std::invalid_argument("learning_rate_plan: the global batch must be >= 1, got " +
                                std::to_string(global_batch));
  }
  LearningRatePlan plan{config.optimizer.lr, config.schedule};
  if (config.schedule.warmup == "linear") return plan;
  if (config.schedule.warmup != "legw") {
    throw std::invalid_argument("learning_rate_plan: schedule.warmup must be linear or legw, got '" +
                                config.schedule.warmup + "'");
  }
  if (config.schedule.base_batch < 1 || config.schedule.base_lr <= 0) {
    throw std::invalid_argument("learning_rate_plan: schedule.warmup legw needs base_batch >= 1 and base_lr > 0");
  }
  const double k = static_cast<double>(global_batch) / config.schedule.base_batch;
  plan.peak_lr = config.schedule.base_lr * std::sqrt(k);
  plan.schedule.warmup_epochs = config.schedule.base_warmup_epochs * k;
  return plan;
}

double planned_learning_rate(const LearningRatePlan& plan, std::int64_t iteration, std::int64_t steps_per_epoch,
                             std::int64_t total_epochs) {
  return learning_rate(plan.schedule, plan.peak_lr, iteration, steps_per_epoch, total_epochs);
}

}  // namespace alphax::train
