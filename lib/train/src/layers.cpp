#include "layers.hpp"

#include <stdexcept>
#include <utility>

namespace alphax::train {

using tensor::GradMode;
using tensor::Shape;
using tensor::Tensor;

namespace {

constexpr double kBnMomentum = 0.1;
constexpr double kBnEps = 1e-5;

tensor::BatchNormParams bn_params(bool training, bool relu) {
  tensor::BatchNormParams p;
  p.training = training;
  p.momentum = kBnMomentum;
  p.eps = kBnEps;
  p.activation = relu ? tensor::Activation::kRelu : tensor::Activation::kNone;
  return p;
}

// Batch-norm parameters (scale, shift) and running statistics of one layer.
struct BnParams {
  ParamRef gamma, beta, running_mean, running_var;

  BnParams(ParameterStore& store, const std::string& name, std::int64_t channels)
      : gamma(store.add(name + ".weight", Shape{channels}, ParamInit::kOnes)),
        beta(store.add(name + ".bias", Shape{channels}, ParamInit::kZeros)),
        running_mean(store.add_state(name + ".running_mean", Shape{channels}, ParamInit::kZeros)),
        running_var(store.add_state(name + ".running_var", Shape{channels}, ParamInit::kOnes)) {}
};

// Batch norm of x into y, with its saved statistics kept for backward.
class BatchNorm {
 public:
  BatchNorm(ParameterStore& store, const std::string& name, std::int64_t channels, bool relu)
      : params_(store, name, channels), channels_(channels), relu_(relu) {}

  // moments: plane moments of x (conv2d_forward wrote them) or null.
  void forward(const Tensor& x, Tensor& y, RunContext& ctx, const tensor::TensorD* moments = nullptr) {
    auto gamma = ctx.store->value(params_.gamma);
    auto beta = ctx.store->value(params_.beta);
    auto rmean = ctx.store->state(params_.running_mean);
    auto rvar = ctx.store->state(params_.running_var);
    if (ctx.training && ctx.bn_reducer != nullptr) {
      sync_.forward(x, y, gamma, beta, rmean, rvar, saved_mean_.shaped(Shape{channels_}),
                    saved_invstd_.shaped(Shape{channels_}), kBnMomentum, kBnEps, relu_, *ctx.bn_reducer);
      return;
    }
    tensor::batch_norm_forward(x, y, &gamma, &beta, rmean, rvar, saved_mean_.shaped(Shape{channels_}),
                               saved_invstd_.shaped(Shape{channels_}), bn_params(ctx.training, relu_),
                               ctx.training ? moments : nullptr);
  }

  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx, GradMode mode, RunContext& ctx) {
    auto gamma = ctx.store->value(params_.gamma);
    auto dgamma = ctx.store->grad(params_.gamma);
    auto dbeta = ctx.store->grad(params_.beta);
    if (ctx.bn_reducer != nullptr) {
      sync_.backward(x, y, dy, gamma, saved_mean_.get(), saved_invstd_.get(), dx, dgamma, dbeta, relu_, mode,
                     *ctx.bn_reducer);
      return;
    }
    tensor::batch_norm_backward(x, y, dy, &gamma, saved_mean_.get(), saved_invstd_.get(), dx, &dgamma, &dbeta,
                                bn_params(ctx.training, relu_), mode);
  }

  // dgamma, dbeta and, instead of dx, the map [C, 4] a consumer applies (tensor::batch_norm_backward_map);
  // not with synchronised batch norm (ctx.bn_reducer), whose statistics span the group.
  void backward_map(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& map, RunContext& ctx) {
    auto gamma = ctx.store->value(params_.gamma);
    auto dgamma = ctx.store->grad(params_.gamma);
    auto dbeta = ctx.store->grad(params_.beta);
    tensor::batch_norm_backward_map(x, y, dy, &gamma, saved_mean_.get(), saved_invstd_.get(), map, &dgamma,
                                    &dbeta, bn_params(ctx.training, relu_), GradMode::kWrite);
  }
  [[nodiscard]] bool fused_relu() const { return relu_; }

 private:
  BnParams params_;
  std::int64_t channels_;
  bool relu_;
  Scratch saved_mean_;
  Scratch saved_invstd_;
  SyncBatchNorm sync_;
};

class ConvBn final : public Layer {
 public:
  ConvBn(ParameterStore& store, const std::string& name, const ConvBnOptions& o)
      : options_(o),
        weight_shape_{o.out_channels, o.in_channels, o.kernel, o.kernel},
        weight_(store.add(name + ".conv.weight", weight_shape_, ParamInit::kKaimingNormal,
                          o.in_channels * o.kernel * o.kernel)),
        bn_(store, name + ".bn", o.out_channels, o.post_relu) {
    conv_.stride = o.stride;
    conv_.padding = o.kernel / 2;
    // The ReLU of ReLU-conv-BN is fused into the convolution's read of x: no pass, no buffer.
    conv_.input_activation = o.pre_relu ? tensor::Activation::kRelu : tensor::Activation::kNone;
  }

  Shape output_shape(const Shape& input) const override {
    return tensor::conv2d_output_shape(input, weight_shape_, conv_);
  }
  std::int64_t flops(const Shape& input) const override {
    return tensor::conv2d_forward_flops(input, weight_shape_, conv_);
  }

  void forward(const Tensor& x, Tensor& y, RunContext& ctx) override {
    auto& c = conv_out_.shaped(output_shape(x.shape()));
    auto w = ctx.store->value(weight_);
    // In training the convolution also writes the batch statistics' raw material while its output
    // is in cache, sparing batch norm two passes over it (synchronised BN sums its own over the group).
    const bool moments = ctx.training && ctx.bn_reducer == nullptr;
    auto* m = moments ? &moments_.shaped(tensor::plane_moments_shape(c.shape())) : nullptr;
    tensor::conv2d_forward(x, w, nullptr, c, conv_, *ctx.workspace, m);
    bn_.forward(c, y, ctx, m);
  }

  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx, GradMode mode,
                RunContext& ctx) override {
    auto w = ctx.store->value(weight_);
    auto dw = ctx.store->grad(weight_);
    // The weight gradient was zeroed by the network, so kAdd on it equals kWrite.
    const GradMode conv_mode = dx == nullptr ? GradMode::kWrite : mode;
    if (ctx.bn_reducer == nullptr) {
      // Batch norm leaves its dx as a per-channel map that the convolution applies to each sample while
      // in cache: no dx tensor written and read back (the same values, bit for bit).
      auto& map = bn_map_.shaped(Shape{weight_shape_[0], 4});
      bn_.backward_map(conv_out_.get(), y, dy, map, ctx);
      const tensor::BatchNormGrad<float> bn{&map, &conv_out_.get(), bn_.fused_relu() ? &y : nullptr};
      tensor::conv2d_backward(x, w, dy, dx, dw, nullptr, conv_, *ctx.workspace, conv_mode, &bn);
      return;
    }
    auto& dc = d_conv_.shaped(conv_out_.get().shape());
    bn_.backward(conv_out_.get(), y, dy, dc, GradMode::kWrite, ctx);
    tensor::conv2d_backward(x, w, dc, dx, dw, nullptr, conv_, *ctx.workspace, conv_mode);
  }

 private:
  ConvBnOptions options_;
  Shape weight_shape_;
  ParamRef weight_;
  BatchNorm bn_;
  tensor::Conv2dParams conv_;
  Scratch conv_out_, d_conv_, bn_map_;
  BasicScratch<double> moments_;
};

class BatchNormLayer final : public Layer {
 public:
  BatchNormLayer(ParameterStore& store, const std::string& name, std::int64_t channels, bool relu)
      : bn_(store, name, channels, relu) {}
  Shape output_shape(const Shape& input) const override { return input; }
  std::int64_t flops(const Shape&) const override { return 0; }
  void forward(const Tensor& x, Tensor& y, RunContext& ctx) override { bn_.forward(x, y, ctx); }
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx, GradMode mode,
                RunContext& ctx) override {
    if (dx == nullptr) {
      tmp_.shaped(x.shape());
      bn_.backward(x, y, dy, tmp_.get(), GradMode::kWrite, ctx);
    } else {
      bn_.backward(x, y, dy, *dx, mode, ctx);
    }
  }

 private:
  BatchNorm bn_;
  Scratch tmp_;
};

class PoolLayer final : public Layer {
 public:
  PoolLayer(bool max, const tensor::Pool2dParams& params) : max_(max), params_(params) {}
  Shape output_shape(const Shape& input) const override { return tensor::pool2d_output_shape(input, params_); }
  std::int64_t flops(const Shape&) const override { return 0; }
  void forward(const Tensor& x, Tensor& y, RunContext&) override {
    if (max_) {
      tensor::max_pool2d_forward(x, y, params_);
    } else {
      tensor::avg_pool2d_forward(x, y, params_);
    }
  }
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx, GradMode mode,
                RunContext&) override {
    if (dx == nullptr) return;
    if (max_) {
      tensor::max_pool2d_backward(x, y, dy, *dx, params_, mode);
    } else {
      tensor::avg_pool2d_backward(dy, *dx, params_, mode);
    }
  }

 private:
  bool max_;
  tensor::Pool2dParams params_;
};

class GlobalAvgPoolLayer final : public Layer {
 public:
  Shape output_shape(const Shape& input) const override { return Shape{input[0], input[1]}; }
  std::int64_t flops(const Shape&) const override { return 0; }
  void forward(const Tensor& x, Tensor& y, RunContext&) override { tensor::global_avg_pool_forward(x, y); }
  void backward(const Tensor&, const Tensor&, const Tensor& dy, Tensor* dx, GradMode mode, RunContext&) override {
    if (dx != nullptr) tensor::global_avg_pool_backward(dy, *dx, mode);
  }
};

class DenseLayer final : public Layer {
 public:
  DenseLayer(ParameterStore& store, const std::string& name, std::int64_t in, std::int64_t out)
      : in_(in),
        out_(out),
        weight_(store.add(name + ".weight", Shape{out, in}, ParamInit::kUniformFanIn, in)),
        bias_(store.add(name + ".bias", Shape{out}, ParamInit::kUniformFanIn, in)) {}
  Shape output_shape(const Shape& input) const override {
    if (input.size() != input[0] * in_) {
      throw std::invalid_argument("Network: dense layer expects " + std::to_string(in_) +
                                  " features per sample, got input " + input.to_string());
    }
    return Shape{input[0], out_};
  }
  std::int64_t flops(const Shape& input) const override { return 2 * input[0] * in_ * out_; }
  void forward(const Tensor& x, Tensor& y, RunContext& ctx) override {
    auto w = ctx.store->value(weight_);
    auto b = ctx.store->value(bias_);
    tensor::dense_forward(x, w, &b, y);
  }
  void backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, GradMode mode,
                RunContext& ctx) override {
    auto w = ctx.store->value(weight_);
    auto dw = ctx.store->grad(weight_);
    auto db = ctx.store->grad(bias_);
    tensor::dense_backward(x, w, dy, dx, dw, &db, mode);  // parameter gradients were zeroed: kAdd == kWrite
  }

 private:
  std::int64_t in_, out_;
  ParamRef weight_, bias_;
};

class ResidualReduction final : public Layer {
 public:
  ResidualReduction(ParameterStore& store, const std::string& name, std::int64_t in, std::int64_t out)
      : a_(store, name + ".conv_a", ConvBnOptions{in, out, 3, 2, true, false}),
        b_(store, name + ".conv_b", ConvBnOptions{out, out, 3, 1, true, false}),
        shortcut_shape_{out, in, 1, 1},
        shortcut_(store.add(name + ".shortcut.conv.weight", shortcut_shape_, ParamInit::kKaimingNormal, in)) {}

  Shape output_shape(const Shape& input) const override {
    const Shape main = b_.output_shape(a_.output_shape(input));
    const Shape side = tensor::pool2d_output_shape(input, kShortcutPool);
    if (!(Shape{side[0], main[1], side[2], side[3]} == main)) {
      throw std::invalid_argument("Network: the reduction block cannot halve an input of " + input.to_string() +
                                  " (stride-2 conv gives " + main.to_string() + ", the 2x2 pooled shortcut " +
                                  side.to_string() + "); use input sizes divisible by 4");
    }
    return main;
  }
  std::int64_t flops(const Shape& input) const override {
    const Shape mid = a_.output_shape(input);
    const Shape pooled = tensor::pool2d_output_shape(input, kShortcutPool);
    return a_.flops(input) + b_.flops(mid) + tensor::conv2d_forward_flops(pooled, shortcut_shape_, {});
  }

  void forward(const Tensor& x, Tensor& y, RunContext& ctx) override {
    auto& a = a_out_.shaped(a_.output_shape(x.shape()));
    a_.forward(x, a, ctx);
    auto& b = b_out_.shaped(y.shape());
    b_.forward(a, b, ctx);
    auto& pooled = pooled_.shaped(tensor::pool2d_output_shape(x.shape(), kShortcutPool));
    tensor::avg_pool2d_forward(x, pooled, kShortcutPool);
    auto w = ctx.store->value(shortcut_);
    tensor::conv2d_forward(pooled, w, nullptr, y, {}, *ctx.workspace);
    tensor::accumulate(b, y);
  }

  void backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, GradMode mode,
                RunContext& ctx) override {
    auto& da = d_a_.shaped(a_out_.get().shape());
    b_.backward(a_out_.get(), b_out_.get(), dy, &da, GradMode::kWrite, ctx);
    a_.backward(x, a_out_.get(), da, dx, mode, ctx);
    auto w = ctx.store->value(shortcut_);
    auto dw = ctx.store->grad(shortcut_);
    if (dx == nullptr) {
      tensor::conv2d_backward(pooled_.get(), w, dy, nullptr, dw, nullptr, {}, *ctx.workspace, GradMode::kWrite);
      return;
    }
    auto& dp = d_pooled_.shaped(pooled_.get().shape());
    tensor::conv2d_backward(pooled_.get(), w, dy, &dp, dw, nullptr, {}, *ctx.workspace, GradMode::kWrite);
    tensor::avg_pool2d_backward(dp, *dx, kShortcutPool, GradMode::kAdd);
  }

 private:
  static constexpr tensor::Pool2dParams kShortcutPool{2, 2, 0};
  ConvBn a_, b_;
  Shape shortcut_shape_;
  ParamRef shortcut_;
  Scratch a_out_, b_out_, pooled_, d_a_, d_pooled_;
};

// A DAG cell; see make_cell.
class Cell final : public Layer {
 public:
  Cell(ParameterStore& store, const std::string& name, const CellSpec& spec, std::int64_t channels) {
    validate_cell(spec);
    const auto n = static_cast<std::size_t>(spec.num_nodes);
    nodes_.resize(n);
    for (const auto& e : spec.edges) {
      if (e.op == "none") continue;
      Edge edge;
      edge.from = e.from;
      const std::string edge_name =
          name + ".edge" + std::to_string(e.from) + "-" + std::to_string(e.to) + "." + e.op;
      if (e.op == "skip_connect" || e.op == "identity") {
        edge.kind = EdgeKind::kSkip;
      } else if (e.op == "avg_pool_3x3") {
        edge.kind = EdgeKind::kAvgPool;
      } else if (e.op == "nor_conv_3x3" || e.op == "nor_conv_1x1") {
        edge.kind = EdgeKind::kConv;
        const std::int64_t k = e.op == "nor_conv_3x3" ? 3 : 1;
        edge.conv = make_conv_bn(store, edge_name, ConvBnOptions{channels, channels, k, 1, true, false});
      } else {
        throw std::invalid_argument("Network: edge op '" + e.op + "' is not implemented; known ops: " +
                                    known_edge_ops());
      }
      nodes_[static_cast<std::size_t>(e.to)].in_edges.push_back(edges_.size());
      edges_.push_back(std::move(edge));
    }
    for (std::size_t j = 0; j < n && j < spec.node_ops.size(); ++j) {
      const auto& op = spec.node_ops[j];
      if (op.empty() || op == "input" || op == "output") continue;
      if (j == 0) throw std::invalid_argument("Network: node 0 is the cell input and takes no op ('" + op + "')");
      const std::string node_name = name + ".node" + std::to_string(j) + "." + op;
      if (op == "conv3x3-bn-relu" || op == "conv1x1-bn-relu") {
        const std::int64_t k = op == "conv3x3-bn-relu" ? 3 : 1;
        nodes_[j].op = make_conv_bn(store, node_name, ConvBnOptions{channels, channels, k, 1, false, true});
      } else if (op == "maxpool3x3") {
        nodes_[j].op = make_pool(true, tensor::Pool2dParams{3, 1, 1});
      } else {
        throw std::invalid_argument("Network: node op '" + op + "' is not implemented; known node ops: " +
                                    known_node_ops());
      }
    }
    outs_.resize(n, nullptr);
  }

  Shape output_shape(const Shape& input) const override { return input; }
  std::int64_t flops(const Shape& input) const override {
    std::int64_t total = 0;
    for (const auto& e : edges_) {
      if (e.conv) total += e.conv->flops(input);
    }
    for (const auto& node : nodes_) {
      if (node.op) total += node.op->flops(input);
    }
    return total;
  }

  void forward(const Tensor& x, Tensor& y, RunContext& ctx) override {
    const std::size_t last = nodes_.size() - 1;
    outs_[0] = &x;
    for (std::size_t j = 1; j <= last; ++j) {
      Node& node = nodes_[j];
      parts_.clear();
      for (const auto ei : node.in_edges) parts_.push_back(&edge_forward(edges_[ei], x.shape(), ctx));
      if (parts_.size() == 1 && !node.op && j != last) {
        outs_[j] = parts_[0];  // a node with one input edge is that edge's output: no copy
        continue;
      }
      Tensor& sum = (j == last && !node.op) ? y : node.sum.shaped(x.shape());
      sum_into(sum);
      if (node.op) {
        Tensor& out = j == last ? y : node.out.shaped(x.shape());
        node.op->forward(sum, out, ctx);
        outs_[j] = &out;
      } else {
        outs_[j] = &sum;
      }
    }
  }

  void backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, GradMode mode,
                RunContext& ctx) override {
    const std::size_t last = nodes_.size() - 1;
    // The first gradient reaching a node overwrites its buffer (kWrite), later ones add: no zeroing pass.
    written_.assign(nodes_.size(), false);
    written_[0] = mode == GradMode::kAdd;
    for (std::size_t i = 1; i < last; ++i) nodes_[i].d_out.shaped(x.shape());
    for (std::size_t j = last; j >= 1; --j) {
      Node& node = nodes_[j];
      if (j < last && !written_[j]) node.d_out.get().zero();  // no path from this node to the output
      const Tensor* dnode = j == last ? &dy : &node.d_out.get();
      const Tensor* dsum = dnode;
      if (node.op) {
        auto& ds = node.d_sum.shaped(x.shape());
        node.op->backward(node.sum.get(), *outs_[j], *dnode, &ds, GradMode::kWrite, ctx);
        dsum = &ds;
      }
      for (const auto ei : node.in_edges) edge_backward(edges_[ei], *dsum, dx, ctx);
    }
    if (dx != nullptr && !written_[0]) dx->zero();
  }

 private:
  enum class EdgeKind { kSkip, kAvgPool, kConv };
  struct Edge {
    std::int32_t from = 0;
    EdgeKind kind = EdgeKind::kSkip;
    std::unique_ptr<Layer> conv;
    Scratch out;
  };
  struct Node {
    std::vector<std::size_t> in_edges;
    std::unique_ptr<Layer> op;
    Scratch sum, out, d_out, d_sum;
  };

  static constexpr tensor::Pool2dParams kPool3x3{3, 1, 1};

  const Tensor& edge_forward(Edge& edge, const Shape& shape, RunContext& ctx) {
    const Tensor& src = *outs_[static_cast<std::size_t>(edge.from)];
    switch (edge.kind) {
      case EdgeKind::kSkip: return src;
      case EdgeKind::kAvgPool: {
        auto& o = edge.out.shaped(shape);
        tensor::avg_pool2d_forward(src, o, kPool3x3);
        return o;
      }
      case EdgeKind::kConv: {
        auto& o = edge.out.shaped(shape);
        edge.conv->forward(src, o, ctx);
        return o;
      }
    }
    return src;
  }

  void edge_backward(Edge& edge, const Tensor& dsum, Tensor* dx, RunContext& ctx) {
    const auto from = static_cast<std::size_t>(edge.from);
    Tensor* dsrc = from == 0 ? dx : &nodes_[from].d_out.get();
    const GradMode mode = written_[from] ? GradMode::kAdd : GradMode::kWrite;
    if (dsrc != nullptr) written_[from] = true;
    switch (edge.kind) {
      case EdgeKind::kSkip:
        if (dsrc == nullptr) break;
        if (mode == GradMode::kAdd) {
          tensor::accumulate(dsum, *dsrc);
        } else {
          tensor::copy(dsum, *dsrc);
        }
        break;
      case EdgeKind::kAvgPool:
        if (dsrc != nullptr) tensor::avg_pool2d_backward(dsum, *dsrc, kPool3x3, mode);
        break;
      case EdgeKind::kConv:
        edge.conv->backward(*outs_[from], edge.out.get(), dsum, dsrc, mode, ctx);
        break;
    }
  }

  // sum = the sum of parts_ (zero when a node has no input).
  void sum_into(Tensor& sum) {
    if (parts_.empty()) {
      sum.zero();
    } else if (parts_.size() == 1) {
      tensor::copy(*parts_[0], sum);
    } else {
      tensor::add(*parts_[0], *parts_[1], sum);
      for (std::size_t k = 2; k < parts_.size(); ++k) tensor::accumulate(*parts_[k], sum);
    }
  }

  std::vector<Node> nodes_;
  std::vector<Edge> edges_;
  std::vector<const Tensor*> outs_;
  std::vector<const Tensor*> parts_;
  std::vector<bool> written_;  // backward: whether a node's gradient buffer holds a value yet
};

}  // namespace

std::unique_ptr<Layer> make_conv_bn(ParameterStore& store, const std::string& name, const ConvBnOptions& options) {
  return std::make_unique<ConvBn>(store, name, options);
}

std::unique_ptr<Layer> make_batch_norm(ParameterStore& store, const std::string& name, std::int64_t channels,
                                       bool relu) {
  return std::make_unique<BatchNormLayer>(store, name, channels, relu);
}

std::unique_ptr<Layer> make_pool(bool max, const tensor::Pool2dParams& params) {
  return std::make_unique<PoolLayer>(max, params);
}

std::unique_ptr<Layer> make_global_avg_pool() { return std::make_unique<GlobalAvgPoolLayer>(); }

std::unique_ptr<Layer> make_dense(ParameterStore& store, const std::string& name, std::int64_t in,
                                  std::int64_t out) {
  return std::make_unique<DenseLayer>(store, name, in, out);
}

std::unique_ptr<Layer> make_residual_reduction(ParameterStore& store, const std::string& name,
                                               std::int64_t in_channels, std::int64_t out_channels) {
  return std::make_unique<ResidualReduction>(store, name, in_channels, out_channels);
}

std::unique_ptr<Layer> make_cell(ParameterStore& store, const std::string& name, const CellSpec& cell,
                                 std::int64_t channels) {
  return std::make_unique<Cell>(store, name, cell, channels);
}

}  // namespace alphax::train
