#pragma once
/// \file
/// \brief Weight transfer from a parent architecture (AlphaX): the trained weights of recent
/// networks in a bounded cache, the cached architecture closest to a child, and the layer-by-layer
/// copy of every parameter (and batch-norm statistic) whose name and shape the child shares.
///
/// Parameter names are stable across architectures that share a layer (e.g.
/// `stage1.cell0.edge0-1.nor_conv_3x3.conv.weight`, `stem.bn.weight`, `classifier.weight`), so a
/// child that differs from its parent by one edge op gets every other layer from the parent.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "alphax/train/cell_spec.hpp"
#include "alphax/train/config.hpp"
#include "alphax/train/network.hpp"

namespace alphax::train {

/// \brief One named tensor copied out of a network.
struct NamedTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

/// \brief The trained state of a network: its parameters and its batch-norm running statistics.
struct NetworkWeights {
  std::vector<NamedTensor> parameters;
  std::vector<NamedTensor> states;
};

/// \brief A copy of every parameter and state tensor of `network`, by name.
[[nodiscard]] NetworkWeights copy_weights(const Network& network);

/// \brief What load_matching_weights copied.
struct TransferReport {
  std::int64_t tensors = 0;        ///< parameter and state tensors copied
  std::int64_t scalars = 0;        ///< parameter values copied
  std::int64_t total_scalars = 0;  ///< parameter values of the target network
};

/// \brief Copies into `network` every parameter and state tensor of `source` whose name exists in
/// the network with the same shape; the rest keeps its current (freshly initialised) values.
TransferReport load_matching_weights(const NetworkWeights& source, Network& network);

/// \brief Epochs of a child initialised from a parent: ceil(transfer.epochs_fraction · epochs), at least 1.
[[nodiscard]] std::int64_t epochs_with_parent(const TrainConfig& config);

/// \brief Whether a trained network may enter the cache as a future parent: always with
/// `transfer.parents: any`; with `scratch` only when it was trained from random weights (no parent).
[[nodiscard]] bool may_become_parent(const TransferConfig& config, bool trained_from_parent);

/// \brief The number of edit operations between two cells: edges (from, to) whose op differs
/// (an absent edge counts as "none"; skip_connect and identity are the same op) plus nodes whose
/// node op differs. 0 for identical cells; 1 for NB201 cells that differ by one action.
[[nodiscard]] std::int64_t cell_distance(const CellSpec& a, const CellSpec& b);

/// \brief Serialises weights to a self-describing byte string (magic, version, names, shapes,
/// values) for messages between ranks.
[[nodiscard]] std::vector<std::byte> serialize_weights(const NetworkWeights& weights);
/// \brief Reads what serialize_weights wrote; throws std::runtime_error on a truncated or foreign
/// byte string.
[[nodiscard]] NetworkWeights deserialize_weights(std::span<const std::byte> bytes);

/// \brief A bounded cache of trained networks, most recently used last.
///
/// Inserting beyond the capacity drops the least recently used entry that is not pinned (pinned
/// entries are parents of evaluations still in flight) and is not the newest; the cache may hold
/// more than its capacity while pins prevent it, until they are released.
class WeightCache {
 public:
  /// \brief One cached network.
  struct Entry {
    std::string key;  ///< identifies the architecture (e.g. its NB201 string)
    CellSpec cell;
    std::shared_ptr<const NetworkWeights> weights;
    std::int64_t pins = 0;
  };

  /// \brief The closest cached network to a cell.
  struct Match {
    std::string key;
    std::int64_t distance = 0;
    std::shared_ptr<const NetworkWeights> weights;
  };

  /// \brief A cache of at most `capacity` >= 1 unpinned networks; throws std::invalid_argument otherwise.
  explicit WeightCache(std::int64_t capacity);

  /// \brief Adds (or replaces, keeping its pins) the network `key` as the most recent entry.
  void insert(std::string key, CellSpec cell, std::shared_ptr<const NetworkWeights> weights);
  /// \brief The entry with the smallest cell_distance to `cell` (ties: the most recent), or none
  /// when the cache is empty or every entry is farther than `max_distance` (0 = no limit).
  [[nodiscard]] std::optional<Match> closest(const CellSpec& cell, std::int64_t max_distance = 0) const;
  /// \brief Marks `key` as used (most recent) and keeps it until unpin(); throws std::out_of_range for an
  /// unknown key.
  void pin(const std::string& key);
  /// \brief Releases one pin of `key` and trims the cache to its capacity; unknown keys are ignored.
  void unpin(const std::string& key);
  /// \brief Replaces the whole content by `entries` (least recently used first, pins kept), e.g.
  /// entries() of a saved cache; throws std::invalid_argument on duplicate keys.
  void restore(std::vector<Entry> entries);
  /// \brief The entries, least recently used first.
  [[nodiscard]] const std::vector<Entry>& entries() const noexcept { return entries_; }
  [[nodiscard]] std::int64_t capacity() const noexcept { return capacity_; }

 private:
  void trim();

  std::int64_t capacity_;
  std::vector<Entry> entries_;
};

}  // namespace alphax::train
