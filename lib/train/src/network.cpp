#include "alphax/train/network.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "layers.hpp"

namespace alphax::train {

using tensor::Shape;
using tensor::Tensor;

struct NetworkBuffers {
  std::vector<Scratch> acts;
  std::vector<Scratch> dacts;
  tensor::Workspace<float> workspace;
};

namespace {

void check_spec(const NetworkSpec& spec) {
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument("Network: " + what);
  };
  require(spec.channels >= 1, "network.channels must be >= 1, got " + std::to_string(spec.channels));
  require(spec.cells_per_stage >= 0,
          "network.cells_per_stage must be >= 0, got " + std::to_string(spec.cells_per_stage));
  require(spec.input_channels >= 1 && spec.input_height >= 4 && spec.input_width >= 4,
          "the input must have >= 1 channel and be at least 4x4 pixels");
  require(spec.num_classes >= 2, "num_classes must be >= 2, got " + std::to_string(spec.num_classes));
}

}  // namespace

Network::Network(const NetworkSpec& spec) : spec_(spec), buffers_(std::make_unique<NetworkBuffers>()) {
  check_spec(spec);
  const std::int64_t c = spec.channels;
  auto add = [this](std::string name, std::unique_ptr<Layer> layer) {
    layer_names_.push_back(std::move(name));
    layers_.push_back(std::move(layer));
  };
  if (spec.skeleton == "nb201") {
    add("stem", make_conv_bn(store_, "stem", ConvBnOptions{spec.input_channels, c, 3, 1, false, false}));
    std::int64_t channels = c;
    for (int stage = 0; stage < 3; ++stage) {
      const std::string prefix = "stage" + std::to_string(stage);
      if (stage > 0) {
        add(prefix + ".reduction", make_residual_reduction(store_, prefix + ".reduction", channels, 2 * channels));
        channels *= 2;
      }
      for (int k = 0; k < spec.cells_per_stage; ++k) {
        const std::string name = prefix + ".cell" + std::to_string(k);
        add(name, make_cell(store_, name, spec.cell, channels));
      }
    }
    add("lastact", make_batch_norm(store_, "lastact.bn", channels, true));
    add("global_pool", make_global_avg_pool());
    add("classifier", make_dense(store_, "classifier", channels, spec.num_classes));
  } else if (spec.skeleton == "plain") {
    std::int64_t in = spec.input_channels;
    for (int k = 0; k < 3; ++k) {
      const std::int64_t out = c << k;
      const std::string name = "conv" + std::to_string(k);
      add(name, make_conv_bn(store_, name, ConvBnOptions{in, out, 3, 1, false, true}));
      if (k < 2) add("pool" + std::to_string(k), make_pool(true, tensor::Pool2dParams{2, 2, 0}));
      in = out;
    }
    add("global_pool", make_global_avg_pool());
    add("classifier", make_dense(store_, "classifier", in, spec.num_classes));
  } else {
    throw std::invalid_argument("Network: unknown skeleton '" + spec.skeleton +
                                "' (network.skeleton); use nb201 or plain");
  }
  store_.finalize();
  buffers_->acts.resize(layers_.size());
  buffers_->dacts.resize(layers_.size());
  Shape shape{1, spec.input_channels, spec.input_height, spec.input_width};
  for (const auto& layer : layers_) {
    flops_ += layer->flops(shape);
    shape = layer->output_shape(shape);  // also checks that the input size fits the skeleton
  }
}

Network::~Network() = default;
Network::Network(Network&&) noexcept = default;
Network& Network::operator=(Network&&) noexcept = default;

void Network::initialize(std::uint64_t seed) { store_.initialize(seed); }

const Tensor& Network::forward(const Tensor& x, bool training) {
  const Shape expected{x.rank() == 4 ? x.dim(0) : 0, spec_.input_channels, spec_.input_height, spec_.input_width};
  tensor::require_shape("Network::forward", "x", x.shape(), expected);
  input_ = &x;
  RunContext ctx{training, &store_, &buffers_->workspace, bn_reducer_ ? &bn_reducer_ : nullptr};
  const Tensor* cur = &x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    auto& y = buffers_->acts[i].shaped(layers_[i]->output_shape(cur->shape()));
    layers_[i]->forward(*cur, y, ctx);
    cur = &y;
  }
  return *cur;
}

void Network::backward(const Tensor& dlogits) {
  if (input_ == nullptr) throw std::logic_error("Network::backward: call forward(x, true) first");
  tensor::require_shape("Network::backward", "dlogits", dlogits.shape(), buffers_->acts.back().get().shape());
  auto grads = store_.grads();
  std::fill(grads.begin(), grads.end(), 0.0f);
  RunContext ctx{true, &store_, &buffers_->workspace, bn_reducer_ ? &bn_reducer_ : nullptr};
  const Tensor* dy = &dlogits;
  for (std::size_t i = layers_.size(); i-- > 0;) {
    const Tensor& x = i == 0 ? *input_ : buffers_->acts[i - 1].get();
    Tensor* dx = i == 0 ? nullptr : &buffers_->dacts[i - 1].shaped(x.shape());
    layers_[i]->backward(x, buffers_->acts[i].get(), *dy, dx, tensor::GradMode::kWrite, ctx);
    dy = dx;
  }
}

std::int64_t Network::parameter_count() const noexcept {
  std::int64_t n = 0;
  for (const auto& p : store_.parameters()) n += p.shape.size();
  return n;
}

std::string Network::summary() const {
  std::ostringstream out;
  Shape shape{1, spec_.input_channels, spec_.input_height, spec_.input_width};
  out << "input " << shape.to_string() << "\n";
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    shape = layers_[i]->output_shape(shape);
    out << layer_names_[i] << " " << shape.to_string() << "\n";
  }
  return out.str();
}

}  // namespace alphax::train
