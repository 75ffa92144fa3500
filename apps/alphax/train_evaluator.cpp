#include "alphax/train_evaluator.hpp"

#include <array>
#include <cmath>
#include <optional>
#include <string_view>

#include "alphax/tensor/threading.hpp"
#include "alphax/train/trainer.hpp"

namespace alphax::app {
namespace {

train::CellSpec to_cell_spec(const search::CellGraph& graph) {
  train::CellSpec cell;
  cell.num_nodes = graph.num_nodes;
  cell.node_ops = graph.node_ops;
  for (const auto& e : graph.edges) cell.edges.push_back({e.from, e.to, e.op});
  return cell;
}

/// Trains the proposed cell with lib/train on the group's ranks; validation accuracy is the
/// objective, test accuracy only the report. Data are read once per process, on first use.
class TrainEvaluator final : public search::Evaluator {
 public:
  TrainEvaluator(train::TrainConfig config, MPI_Comm group) : config_(std::move(config)), group_(group) {
    MPI_Comm_size(group_, &group_size_);
  }

  search::EvalResult evaluate(const search::SearchSpace& space, const search::Genome& genome) override {
    const train::CellSpec cell = to_cell_spec(space.to_cell(genome));
    train::validate_cell(cell);
    const auto& data = prepared();
    train::Network network(train::make_network_spec(config_.network, cell, data.train));
    network.initialize(config_.seed);
    train::Trainer trainer(config_, network, data.train, data.validation, data.stats);
    if (group_size_ > 1) {
      // Data-parallel group: average the flat gradient and the loss over the group's ranks.
      trainer.set_gradient_hook([this](std::span<float> grads, double& loss) {
        MPI_Allreduce(MPI_IN_PLACE, grads.data(), static_cast<int>(grads.size()), MPI_FLOAT, MPI_SUM, group_);
        MPI_Allreduce(MPI_IN_PLACE, &loss, 1, MPI_DOUBLE, MPI_SUM, group_);
        const float scale = 1.0f / static_cast<float>(group_size_);
        for (float& g : grads) g *= scale;
        loss /= group_size_;
      });
    }
    const train::TrainResult trained = trainer.fit();
    search::EvalResult result;
    result.params = trained.parameters;
    result.flops = static_cast<double>(trained.flops);
    result.objective = trained.validation_accuracy;
    result.train_seconds = trained.seconds;
    if (trained.status == train::TrainStatus::kDiverged || !std::isfinite(trained.validation_accuracy)) {
      result.status = search::EvalStatus::diverged;
      result.message = "training loss became NaN/inf";
      return result;
    }
    result.report = data.test.count > 0 ? trainer.evaluate(data.test).accuracy : std::nan("");
    return result;
  }

  std::string name() const override { return "train"; }

 private:
  const train::PreparedData& prepared() {
    if (!data_) {
      if (config_.threads > 0) tensor::set_num_threads(config_.threads);
      data_ = train::prepare_data(config_.data, config_.seed);
    }
    return *data_;
  }

  train::TrainConfig config_;
  MPI_Comm group_;
  int group_size_ = 1;
  std::optional<train::PreparedData> data_;
};

}  // namespace

std::unique_ptr<search::Evaluator> make_train_evaluator(const RunConfig& config, const search::SearchSpace& /*space*/,
                                                        MPI_Comm group) {
  static constexpr std::array<std::string_view, 1> kIgnored{"name"};
  train::TrainConfig train_config = train::parse_train_config(config.evaluator, "evaluator", kIgnored);
  if (!train_config.arch.empty())
    throw ConfigError("evaluator.arch: the search proposes the architectures; remove this key");
  train::validate_train_config(train_config);
  if (!std::filesystem::is_directory(train_config.data.dir))
    throw ConfigError("evaluator.data.dir: '" + train_config.data.dir +
                      "' is not a directory; point it at the data set (scripts/setup.sh installs Fashion-MNIST)");
  return std::make_unique<TrainEvaluator>(std::move(train_config), group);
}

}  // namespace alphax::app
