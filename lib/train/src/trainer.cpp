#include "alphax/train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "alphax/tensor/elementwise.hpp"
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
    case TrainStatus::kOk:
      return "ok";
    case TrainStatus::kDiverged:
      return "diverged";
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

Trainer::Trainer(const TrainConfig& config, Network& network, const ImageSet& train,
                 const ImageSet& validation, const ChannelStats& stats, comm::Communicator* group)
    : config_(config),
      network_(network),
      train_(train),
      validation_(validation),
      stats_(stats),
      group_(group),
      allreduce_(comm::parse_algorithm(config.parallel.allreduce)),
      plan_(learning_rate_plan(config, std::min<std::int64_t>(config.batch, train.count))),
      optimizer_(make_optimizer(config.optimizer)),
      batches_(train.count, std::min<std::int64_t>(config.batch, train.count), config.seed, true, true,
               config.data.order == "fixed_cycle") {
  validate_train_config(config);
  const std::int64_t global_batch = std::min<std::int64_t>(config.batch, train.count);
  if (global_batch < group_size()) {
    throw std::invalid_argument("Trainer: a global batch of " + std::to_string(global_batch) +
                                " images cannot be shared by a group of " + std::to_string(group_size()) +
                                " ranks; raise batch or lower trainers.group_size");
  }
  if (group_size() > 1) {
    // Every replica starts from the group leader's weights and batch-norm statistics.
    const auto algorithm = comm::parse_algorithm(config.parallel.broadcast);
    group_->broadcast(network_.parameters().values(), 0, algorithm);
    group_->broadcast(network_.parameters().states(), 0, algorithm);
  }
  if (config.parallel.sync_batch_norm) {
    network_.set_batch_norm_reducer([this](std::span<double> sums) { sum_over_group(sums); });
  } else {
    network_.set_batch_norm_reducer({});
  }
  if (config.optimizer.name == "isgd") {
    isgd_ = parse_isgd_config(config.optimizer);
    chart_.emplace(isgd_.window > 0 ? isgd_.window : std::max<std::int64_t>(2, batches_.batches_per_epoch()));
  }
}

Trainer::~Trainer() { network_.set_batch_norm_reducer({}); }

double Trainer::current_lr() const {
  return planned_learning_rate(plan_, iteration_, batches_.batches_per_epoch(), config_.epochs);
}

void Trainer::sum_over_group(std::span<double> values) {
  // Scalars that steer control flow (ISGD's loss test) must be bit-identical on every rank: the
  // linear pipeline reduces in one fixed order and broadcasts that one result.
  if (group_size() > 1) group_->allreduce(values, comm::ReduceOp::sum, comm::Algorithm::lp);
}

double Trainer::shard_loss(std::span<const std::int64_t> batch) {
  const auto n = static_cast<std::int64_t>(batch.size());
  const std::int64_t g = group_size();
  const std::int64_t r = group_rank();
  const auto shard = batch.subspan(static_cast<std::size_t>(r * n / g),
                                   static_cast<std::size_t>((r + 1) * n / g - r * n / g));
  const auto m = static_cast<std::int64_t>(shard.size());
  ensure_shape(x_, tensor::Shape{m, train_.channels, train_.height, train_.width});
  labels_.resize(shard.size());
  gather_batch(train_, shard, stats_, x_, labels_);
  const tensor::Tensor& logits = network_.forward(x_, /*training=*/true);
  ensure_shape(dlogits_, logits.shape());
  double loss = tensor::softmax_cross_entropy(logits, std::span<const std::int32_t>(labels_), &dlogits_);
  if (m != n) {
    // This shard's share of the global batch mean: the group's sum is the mean over all n images.
    const double weight = static_cast<double>(m) / static_cast<double>(n);
    tensor::scale(static_cast<float>(weight), dlogits_);
    loss *= weight;
  }
  sum_over_group(std::span<double>(&loss, 1));
  return loss;
}

void Trainer::shard_gradient() {
  network_.backward(dlogits_);
  if (group_size() > 1) group_->allreduce(network_.parameters().grads(), comm::ReduceOp::sum, allreduce_);
}

double Trainer::train_step(std::span<const std::int64_t> batch) {
  const double lr = current_lr();
  double loss = shard_loss(batch);
  shard_gradient();
  if (hook_) hook_(network_.parameters().grads(), loss);
  if (!std::isfinite(loss)) {
    ++iteration_;
    return loss;
  }
  auto weights = network_.parameters().values();
  if (chart_) previous_weights_.assign(weights.begin(), weights.end());
  optimizer_->step(weights, network_.parameters().grads(),
                   StepInfo{lr, loss, iteration_, batches_.state().epoch});
  if (chart_) isgd_after_step(batch, loss, lr);
  ++iteration_;
  return loss;
}

void Trainer::isgd_after_step(std::span<const std::int64_t> batch, double loss, double lr) {
  isgd_report_ = IsgdStepReport{};
  isgd_report_.limit = chart_->limit();
  isgd_report_.over_limit = chart_->over_limit(loss);
  chart_->push(loss);
  if (!isgd_report_.over_limit) return;
  const IsgdBatchModel model{[&] { return shard_loss(batch); },
                             [&] {
                               shard_gradient();
                               return std::span<const float>(network_.parameters().grads());
                             }};
  isgd_report_.extra = isgd_extra_steps(network_.parameters().values(), previous_weights_, isgd_report_.limit,
                                        lr, isgd_, network_.parameter_count(), model);
}

void Trainer::average_batch_norm_statistics() {
  if (group_size() < 2 || config_.parallel.sync_batch_norm)
    return;  // synchronised statistics are equal already
  auto states = network_.parameters().states();
  group_->allreduce(states, comm::ReduceOp::sum, allreduce_);
  const float inverse = 1.0f / static_cast<float>(group_size());
  for (float& v : states) v *= inverse;
}

Evaluation Trainer::evaluate(const ImageSet& set) {
  Evaluation eval;
  if (set.count == 0) {
    eval.accuracy = std::numeric_limits<double>::quiet_NaN();
    return eval;
  }
  average_batch_norm_statistics();
  const std::int64_t g = group_size();
  const std::int64_t r = group_rank();
  const std::int64_t first = r * set.count / g;
  const std::int64_t count = (r + 1) * set.count / g - first;
  double sums[2] = {0, 0};  // correct predictions, loss summed over images
  if (count > 0) {
    BatchIterator order(count, config_.batch, 0, false, false);
    tensor::Tensor x;
    std::vector<std::int32_t> labels;
    std::vector<std::int64_t> indices;
    for (auto batch = order.next(); !batch.empty(); batch = order.next()) {
      const auto n = static_cast<std::int64_t>(batch.size());
      indices.assign(batch.begin(), batch.end());
      for (auto& i : indices) i += first;
      ensure_shape(x, tensor::Shape{n, set.channels, set.height, set.width});
      labels.resize(batch.size());
      gather_batch(set, indices, stats_, x, labels);
      const tensor::Tensor& logits = network_.forward(x, /*training=*/false);
      const std::span<const std::int32_t> y(labels);
      sums[0] += static_cast<double>(tensor::count_correct(logits, y));
      sums[1] +=
          static_cast<double>(tensor::softmax_cross_entropy(logits, y, nullptr)) * static_cast<double>(n);
    }
  }
  sum_over_group(sums);
  eval.count = set.count;
  eval.accuracy = 100.0 * sums[0] / static_cast<double>(set.count);
  eval.loss = sums[1] / static_cast<double>(set.count);
  return eval;
}

TrainResult Trainer::fit(const std::function<void(const EpochReport&)>& on_epoch) {
  TrainResult result;
  result.parameters = network_.parameter_count();
  result.flops = network_.flops_per_sample();
  const auto start = Clock::now();
  double train_seconds = 0;
  for (std::int64_t epoch = 1; epoch <= config_.epochs; ++epoch) {
    EpochReport report;
    double loss_sum = 0;
    std::int64_t steps = 0;
    double lr = current_lr();
    const auto epoch_start = Clock::now();
    for (auto batch = batches_.next(); !batch.empty(); batch = batches_.next()) {
      lr = current_lr();
      const double loss = train_step(batch);
      loss_sum += loss;
      ++steps;
      if (chart_ && isgd_report_.over_limit) {
        ++report.isgd_batches;
        report.isgd_extra_steps += isgd_report_.extra.steps;
      }
      if (!std::isfinite(loss)) {
        result.status = TrainStatus::kDiverged;
        break;
      }
    }
    batches_.next_epoch();
    train_seconds += seconds_since(epoch_start);
    // A NaN can also hide in the weights while the loss stays finite (ReLU maps NaN to 0).
    if (result.status == TrainStatus::kOk && !all_finite(network_.parameters().values())) {
      result.status = TrainStatus::kDiverged;
    }
    report.epoch = epoch;
    report.train_loss = steps > 0 ? loss_sum / static_cast<double>(steps) : 0.0;
    report.lr = lr;
    report.validation_accuracy = result.status == TrainStatus::kOk ? evaluate(validation_).accuracy
                                                                   : std::numeric_limits<double>::quiet_NaN();
    report.seconds = seconds_since(start);
    report.train_seconds = train_seconds;
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
                          const std::function<void(const EpochReport&)>& on_epoch,
                          comm::Communicator* group) {
  validate_train_config(config);
  if (config.threads > 0) tensor::set_num_threads(config.threads);
  const auto start = Clock::now();
  const PreparedData data = prepare_data(config.data, config.seed);
  Network network(make_network_spec(config.network, cell, data.train));
  network.initialize(config.seed);
  Trainer trainer(config, network, data.train, data.validation, data.stats, group);
  TrainResult result = trainer.fit(on_epoch);
  if (result.status == TrainStatus::kOk) result.test_accuracy = trainer.evaluate(data.test).accuracy;
  result.seconds = seconds_since(start);
  return result;
}

}  // namespace alphax::train
