#pragma once
/// \file
/// \brief Image classification data: IDX (MNIST, Fashion-MNIST; raw or gzip) and CIFAR-10 binary
/// readers, a seeded train/validation split, subsets, per-channel normalisation and a batch
/// iterator with seeded shuffling whose position can be saved and restored.
#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "alphax/tensor/tensor.hpp"

namespace alphax::train {

/// \brief A set of 8-bit images (count x channels x height x width, NCHW order) with int labels.
struct ImageSet {
  std::int64_t count = 0;
  std::int64_t channels = 0;
  std::int64_t height = 0;
  std::int64_t width = 0;
  std::int32_t num_classes = 0;
  std::vector<std::uint8_t> pixels;  ///< count * channels * height * width bytes
  std::vector<std::int32_t> labels;  ///< count values in [0, num_classes)

  /// \brief Bytes of one image.
  [[nodiscard]] std::int64_t image_size() const noexcept { return channels * height * width; }
};

/// \brief Reads an IDX image file (magic 0x00000803) and its IDX label file (magic 0x00000801),
/// raw or gzip-compressed (detected from the content). Throws std::runtime_error naming the file on
/// a missing file, wrong magic number, truncated data or image/label count mismatch.
[[nodiscard]] ImageSet read_idx(const std::filesystem::path& images, const std::filesystem::path& labels,
                                std::int32_t num_classes = 10);

/// \brief Reads CIFAR-10 binary batch files (records of 1 label byte + 3x32x32 bytes) into one set.
/// Throws std::runtime_error naming the file on a missing file, a size that is not a whole number of
/// records, or a label >= 10.
[[nodiscard]] ImageSet read_cifar10_bin(std::span<const std::filesystem::path> files);

/// \brief The images at `indices` (in that order) as a new set.
[[nodiscard]] ImageSet take(const ImageSet& set, std::span<const std::int64_t> indices);

/// \brief A training set split into the part that is trained on and a held-out validation part.
struct TrainValidationSplit {
  ImageSet train;
  ImageSet validation;
};

/// \brief Shuffles the indices of `set` with `seed`, puts the first `validation_count` into the
/// validation set and the next `train_count` (0 = all the rest) into the training set. Same seed ->
/// same split. Throws std::invalid_argument when the counts exceed the set.
[[nodiscard]] TrainValidationSplit split_train_validation(const ImageSet& set, std::int64_t validation_count,
                                                          std::int64_t train_count, std::uint64_t seed);

/// \brief Per-channel mean and standard deviation of pixel values scaled to [0, 1].
struct ChannelStats {
  std::vector<float> mean;
  std::vector<float> stddev;
};

/// \brief The per-channel statistics of `set` (computed in double; a constant channel gets stddev 1).
[[nodiscard]] ChannelStats channel_stats(const ImageSet& set);

/// \brief The identity normalisation (mean 0, stddev 1) for `channels` channels: pixels / 255.
[[nodiscard]] ChannelStats identity_stats(std::int64_t channels);

/// \brief Writes images `indices` of `set` into x [B, C, H, W] as (pixel / 255 - mean) / stddev and
/// their labels into `labels` (B entries). x must have that shape.
void gather_batch(const ImageSet& set, std::span<const std::int64_t> indices, const ChannelStats& stats,
                  tensor::Tensor& x, std::span<std::int32_t> labels);

/// \brief Where a BatchIterator stands: the epoch and the next position in that epoch's order.
struct BatchIteratorState {
  std::int64_t epoch = 0;
  std::int64_t position = 0;
};

/// \brief Hands out the sample indices of mini-batches, in an order reshuffled every epoch from
/// (seed, epoch) — so a saved state restores the exact same sequence — or, with `fixed_cycle`,
/// shuffled once and then repeated every epoch (the same batches in the same order, as a data
/// reader cycling through a pre-shuffled file does; ISGD's paper trains that way).
class BatchIterator {
 public:
  /// \brief Batches of `batch` indices over [0, count); `shuffle` false keeps the natural order;
  /// `drop_last` skips a final partial batch. Throws std::invalid_argument on count or batch < 1.
  BatchIterator(std::int64_t count, std::int64_t batch, std::uint64_t seed, bool shuffle, bool drop_last,
                bool fixed_cycle = false);

  /// \brief The next batch of the current epoch, or an empty span when the epoch is done (call
  /// next_epoch()). The span stays valid until the next call.
  [[nodiscard]] std::span<const std::int64_t> next();
  /// \brief Starts the following epoch (reshuffled).
  void next_epoch();
  /// \brief Number of batches per epoch.
  [[nodiscard]] std::int64_t batches_per_epoch() const noexcept;
  /// \brief The current position (save it to resume).
  [[nodiscard]] BatchIteratorState state() const noexcept { return state_; }
  /// \brief Resumes at a saved position.
  void restore(const BatchIteratorState& state);

 private:
  void reorder();

  std::int64_t count_;
  std::int64_t batch_;
  std::uint64_t seed_;
  bool shuffle_;
  bool drop_last_;
  bool fixed_cycle_;
  BatchIteratorState state_;
  std::vector<std::int64_t> order_;
};

/// \brief The standard file names of a data set in a directory, and how to read them.
struct DatasetFiles {
  ImageSet train;
  ImageSet test;
};

/// \brief Reads a data set by name from `dir`: "fashion-mnist" or "mnist" (train-images-idx3-ubyte
/// etc., with or without .gz) or "cifar10" (data_batch_{1..5}.bin and test_batch.bin, in `dir` or in
/// `dir`/cifar-10-batches-bin). Throws std::runtime_error naming the missing file and the fix.
[[nodiscard]] DatasetFiles read_dataset(const std::string& name, const std::filesystem::path& dir);

}  // namespace alphax::train
