#pragma once
/// \file
/// \brief Optimizers over a network's flat parameter and gradient buffers, and learning-rate schedules.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace alphax::train {

/// \brief Optimizer settings (the `optimizer:` block of a training config).
struct OptimizerConfig {
  std::string name = "sgd";  ///< "sgd" (more can be registered with register_optimizer)
  double lr = 0.1;            ///< peak learning rate (after warm-up)
  double momentum = 0.9;
  double weight_decay = 5e-4;
  bool nesterov = false;
  /// \brief Extra numeric settings of registered optimizers (e.g. ISGD's epsilon, zeta, window).
  std::vector<std::pair<std::string, double>> extra;
};

/// \brief What an optimizer sees of the step it is asked to take.
struct StepInfo {
  double lr = 0;             ///< learning rate of this step (from the schedule)
  double loss = 0;           ///< the batch loss of this step (the group's global loss under data parallelism)
  std::int64_t iteration = 0;  ///< global step index, from 0
  std::int64_t epoch = 0;      ///< epoch index, from 0
};

/// \brief Updates parameters in place from their gradients: w = update(w, g, state).
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  /// \brief One update of `params` (flat) from `grads` (same layout).
  virtual void step(std::span<float> params, std::span<const float> grads, const StepInfo& info) = 0;
  /// \brief The optimizer's state (e.g. momentum buffer) as one flat array, for checkpoints.
  [[nodiscard]] virtual std::vector<float> state() const = 0;
  /// \brief Restores state() output; throws std::invalid_argument on a size mismatch.
  virtual void restore(std::span<const float> state) = 0;
};

/// \brief SGD with momentum (PyTorch convention: v = mu v + (g + wd w); w -= lr v, or with Nesterov
/// w -= lr (g + wd w + mu v)).
class Sgd final : public Optimizer {
 public:
  explicit Sgd(const OptimizerConfig& config);
  void step(std::span<float> params, std::span<const float> grads, const StepInfo& info) override;
  [[nodiscard]] std::vector<float> state() const override { return velocity_; }
  void restore(std::span<const float> state) override;

 private:
  double momentum_;
  double weight_decay_;
  bool nesterov_;
  std::vector<float> velocity_;
};

/// \brief Builds the per-step update rule for `config.name`: "sgd", and "isgd", whose regular step
/// is SGD (the Trainer adds ISGD's extra steps, alphax/train/isgd.hpp). Throws
/// std::invalid_argument listing the known names.
[[nodiscard]] std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config);

/// \brief Learning-rate schedule settings (the `schedule:` block).
struct ScheduleConfig {
  std::string name = "cosine";     ///< "cosine", "step" or "constant"
  double warmup_epochs = 0;        ///< linear warm-up from ~0 to the peak lr over this many epochs
  double min_lr = 0;               ///< cosine: the final learning rate
  double step_epochs = 30;         ///< step: multiply by gamma every step_epochs epochs
  double gamma = 0.1;              ///< step: the factor
  /// \brief How the peak lr and the warm-up follow the global batch (alphax/train/legw.hpp):
  /// "none" (optimizer.lr and warmup_epochs as given), "linear" (lr = base_lr·k, warm-up
  /// base_warmup_epochs, fixed) or "legw" (lr = base_lr·√k, warm-up base_warmup_epochs·k), with
  /// k = global batch / base_batch.
  std::string scaling = "none";
  double base_batch = 0;          ///< linear, legw: the batch size base_lr and base_warmup_epochs were tuned for
  double base_lr = 0;             ///< linear, legw: the peak lr at base_batch
  double base_warmup_epochs = 0;  ///< linear, legw: the warm-up epochs at base_batch
};

/// \brief The learning rate of step `iteration` (from 0) for peak `lr`, with `steps_per_epoch` steps
/// per epoch and `total_epochs` epochs.
///
/// Warm-up: lr * (iteration + 1) / warm-up steps, so the first step does not use lr 0; afterwards
/// cosine from lr to min_lr over the remaining steps, step decay (lr * gamma^floor(epoch /
/// step_epochs)), or constant.
[[nodiscard]] double learning_rate(const ScheduleConfig& schedule, double lr, std::int64_t iteration,
                                   std::int64_t steps_per_epoch, std::int64_t total_epochs);

}  // namespace alphax::train
