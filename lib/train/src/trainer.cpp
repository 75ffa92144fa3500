#include "alphax/train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "alphax/tensor/loss.hpp"
#include "alphax/tensor/threading.hpp"

namespace alphax::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool all_finite(std::span<const float> values) {
  return std::all_of(values.begin(), values.end(), [](float v) { return std::isfinite(v); });
}

void ensure_shape(tensor::Tensor& t, const tensor::Shape& shape) {
  if (!(t.shape() == shape) || t.size() == 0) t = tensor::Tensor(shape);
}

}  // namespace

const char* to_string(TrainStatus status) noexcept {
  switch (status) {
    case TrainStatus::kOk: return "ok";
    case TrainStatus::kDiverged: return "diverged";
  }
  return "unknown";
}

PreparedData prepare_data(const DataConfig& config, std::uint64_t seed) {
  auto files = read_dataset(config.set, config.dir);
  PreparedData data;
  auto split = split_train_validation(files.train, config.validation, config.train_subset, seed);
  data.train = std::move(split.train);
  data.validation = std::move(split.validation);
  if (config.test_subset > 0 && config.test_subset < files.test.count) {
    std::vector<std::int64_t> first(static_cast<std::size_t>(config.test_subset));
    for (std::size_t i = 0; i < first.size(); ++i) first[i] = static_cast<std::int64_t>(i);
    data.test = take(files.test, first);
  } else {
    data.test = std::move(files.test);
  }
  data.stats = config.normalize ? channel_stats(data.train) : identity_stats(data.train.channels);
  return data;
}

NetworkSpec make_network_spec(const NetworkConfig& config, const CellSpec& cell, const ImageSet& data) {
  NetworkSpec spec;
  spec.skeleton = config.skeleton;
  spec.cell = cell;
  spec.cells_per_stage = config.cells_per_stage;
  spec.channels = config.channels;
  spec.input_channels = data.channels;
  spec.input_height = data.height;
  spec.input_width = data.width;
  spec.num_classes = data.num_classes;
  return spec;
}

Trainer::Trainer(const TrainConfig& config, Network& network, const ImageSet& train, const ImageSet& validation,
                 const ChannelStats& stats)
    : config_(config),
      network_(network),
      train_(train),
      validation_(validation),
      stats_(stats),
      optimizer_(make_optimizer(config.optimizer)),
      batches_(train.count, std::min<std::int64_t>(config.batch, train.count), config.seed, true, true) {
  validate_train_config(config);
}

double Trainer::current_lr() const {
  return learning_rate(config_.schedule, config_.optimizer.lr, iteration_, batches_.batches_per_epoch(),
                       config_.epochs);
}

double Trainer::train_step(std::span<const std::int64_t> batch) {
  const auto n = static_cast<std::int64_t>(batch.size());
  ensure_shape(x_, tensor::Shape{n, train_.channels, train_.height, train_.width});
  labels_.resize(batch.size());
  gather_batch(train_, batch, stats_, x_, labels_);

  const tensor::Tensor& logits = network_.forward(x_, /*training=*/true);
  ensure_shape(dlogits_, logits.shape());
  double loss = tensor::softmax_cross_entropy(logits, std::span<const std::int32_t>(labels_), &dlogits_);
  network_.backward(dlogits_);

  if (hook_) hook_(network_.parameters().grads(), loss);  // data-parallel allreduce goes here

  const StepInfo info{current_lr(), loss, iteration_, batches_.state().epoch};
  if (std::isfinite(loss)) optimizer_->step(network_.parameters().values(), network_.parameters().grads(), info);
  ++iteration_;
  return loss;
}

Evaluation Trainer::evaluate(const ImageSet& set) {
  Evaluation eval;
  if (set.count == 0) {
    eval.accuracy = std::numeric_limits<double>::quiet_NaN();
    return eval;
  }
  BatchIterator order(set.count, config_.batch, 0, false, false);
  tensor::Tensor x;
  std::vector<std::int32_t> labels;
  std::int64_t correct = 0;
  double loss_sum = 0;
  for (auto batch = order.next(); !batch.empty(); batch = order.next()) {
    const auto n = static_cast<std::int64_t>(batch.size());
    ensure_shape(x, tensor::Shape{n, set.channels, set.height, set.width});
    labels.resize(batch.size());
    gather_batch(set, batch, stats_, x, labels);
    const tensor::Tensor& logits = network_.forward(x, /*training=*/false);
    const std::span<const std::int32_t> y(labels);
    correct += tensor::count_correct(logits, y);
    loss_sum += static_cast<double>(tensor::softmax_cross_entropy(logits, y, nullptr)) * static_cast<double>(n);
  }
  eval.count = set.count;
  eval.accuracy = 100.0 * static_cast<double>(correct) / static_cast<double>(set.count);
  eval.loss = loss_sum / static_cast<double>(set.count);
  return eval;
}

TrainResult Trainer::fit(const std::function<void(const EpochReport&)>& on_epoch) {
  TrainResult result;
  result.parameters = network_.parameter_count();
  result.flops = network_.flops_per_sample();
  const auto start = Clock::now();
  for (std::int64_t epoch = 1; epoch <= config_.epochs; ++epoch) {
    double loss_sum = 0;
    std::int64_t steps = 0;
    double lr = current_lr();
    for (auto batch = batches_.next(); !batch.empty(); batch = batches_.next()) {
      lr = current_lr();
      const double loss = train_step(batch);
      loss_sum += loss;
      ++steps;
      if (!std::isfinite(loss)) {
        result.status = TrainStatus::kDiverged;
        break;
      }
    }
    batches_.next_epoch();
    // A NaN can also hide in the weights while the loss stays finite (ReLU maps NaN to 0).
    if (result.status == TrainStatus::kOk && !all_finite(network_.parameters().values())) {
      result.status = TrainStatus::kDiverged;
    }
    EpochReport report;
    report.epoch = epoch;
    report.train_loss = steps > 0 ? loss_sum / static_cast<double>(steps) : 0.0;
    report.lr = lr;
    report.validation_accuracy = result.status == TrainStatus::kOk ? evaluate(validation_).accuracy
                                                                   : std::numeric_limits<double>::quiet_NaN();
    report.seconds = seconds_since(start);
    result.epochs.push_back(report);
    result.validation_accuracy = report.validation_accuracy;
    if (on_epoch) on_epoch(report);
    if (result.status != TrainStatus::kOk) break;
  }
  result.test_accuracy = std::numeric_limits<double>::quiet_NaN();
  result.seconds = seconds_since(start);
  return result;
}

TrainResult train_network(const TrainConfig& config, const CellSpec& cell,
                          const std::function<void(const EpochReport&)>& on_epoch) {
  validate_train_config(config);
  if (config.threads > 0) tensor::set_num_threads(config.threads);
  const auto start = Clock::now();
  const PreparedData data = prepare_data(config.data, config.seed);
  Network network(make_network_spec(config.network, cell, data.train));
  network.initialize(config.seed);
  Trainer trainer(config, network, data.train, data.validation, data.stats);
  TrainResult result = trainer.fit(on_epoch);
  if (result.status == TrainStatus::kOk) result.test_accuracy = trainer.evaluate(data.test).accuracy;
  result.seconds = seconds_since(start);
  return result;
}

}  // namespace alphax::train
