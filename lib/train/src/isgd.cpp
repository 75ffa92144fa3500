#include "alphax/train/isgd.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace alphax::train {

IsgdConfig parse_isgd_config(const OptimizerConfig& config) {
  IsgdConfig c;
  for (const auto& [key, value] : config.extra) {
    if (key == "epsilon") {
      c.epsilon = value;
    } else if (key == "zeta") {
      c.zeta = static_cast<std::int64_t>(value);
      if (static_cast<double>(c.zeta) != value) {
        throw std::invalid_argument("parse_isgd_config: optimizer.zeta must be a whole number, got " +
                                    std::to_string(value));
      }
    } else if (key == "window") {
      c.window = static_cast<std::int64_t>(value);
      if (static_cast<double>(c.window) != value) {
        throw std::invalid_argument("parse_isgd_config: optimizer.window must be a whole number, got " +
                                    std::to_string(value));
      }
    } else {
      throw std::invalid_argument(
          "parse_isgd_config: unknown key optimizer." + key +
          " for isgd; known: lr, momentum, weight_decay, nesterov, epsilon, zeta, window");
    }
  }
  if (!(c.epsilon >= 0)) {
    throw std::invalid_argument("parse_isgd_config: optimizer.epsilon must be >= 0, got " +
                                std::to_string(c.epsilon));
  }
  if (c.zeta < 0) {
    throw std::invalid_argument("parse_isgd_config: optimizer.zeta must be >= 0, got " +
                                std::to_string(c.zeta));
  }
  if (c.window != 0 && c.window < 2) {
    throw std::invalid_argument(
        "parse_isgd_config: optimizer.window must be 0 (= batches per epoch) or >= 2, got " +
        std::to_string(c.window));
  }
  return c;
}

LossControlChart::LossControlChart(std::int64_t window) : window_(window) {
  if (window < 2) {
    throw std::invalid_argument("LossControlChart: the window must hold >= 2 losses, got " +
                                std::to_string(window));
  }
  losses_.reserve(static_cast<std::size_t>(window));
}

void LossControlChart::push(double loss) {
  if (!full()) {
    losses_.push_back(loss);
    return;
  }
  losses_[next_] = loss;
  next_ = (next_ + 1) % losses_.size();
}

double LossControlChart::mean() const {
  if (losses_.empty()) return 0;
  double sum = 0;
  for (double v : losses_) sum += v;
  return sum / static_cast<double>(losses_.size());
}

double LossControlChart::stddev() const {
  if (losses_.empty()) return 0;
  const double m = mean();
  double sum = 0;
  for (double v : losses_) sum += (v - m) * (v - m);
  return std::sqrt(sum / static_cast<double>(losses_.size()));
}

double LossControlChart::limit() const {
  if (!full()) return std::numeric_limits<double>::infinity();
  return mean() + 3.0 * stddev();
}

bool LossControlChart::over_limit(double loss) const { return full() && loss > limit(); }

std::vector<double> LossControlChart::losses() const {
  std::vector<double> out;
  out.reserve(losses_.size());
  for (std::size_t i = 0; i < losses_.size(); ++i) out.push_back(losses_[(next_ + i) % losses_.size()]);
  return out;
}

void LossControlChart::restore(std::span<const double> losses) {
  if (static_cast<std::int64_t>(losses.size()) > window_) {
    throw std::invalid_argument("LossControlChart::restore: " + std::to_string(losses.size()) +
                                " losses for a window of " + std::to_string(window_));
  }
  losses_.assign(losses.begin(), losses.end());
  next_ = 0;
}

IsgdExtraSteps isgd_extra_steps(std::span<float> weights, std::span<const float> previous_weights,
                                double limit, double lr, const IsgdConfig& config, std::int64_t n_weights,
                                const IsgdBatchModel& model) {
  if (weights.size() != previous_weights.size()) {
    throw std::invalid_argument("isgd_extra_steps: " + std::to_string(weights.size()) + " weights but " +
                                std::to_string(previous_weights.size()) + " previous weights");
  }
  if (n_weights < 1) throw std::invalid_argument("isgd_extra_steps: n_weights must be >= 1");
  IsgdExtraSteps done;
  const auto proximal = static_cast<float>(config.epsilon / static_cast<double>(n_weights));
  const auto rate = static_cast<float>(lr);
  while (done.steps < config.zeta) {
    done.last_loss = model.loss();
    done.losses.push_back(done.last_loss);
    if (!(done.last_loss > limit) || !std::isfinite(done.last_loss)) break;
    const std::span<const float> grad = model.gradient();
    if (grad.size() != weights.size()) {
      throw std::invalid_argument("isgd_extra_steps: the gradient has " + std::to_string(grad.size()) +
                                  " values for " + std::to_string(weights.size()) + " weights");
    }
    const auto excess = static_cast<float>(done.last_loss - limit);
    float* w = weights.data();
    const float* w0 = previous_weights.data();
    const float* g = grad.data();
    const auto n = static_cast<std::ptrdiff_t>(weights.size());
#pragma omp parallel for simd schedule(static)
    for (std::ptrdiff_t i = 0; i < n; ++i) w[i] -= rate * (excess * g[i] + proximal * (w[i] - w0[i]));
    ++done.steps;
  }
  return done;
}

}  // namespace alphax::train
