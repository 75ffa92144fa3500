#pragma once
// Private building blocks of lib/train networks: layers with forward/backward over lib/tensor ops,
// their parameters declared in the network's ParameterStore.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "alphax/tensor/ops.hpp"
#include "alphax/train/cell_spec.hpp"
#include "alphax/train/parameters.hpp"
#include "sync_batch_norm.hpp"

namespace alphax::train {

// A buffer that keeps its storage and hands out a view of the requested shape, growing only when
// a larger shape is asked for (so the last, smaller batch of an epoch allocates nothing).
template <tensor::Scalar T>
class BasicScratch {
 public:
  tensor::BasicTensor<T>& shaped(const tensor::Shape& shape) {
    if (shape.size() > storage_.size()) storage_ = tensor::BasicTensor<T>(tensor::Shape{shape.size()});
    if (!(view_.shape() == shape) || view_.data() != storage_.data()) {
      view_ = tensor::BasicTensor<T>::view(storage_.data(), shape);
    }
    return view_;
  }
  tensor::BasicTensor<T>& get() noexcept { return view_; }
  const tensor::BasicTensor<T>& get() const noexcept { return view_; }

 private:
  tensor::BasicTensor<T> storage_;
  tensor::BasicTensor<T> view_;
};
using Scratch = BasicScratch<float>;

// What every layer call needs besides its tensors.
struct RunContext {
  bool training = true;
  ParameterStore* store = nullptr;
  tensor::Workspace<float>* workspace = nullptr;
  // Set for synchronised batch norm (data-parallel groups): sums batch statistics over the group.
  const BatchStatReducer* bn_reducer = nullptr;
};

// A layer: y = f(x); backward writes (or adds, per mode) dx and adds parameter gradients.
// Parameter gradients are accumulated into a gradient buffer the network zeroes before backward.
class Layer {
 public:
  virtual ~Layer() = default;
  // Output shape for an input shape (any batch size).
  [[nodiscard]] virtual tensor::Shape output_shape(const tensor::Shape& input) const = 0;
  // Forward multiply-add FLOPs (x2) for the given input shape.
  [[nodiscard]] virtual std::int64_t flops(const tensor::Shape& input) const = 0;
  virtual void forward(const tensor::Tensor& x, tensor::Tensor& y, RunContext& ctx) = 0;
  // dx may be null (first layer); y is this layer's forward output.
  virtual void backward(const tensor::Tensor& x, const tensor::Tensor& y, const tensor::Tensor& dy,
                        tensor::Tensor* dx, tensor::GradMode mode, RunContext& ctx) = 0;
};

// Stem conv + BN, nor_conv edges (ReLU-conv-BN), NB101 conv-BN-ReLU, plain-CNN conv-BN-ReLU.
struct ConvBnOptions {
  std::int64_t in_channels = 0;
  std::int64_t out_channels = 0;
  std::int64_t kernel = 3;
  std::int64_t stride = 1;
  bool pre_relu = false;   // ReLU before the convolution (NB201's ReLU-conv-BN)
  bool post_relu = false;  // ReLU after batch norm (fused into it)
};

// Declares the parameters of a conv-BN unit under `name` and returns it as a layer.
std::unique_ptr<Layer> make_conv_bn(ParameterStore& store, const std::string& name, const ConvBnOptions& options);

// A batch norm over `channels` (with optional fused ReLU): NB201's final BN-ReLU.
std::unique_ptr<Layer> make_batch_norm(ParameterStore& store, const std::string& name, std::int64_t channels,
                                       bool relu);

// Max or average pooling with a square window.
std::unique_ptr<Layer> make_pool(bool max, const tensor::Pool2dParams& params);

// Global average pooling [N, C, H, W] -> [N, C].
std::unique_ptr<Layer> make_global_avg_pool();

// Dense layer with bias: [N, in] -> [N, out].
std::unique_ptr<Layer> make_dense(ParameterStore& store, const std::string& name, std::int64_t in,
                                  std::int64_t out);

// NB201's residual reduction block: ReLU-conv3x3 s2-BN, ReLU-conv3x3-BN, plus shortcut
// avgpool 2x2 s2 -> conv1x1; output = block + shortcut.
std::unique_ptr<Layer> make_residual_reduction(ParameterStore& store, const std::string& name,
                                               std::int64_t in_channels, std::int64_t out_channels);

// A cell at `channels` channels: nodes sum their incoming edge ops, then apply their node op.
std::unique_ptr<Layer> make_cell(ParameterStore& store, const std::string& name, const CellSpec& cell,
                                 std::int64_t channels);

}  // namespace alphax::train
