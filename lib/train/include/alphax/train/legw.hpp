#pragma once
/// \file
/// \brief The learning-rate plan of a run at a given global batch: no scaling, linear scaling with a
/// fixed warm-up (Goyal et al.), or LEGW, linear-epoch gradual warm-up (You et al., arXiv 1901.08256).
///
/// With `schedule: {scaling: legw, base_batch: B0, base_lr: η0, base_warmup_epochs: w0}` a run at
/// global batch B (k = B / B0) uses the peak learning rate η0·√k (square-root scaling) and warms up
/// linearly over w0·k epochs (the warm-up grows linearly in epochs with the batch). `scaling:
/// linear` uses η0·k and a warm-up of w0 epochs whatever the batch. The decay after the warm-up
/// (cosine, step, constant) is unchanged. With scaling linear or legw, `optimizer.lr` and
/// `schedule.warmup_epochs` are not used; with `scaling: none` they are used as given.
#include <cstdint>

#include "alphax/train/config.hpp"

namespace alphax::train {

/// \brief The peak learning rate and the schedule a run actually uses.
struct LearningRatePlan {
  double peak_lr = 0;       ///< η after warm-up
  ScheduleConfig schedule;  ///< with warmup_epochs resolved
};

/// \brief The plan for `config` at global batch `global_batch`. Throws std::invalid_argument when
/// the scaled warm-up is longer than `config.epochs` (naming the numbers and the fix).
[[nodiscard]] LearningRatePlan learning_rate_plan(const TrainConfig& config, std::int64_t global_batch);

/// \brief The learning rate of step `iteration` of `plan` (see learning_rate in optimizer.hpp).
[[nodiscard]] double planned_learning_rate(const LearningRatePlan& plan, std::int64_t iteration,
                                           std::int64_t steps_per_epoch, std::int64_t total_epochs);

}  // namespace alphax::train
