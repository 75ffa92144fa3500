#pragma once
/// \file
/// \brief TrainConfig: everything that defines one training run, and its YAML form.
///
/// The YAML block (top level of inputs/train-*.yaml, or the `evaluator:` block of a search input):
/// \code
/// arch: "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
/// seed: 1
/// threads: 2
/// epochs: 5
/// batch: 128
/// data: {set: fashion-mnist, dir: /usr/share/datasets/fashion-mnist, train_subset: 10000,
///        validation: 5000, test_subset: 0, normalize: true}
/// network: {skeleton: nb201, cells_per_stage: 1, channels: 16}
/// optimizer: {name: sgd, lr: 0.1, momentum: 0.9, weight_decay: 0.0005, nesterov: true}
/// schedule: {name: cosine, warmup_epochs: 1, min_lr: 0}
/// parallel: {sync_batch_norm: false, allreduce: auto, broadcast: auto}
/// transfer: {cache_size: 0, epochs_fraction: 0.5, max_distance: 0}
/// \endcode
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "alphax/train/optimizer.hpp"

namespace alphax::train {

/// \brief The `data:` block.
struct DataConfig {
  std::string set = "fashion-mnist";  ///< fashion-mnist, mnist or cifar10
  std::string dir = "/usr/share/datasets/fashion-mnist";
  std::int64_t train_subset = 0;    ///< training images used (0 = all left after the validation split)
  std::int64_t validation = 5000;   ///< images carved from the training set for validation
  std::int64_t test_subset = 0;     ///< test images evaluated (0 = all)
  bool normalize = true;            ///< per-channel mean/std of the training split
  std::string order = "reshuffle";  ///< batch order: reshuffle (every epoch) or fixed_cycle (shuffled once)
};

/// \brief The `network:` block.
struct NetworkConfig {
  std::string skeleton = "nb201";  ///< nb201 or plain
  std::int32_t cells_per_stage = 1;
  std::int32_t channels = 16;
};

/// \brief The `parallel:` block: how a data-parallel group trains one network (see Trainer).
struct ParallelConfig {
  bool sync_batch_norm = false;    ///< allreduce batch-norm statistics over the group (G ranks == 1 rank)
  std::string allreduce = "auto";  ///< gradient allreduce algorithm: auto, lp, ring, mpi
  std::string broadcast = "auto";  ///< initial-weight broadcast algorithm: auto, lp, mpi
};

/// \brief The `transfer:` block: weight transfer from a trained parent (alphax/train/weight_cache.hpp).
struct TransferConfig {
  std::int64_t cache_size = 0;   ///< trained networks kept (least recently used dropped); 0 disables transfer
  double epochs_fraction = 0.5;  ///< a child initialised from a parent trains ceil(fraction · epochs) epochs
  std::int64_t max_distance = 0;  ///< use a cached parent only within this cell distance (0 = any)
  /// Which trained networks may become parents: `any`, or `scratch` (only networks trained the full
  /// epochs from random weights, so that a parent's own inherited state is not passed down a lineage).
  std::string parents = "any";
};

/// \brief One training run.
struct TrainConfig {
  std::string arch;  ///< NB201 cell string (alphax train; a search supplies the cell instead)
  DataConfig data;
  NetworkConfig network;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  std::int64_t epochs = 5;
  std::int64_t batch = 128;
  std::uint64_t seed = 1;
  std::int32_t threads = 0;  ///< OpenMP threads for lib/tensor (0 = leave the default)
  ParallelConfig parallel;
  TransferConfig transfer;
};

/// \brief Reads a TrainConfig from a YAML map. `path` names the block in messages (e.g.
/// "evaluator"); keys in `ignored` (e.g. "name") are skipped. Unknown keys and wrong types throw
/// std::invalid_argument naming the key path (e.g. "evaluator.optimizer.lr") and what is expected.
/// Missing keys keep their defaults. Values are range-checked (validate_train_config).
[[nodiscard]] TrainConfig parse_train_config(const YAML::Node& node, const std::string& path = "",
                                             std::span<const std::string_view> ignored = {});

/// \brief parse_train_config of a whole file; errors name the file.
[[nodiscard]] TrainConfig load_train_config(const std::filesystem::path& file);

/// \brief Throws std::invalid_argument naming the first out-of-range field (epochs < 1, batch < 1, lr <= 0,
/// ...).
void validate_train_config(const TrainConfig& config);

/// \brief The config as YAML (the same keys parse_train_config reads), e.g. for logs.
[[nodiscard]] std::string to_yaml(const TrainConfig& config);

}  // namespace alphax::train
