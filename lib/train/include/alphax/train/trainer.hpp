#pragma once
/// \file
/// \brief Trainer: trains a Network on an ImageSet, alone or data-parallel in a group of ranks,
/// with SGD or ISGD and a learning-rate schedule (LEGW-scaled when configured); reports per epoch;
/// a NaN/inf loss ends the run with status "diverged".
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "alphax/comm/communicator.hpp"
#include "alphax/tensor/tensor.hpp"
#include "alphax/train/cell_spec.hpp"
#include "alphax/train/config.hpp"
#include "alphax/train/dataset.hpp"
#include "alphax/train/isgd.hpp"
#include "alphax/train/legw.hpp"
#include "alphax/train/network.hpp"
#include "alphax/train/optimizer.hpp"

namespace alphax::train {

/// \brief How a training run ended.
enum class TrainStatus { kOk, kDiverged };

/// \brief "ok" or "diverged".
[[nodiscard]] const char* to_string(TrainStatus status) noexcept;

/// \brief What one epoch did.
struct EpochReport {
  std::int64_t epoch = 0;             ///< from 1
  double train_loss = 0;              ///< mean batch loss of the epoch
  double validation_accuracy = 0;     ///< percent; NaN without a validation set
  double lr = 0;                      ///< learning rate of the epoch's last step
  double seconds = 0;                 ///< wall time since the start of training
  double train_seconds = 0;           ///< wall time of the training steps alone (no validation), cumulative
  std::int64_t isgd_batches = 0;      ///< ISGD: batches of the epoch over the control limit
  std::int64_t isgd_extra_steps = 0;  ///< ISGD: extra steps taken in the epoch
};

/// \brief The outcome of a run.
struct TrainResult {
  TrainStatus status = TrainStatus::kOk;
  std::vector<EpochReport> epochs;
  double validation_accuracy = 0;  ///< percent, after the last epoch (NaN without a validation set)
  double test_accuracy = 0;        ///< percent (NaN when not evaluated)
  std::int64_t parameters = 0;
  std::int64_t flops = 0;  ///< forward FLOPs per image
  double seconds = 0;      ///< training + evaluation wall time
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
[[nodiscard]] NetworkSpec make_network_spec(const NetworkConfig& config, const CellSpec& cell,
                                            const ImageSet& data);

/// \brief What ISGD did on the last batch.
struct IsgdStepReport {
  double limit = 0;  ///< the control limit the batch loss was compared with (+inf until the window is full)
  bool over_limit = false;  ///< the batch loss was above it
  IsgdExtraSteps extra;     ///< the extra steps (empty when not over the limit)
};

/// \brief Trains one network, alone or as one replica of a data-parallel group.
///
/// The step is one straight function (train_step): this rank's shard of the global batch,
/// forward, softmax cross-entropy, backward, ONE allreduce of the flat gradient buffer over the
/// group (plus one of the loss), the gradient hook, the optimizer step; with ISGD, the control
/// chart and the extra steps. Every rank of a group holds the same weights after every step.
///
/// Under a group of G ranks, every rank iterates the same global batches (same seed); rank r
/// takes the contiguous shard [r·n/G, (r+1)·n/G) of each. Its loss and gradient are weighted by
/// shard / global batch, so the allreduced SUM is the gradient of the global batch's mean loss.
/// Batch norm uses per-replica statistics unless `parallel.sync_batch_norm` (then the sums of x
/// and x² and of the backward terms are allreduced in every batch-norm layer, and a group of G
/// computes what one rank does with the whole batch). Per-replica running statistics are
/// averaged over the group before every evaluation. Validation is sharded and reduced too.
class Trainer {
 public:
  /// \brief Called on the flat gradient buffer (already reduced over the group) and the batch's
  /// global loss between backward and the optimizer step (tests and instrumentation; it may change both).
  using GradientHook = std::function<void(std::span<float> grads, double& loss)>;

  /// \brief A trainer for `network` (already initialised on the group's rank 0) over `train`,
  /// validating on `validation` (may be empty), with batches, epochs, optimizer, schedule and
  /// parallel settings from `config`. `group` (may be null: one rank) is the data-parallel group:
  /// construction is collective over it and broadcasts rank 0's weights and batch-norm statistics
  /// (`parallel.broadcast`). The sets, the network and the group must outlive the trainer. Throws
  /// std::invalid_argument when config.batch < group size.
  Trainer(const TrainConfig& config, Network& network, const ImageSet& train, const ImageSet& validation,
          const ChannelStats& stats, comm::Communicator* group = nullptr);
  /// \brief The trainer keeps references to its sets: temporaries would dangle (found by ASan).
  Trainer(const TrainConfig&, Network&, ImageSet&&, const ImageSet&, const ChannelStats&,
          comm::Communicator* = nullptr) = delete;
  /// \brief See above: pass a named (possibly empty) validation set.
  Trainer(const TrainConfig&, Network&, const ImageSet&, ImageSet&&, const ChannelStats&,
          comm::Communicator* = nullptr) = delete;
  /// \brief Detaches the synchronised batch norm from the network.
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  /// \brief Replaces the per-step update rule (by default make_optimizer(config.optimizer)).
  void set_optimizer(std::unique_ptr<Optimizer> optimizer) { optimizer_ = std::move(optimizer); }
  /// \brief Installs the gradient hook (see GradientHook).
  void set_gradient_hook(GradientHook hook) { hook_ = std::move(hook); }

  /// \brief One step on the global batch `batch` (indices into the training set; the same on every
  /// rank of the group). Returns the global batch loss; a non-finite loss skips the update.
  double train_step(std::span<const std::int64_t> batch);

  /// \brief Runs all epochs (stopping early on divergence), calling `on_epoch` after each (on every rank).
  TrainResult fit(const std::function<void(const EpochReport&)>& on_epoch = {});

  /// \brief Accuracy and loss of the network (inference-mode batch norm) on `set`, sharded over
  /// the group and reduced (collective).
  [[nodiscard]] Evaluation evaluate(const ImageSet& set);

  /// \brief The learning rate the next step will use.
  [[nodiscard]] double current_lr() const;
  /// \brief The peak learning rate and warm-up this run uses (after LEGW / linear scaling).
  [[nodiscard]] const LearningRatePlan& plan() const noexcept { return plan_; }
  /// \brief Steps taken so far.
  [[nodiscard]] std::int64_t iteration() const noexcept { return iteration_; }
  /// \brief The batch iterator (save its state() to resume).
  [[nodiscard]] BatchIterator& batches() noexcept { return batches_; }
  /// \brief ISGD's control chart; null unless optimizer.name is isgd.
  [[nodiscard]] LossControlChart* isgd_chart() noexcept { return chart_ ? &*chart_ : nullptr; }
  /// \brief What ISGD did on the last step (default values unless optimizer.name is isgd).
  [[nodiscard]] const IsgdStepReport& last_isgd_step() const noexcept { return isgd_report_; }
  /// \brief This rank's index in the group and the group size (0 and 1 without a group).
  [[nodiscard]] int group_rank() const noexcept { return group_ ? group_->rank() : 0; }
  [[nodiscard]] int group_size() const noexcept { return group_ ? group_->size() : 1; }

 private:
  double shard_loss(std::span<const std::int64_t> batch);
  void shard_gradient();
  void isgd_after_step(std::span<const std::int64_t> batch, double loss, double lr);
  void average_batch_norm_statistics();
  void sum_over_group(std::span<double> values);

  TrainConfig config_;
  Network& network_;
  const ImageSet& train_;
  const ImageSet& validation_;
  ChannelStats stats_;
  comm::Communicator* group_;
  comm::Algorithm allreduce_;
  LearningRatePlan plan_;
  std::unique_ptr<Optimizer> optimizer_;
  GradientHook hook_;
  BatchIterator batches_;
  tensor::Tensor x_;
  tensor::Tensor dlogits_;
  std::vector<std::int32_t> labels_;
  std::int64_t iteration_ = 0;
  std::optional<LossControlChart> chart_;
  IsgdConfig isgd_;
  IsgdStepReport isgd_report_;
  std::vector<float> previous_weights_;
};

/// \brief The whole of `alphax train`: prepare the data, build and initialise the network for
/// `cell`, train (data-parallel over `group` when given: collective), evaluate on the test set.
/// Sets the lib/tensor thread count when config.threads > 0.
[[nodiscard]] TrainResult train_network(const TrainConfig& config, const CellSpec& cell,
                                        const std::function<void(const EpochReport&)>& on_epoch = {},
                                        comm::Communicator* group = nullptr);

}  // namespace alphax::train
