#pragma once
/// \file
/// \brief ISGD, inconsistent stochastic gradient descent (Wang et al., arXiv 1603.05544): a
/// statistical-process-control chart over recent batch losses flags under-trained batches, which
/// get extra steps on a small sub-problem.
///
/// The Trainer runs it (`optimizer: {name: isgd}`): the regular step is SGD with momentum and
/// weight decay; when the group's global batch loss ψ of that step (at the weights before it)
/// exceeds the control limit of the previous n_b batch losses, the trainer takes up to ζ extra
/// steps on the same batch minimising
///   φ(w) = ½(ψ_w(batch) − limit)² + ε/(2·n_w)·‖w − w_prev‖²,
/// gradient (ψ − limit)·∇ψ + (ε/n_w)(w − w_prev), at the schedule's learning rate; w_prev are the
/// weights before the batch's regular step, n_w the number of weights. It stops as soon as ψ is no
/// longer above the limit.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "alphax/train/optimizer.hpp"

namespace alphax::train {

/// \brief ISGD settings: `optimizer: {name: isgd, epsilon, zeta, window, lr, momentum, weight_decay}`.
struct IsgdConfig {
  double epsilon = 1e-1;    ///< weight of the proximal term (divided by n_w)
  std::int64_t zeta = 5;    ///< the most extra steps per under-trained batch
  std::int64_t window = 0;  ///< losses in the control chart; 0 = batches per epoch (the paper's n_b)
};

/// \brief Reads epsilon, zeta and window from `config.extra` (missing keys keep their defaults);
/// throws std::invalid_argument naming `optimizer.<key>` for an unknown key or a value out of range.
[[nodiscard]] IsgdConfig parse_isgd_config(const OptimizerConfig& config);

/// \brief The control chart: the losses of the last `window` batches; once full, limit = mean + 3·std
/// (population standard deviation of the window).
///
/// A new loss is compared against the limit of the window BEFORE it is pushed (the reference window
/// of the previous `window` batches), as in a Shewhart chart.
class LossControlChart {
 public:
  /// \brief A chart over `window` >= 2 losses; throws std::invalid_argument otherwise.
  explicit LossControlChart(std::int64_t window);
  /// \brief Appends a loss, dropping the oldest once `window` are held.
  void push(double loss);
  /// \brief True once `window` losses are held.
  [[nodiscard]] bool full() const noexcept { return static_cast<std::int64_t>(losses_.size()) == window_; }
  /// \brief Mean of the held losses (0 when empty).
  [[nodiscard]] double mean() const;
  /// \brief Population standard deviation of the held losses (0 when empty).
  [[nodiscard]] double stddev() const;
  /// \brief mean + 3·std once full; +infinity before.
  [[nodiscard]] double limit() const;
  /// \brief True when the chart is full and `loss` > limit().
  [[nodiscard]] bool over_limit(double loss) const;
  /// \brief The held losses, oldest first (for checkpoints).
  [[nodiscard]] std::vector<double> losses() const;
  /// \brief Replaces the held losses (oldest first; at most `window`).
  void restore(std::span<const double> losses);
  /// \brief The window length n_b.
  [[nodiscard]] std::int64_t window() const noexcept { return window_; }

 private:
  std::int64_t window_;
  std::vector<double> losses_;  // ring buffer once full
  std::size_t next_ = 0;        // slot of the oldest loss once full
};

/// \brief The model of the batch that ISGD's sub-problem works on.
struct IsgdBatchModel {
  /// \brief ψ at the current weights (the group's global batch loss); keeps what backward needs.
  std::function<double()> loss;
  /// \brief ∇ψ at the weights of the last loss() call (the group's reduced flat gradient).
  std::function<std::span<const float>()> gradient;
};

/// \brief What the extra steps did.
struct IsgdExtraSteps {
  std::int64_t steps = 0;      ///< updates taken (<= zeta)
  double last_loss = 0;        ///< the last ψ evaluated
  std::vector<double> losses;  ///< every ψ evaluated, in order (steps or steps + 1 values)
};

/// \brief ISGD's sub-problem on one under-trained batch: while ψ(w) > limit and fewer than `zeta`
/// updates were taken, w -= lr·((ψ − limit)·∇ψ + (ε/n_w)(w − w_prev)). `n_weights` is n_w (the
/// true parameter count). Each iteration evaluates ψ once (and ∇ψ only when it updates).
IsgdExtraSteps isgd_extra_steps(std::span<float> weights, std::span<const float> previous_weights,
                                double limit, double lr, const IsgdConfig& config, std::int64_t n_weights,
                                const IsgdBatchModel& model);

}  // namespace alphax::train
