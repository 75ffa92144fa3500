#pragma once
/// \file
/// \brief Trainer: trains a Network on an ImageSet with a pluggable optimizer and a learning-rate
/// schedule; reports per epoch; a NaN/inf loss ends the run with status "diverged".
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "alphax/tensor/tensor.hpp"
#include "alphax/train/cell_spec.hpp"
#include "alphax/train/config.hpp"
#include "alphax/train/dataset.hpp"
#include "alphax/train/network.hpp"
#include "alphax/train/optimizer.hpp"

namespace alphax::train {

/// \brief How a training run ended.
enum class TrainStatus { kOk, kDiverged };

/// \brief "ok" or "diverged".
[[nodiscard]] const char* to_string(TrainStatus status) noexcept;

/// \brief What one epoch did.
struct EpochReport {
  std::int64_t epoch = 0;              ///< from 1
  double train_loss = 0;               ///< mean batch loss of the epoch
  double validation_accuracy = 0;      ///< percent; NaN without a validation set
  double lr = 0;                       ///< learning rate of the epoch's last step
  double seconds = 0;                  ///< wall time since the start of training
};

/// \brief The outcome of a run.
struct TrainResult {
  TrainStatus status = TrainStatus::kOk;
  std::vector<EpochReport> epochs;
  double validation_accuracy = 0;  ///< percent, after the last epoch (NaN without a validation set)
  double test_accuracy = 0;        ///< percent (NaN when not evaluated)
  std::int64_t parameters = 0;
  std::int64_t flops = 0;          ///< forward FLOPs per image
  double seconds = 0;              ///< training + evaluation wall time
};

/// \brief Accuracy and mean loss of a network over a set.
struct Evaluation {
  double accuracy = 0;  ///< percent
  double loss = 0;
  std::int64_t count = 0;
};

/// \brief The data of a run: training split, validation split, test set and the normalisation.
struct PreparedData {
  ImageSet train;
  ImageSet validation;
  ImageSet test;
  ChannelStats stats;
};

/// \brief Reads `config.set` from `config.dir` and carves the validation split and the training
/// subset with `seed`; the statistics come from the training split (or identity when !normalize).
[[nodiscard]] PreparedData prepare_data(const DataConfig& config, std::uint64_t seed);

/// \brief The NetworkSpec of a config, a cell and the input set (channels, size, classes).
[[nodiscard]] NetworkSpec make_network_spec(const NetworkConfig& config, const CellSpec& cell, const ImageSet& data);

/// \brief Trains one network; the step is one straight function (train_step).
class Trainer {
 public:
  /// \brief Called on the flat gradient buffer and the batch loss between backward and the
  /// optimizer step: the place of the data-parallel allreduce (it may average both in place).
  using GradientHook = std::function<void(std::span<float> grads, double& loss)>;

  /// \brief A trainer for `network` (already initialised) over `train`, validating on `validation`
  /// (may be empty), with batches, epochs, optimizer and schedule from `config`. The sets and the
  /// network must outlive the trainer.
  Trainer(const TrainConfig& config, Network& network, const ImageSet& train, const ImageSet& validation,
          const ChannelStats& stats);

  /// \brief Replaces the optimizer (e.g. ISGD); by default make_optimizer(config.optimizer).
  void set_optimizer(std::unique_ptr<Optimizer> optimizer) { optimizer_ = std::move(optimizer); }
  /// \brief Installs the gradient hook (see GradientHook).
  void set_gradient_hook(GradientHook hook) { hook_ = std::move(hook); }

  /// \brief One step on the training images `batch`: forward, loss, backward, hook, optimizer step.
  /// Returns the batch loss; a non-finite loss skips the update.
  double train_step(std::span<const std::int64_t> batch);

  /// \brief Runs all epochs (stopping early on divergence), calling `on_epoch` after each.
  TrainResult fit(const std::function<void(const EpochReport&)>& on_epoch = {});

  /// \brief Accuracy and loss of the network (inference-mode batch norm) on `set`.
  [[nodiscard]] Evaluation evaluate(const ImageSet& set);

  /// \brief The learning rate the next step will use.
  [[nodiscard]] double current_lr() const;
  /// \brief Steps taken so far.
  [[nodiscard]] std::int64_t iteration() const noexcept { return iteration_; }
  /// \brief The batch iterator (save its state() to resume).
  [[nodiscard]] BatchIterator& batches() noexcept { return batches_; }

 private:
  TrainConfig config_;
  Network& network_;
  const ImageSet& train_;
  const ImageSet& validation_;
  ChannelStats stats_;
  std::unique_ptr<Optimizer> optimizer_;
  GradientHook hook_;
  BatchIterator batches_;
  tensor::Tensor x_;
  tensor::Tensor dlogits_;
  std::vector<std::int32_t> labels_;
  std::int64_t iteration_ = 0;
};

/// \brief The whole of `alphax train`: prepare the data, build and initialise the network for
/// `cell`, train, evaluate on the test set. Sets the lib/tensor thread count when config.threads > 0.
[[nodiscard]] TrainResult train_network(const TrainConfig& config, const CellSpec& cell,
                                        const std::function<void(const EpochReport&)>& on_epoch = {});

}  // namespace alphax::train
