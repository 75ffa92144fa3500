#pragma once
/// \file
/// \brief The `train` evaluator: builds the proposed cell with lib/train and trains it on real data,
/// data-parallel over its trainer group; and the master's weight-transfer bookkeeping.
#include <mpi.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "alphax/comm/communicator.hpp"
#include "alphax/config.hpp"
#include "alphax/search/evaluator.hpp"
#include "alphax/search/search_space.hpp"
#include "alphax/search/state_archive.hpp"
#include "alphax/train/config.hpp"
#include "alphax/train/trainer.hpp"
#include "alphax/train/weight_cache.hpp"

namespace alphax::app {

/// \brief The lib/train form of a search space's cell.
train::CellSpec to_cell_spec(const search::CellGraph& graph);

/// \brief Trains each proposed cell with a data-parallel lib/train Trainer over its group.
///
/// Every rank of the group constructs it and calls evaluate() with the same genome (collective).
/// Validation accuracy is the objective, test accuracy only the report. With weight transfer on
/// (`transfer.cache_size` > 0) the group leader can be given the parent's trained weights before
/// an evaluation (set_parent) and hands out the child's afterwards (take_trained).
class TrainEvaluator final : public search::Evaluator {
 public:
  /// \brief Collective over `group` (duplicates it for the group's collectives).
  TrainEvaluator(train::TrainConfig config, MPI_Comm group, comm::CommunicatorOptions options);

  search::EvalResult evaluate(const search::SearchSpace& space, const search::Genome& genome) override;
  std::string name() const override { return "train"; }

  /// \brief Weights the next evaluation starts from on the leader (null: from scratch). A child
  /// initialised from a parent trains ceil(transfer.epochs_fraction · epochs) epochs.
  void set_parent(std::shared_ptr<const train::NetworkWeights> parent) { parent_ = std::move(parent); }
  /// \brief The trained weights of the last evaluation (leader, transfer on; null after a failure).
  std::shared_ptr<const train::NetworkWeights> take_trained() { return std::move(trained_); }
  /// \brief Whether weight transfer is configured.
  bool transfer_enabled() const { return config_.transfer.cache_size > 0; }
  /// \brief The training settings.
  const train::TrainConfig& config() const { return config_; }

 private:
  const train::PreparedData& prepared();

  train::TrainConfig config_;
  comm::MpiCommunicator group_;
  std::optional<train::PreparedData> data_;
  std::shared_ptr<const train::NetworkWeights> parent_;
  std::shared_ptr<const train::NetworkWeights> trained_;
};

/// \brief A TrainEvaluator for the `evaluator:` section (`name: train`) running on `group`.
std::unique_ptr<search::Evaluator> make_train_evaluator(const RunConfig& config,
                                                        const search::SearchSpace& space, MPI_Comm group);

/// \brief The master's side of weight transfer: a bounded cache of trained networks, the parent
/// chosen for each dispatched evaluation, and their place in the checkpoint.
///
/// Deterministic: parents are chosen when the master dispatches (on_dispatch) and networks enter
/// the cache when the master consumes their result (on_consume), both in the master's
/// deterministic order; weights that arrive earlier wait (on_arrival). The parent is the cached
/// architecture with the fewest differing edge/node ops (train::cell_distance; ties: the most
/// recently used). The cache and the in-flight choices are saved with the checkpoint.
class WeightTransfer {
 public:
  /// \brief Transfer per `config` (cache_size 0: disabled, every call is a no-op).
  WeightTransfer(const train::TransferConfig& config, const search::SearchSpace& space);

  bool enabled() const { return cache_.has_value(); }
  /// \brief Chooses (and pins) the parent of evaluation `eval_id`; a second call for it keeps the first
  /// choice.
  void on_dispatch(std::int64_t eval_id, const search::Genome& genome);
  /// \brief The parent chosen for `eval_id` (null: train from scratch).
  std::shared_ptr<const train::NetworkWeights> parent_of(std::int64_t eval_id) const;
  /// \brief The trained weights of `eval_id` arrived (null for a failed evaluation).
  void on_arrival(std::int64_t eval_id, std::shared_ptr<const train::NetworkWeights> weights);
  /// \brief `eval_id` is consumed: its network enters the cache (when ok) and its parent is released.
  void on_consume(std::int64_t eval_id, const search::EvalResult& result);

  /// \brief Writes the cache and the in-flight parent choices into `archive`.
  void save(search::StateArchive& archive) const;
  /// \brief Restores what save() wrote; throws std::runtime_error naming the entry on a mismatch.
  void load(const search::StateArchive& archive);

 private:
  struct Flight {
    search::Genome genome;
    std::string parent;  // empty: none
  };

  const search::SearchSpace* space_;
  train::TransferConfig config_;
  std::optional<train::WeightCache> cache_;
  std::map<std::int64_t, Flight> flights_;
  std::map<std::int64_t, std::shared_ptr<const train::NetworkWeights>> arrived_;
};

}  // namespace alphax::app
