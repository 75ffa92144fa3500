#include "alphax/train/optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

namespace alphax::train {

Sgd::Sgd(const OptimizerConfig& config)
    : momentum_(config.momentum), weight_decay_(config.weight_decay), nesterov_(config.nesterov) {
  if (momentum_ < 0 || momentum_ >= 1) {
    throw std::invalid_argument("Sgd: optimizer.momentum must be in [0, 1), got " + std::to_string(momentum_));
  }
  if (weight_decay_ < 0) {
    throw std::invalid_argument("Sgd: optimizer.weight_decay must be >= 0, got " + std::to_string(weight_decay_));
  }
}

void Sgd::step(std::span<float> params, std::span<const float> grads, const StepInfo& info) {
  if (params.size() != grads.size()) {
    throw std::invalid_argument("Sgd::step: " + std::to_string(params.size()) + " parameters but " +
                                std::to_string(grads.size()) + " gradients");
  }
  if (velocity_.size() != params.size()) velocity_.assign(params.size(), 0.0f);
  const auto lr = static_cast<float>(info.lr);
  const auto mu = static_cast<float>(momentum_);
  const auto wd = static_cast<float>(weight_decay_);
  float* w = params.data();
  const float* g = grads.data();
  float* v = velocity_.data();
  const auto n = static_cast<std::ptrdiff_t>(params.size());
  if (nesterov_) {
#pragma omp parallel for simd schedule(static)
    for (std::ptrdiff_t i = 0; i < n; ++i) {
      const float d = g[i] + wd * w[i];
      v[i] = mu * v[i] + d;
      w[i] -= lr * (d + mu * v[i]);
    }
  } else {
#pragma omp parallel for simd schedule(static)
    for (std::ptrdiff_t i = 0; i < n; ++i) {
      v[i] = mu * v[i] + g[i] + wd * w[i];
      w[i] -= lr * v[i];
    }
  }
}

void Sgd::restore(std::span<const float> state) {
  if (!velocity_.empty() && state.size() != velocity_.size()) {
    throw std::invalid_argument("Sgd::restore: state of " + std::to_string(state.size()) + " values for " +
                                std::to_string(velocity_.size()) + " parameters");
  }
  velocity_.assign(state.begin(), state.end());
}

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config) {
  if (config.name == "sgd" || config.name == "isgd") return std::make_unique<Sgd>(config);
  throw std::invalid_argument("make_optimizer: unknown optimizer '" + config.name +
                              "' (optimizer.name); known: sgd, isgd");
}

double learning_rate(const ScheduleConfig& schedule, double lr, std::int64_t iteration, std::int64_t steps_per_epoch,
                     std::int64_t total_epochs) {
  const double spe = static_cast<double>(std::max<std::int64_t>(1, steps_per_epoch));
  const double warmup_steps = schedule.warmup_epochs * spe;
  const double it = static_cast<double>(iteration);
  if (it < warmup_steps) return lr * (it + 1.0) / warmup_steps;
  if (schedule.name == "constant") return lr;
  if (schedule.name == "step") {
    const double epoch = it / spe;
    return lr * std::pow(schedule.gamma, std::floor(epoch / std::max(schedule.step_epochs, 1e-12)));
  }
  if (schedule.name == "cosine") {
    const double total = static_cast<double>(total_epochs) * spe;
    const double span = std::max(1.0, total - warmup_steps);
    const double t = std::clamp((it - warmup_steps) / span, 0.0, 1.0);
    return schedule.min_lr + 0.5 * (lr - schedule.min_lr) * (1.0 + std::cos(std::numbers::pi * t));
  }
  throw std::invalid_argument("learning_rate: unknown schedule '" + schedule.name +
                              "' (schedule.name); use cosine, step or constant");
}

}  // namespace alphax::train
