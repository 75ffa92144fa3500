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
  const ScheduleConfig& s = config.schedule;
  LearningRatePlan plan{config.optimizer.lr, s};
  if (s.scaling == "none") return plan;
  if (s.scaling != "linear" && s.scaling != "legw") {
    throw std::invalid_argument("learning_rate_plan: schedule.scaling must be none, linear or legw, got '" +
                                s.scaling + "'");
  }
  if (s.base_batch < 1 || s.base_lr <= 0 || s.base_warmup_epochs < 0) {
    throw std::invalid_argument("learning_rate_plan: schedule.scaling " + s.scaling +
                                " needs base_batch >= 1, base_lr > 0 and base_warmup_epochs >= 0");
  }
  const double k = static_cast<double>(global_batch) / s.base_batch;
  if (s.scaling == "linear") {
    plan.peak_lr = s.base_lr * k;
    plan.schedule.warmup_epochs = s.base_warmup_epochs;
  } else {
    plan.peak_lr = s.base_lr * std::sqrt(k);
    plan.schedule.warmup_epochs = s.base_warmup_epochs * k;
  }
  if (plan.schedule.warmup_epochs > static_cast<double>(config.epochs)) {
    throw std::invalid_argument("learning_rate_plan: schedule.scaling " + s.scaling + " at batch " +
                                std::to_string(global_batch) + " warms up for " +
                                std::to_string(plan.schedule.warmup_epochs) +
                                " epochs, more than epochs = " + std::to_string(config.epochs) +
                                "; raise epochs or lower schedule.base_warmup_epochs");
  }
  return plan;
}

double planned_learning_rate(const LearningRatePlan& plan, std::int64_t iteration,
                             std::int64_t steps_per_epoch, std::int64_t total_epochs) {
  return learning_rate(plan.schedule, plan.peak_lr, iteration, steps_per_epoch, total_epochs);
}

}  // namespace alphax::train
