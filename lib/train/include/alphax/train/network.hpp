#pragma once
/// \file
/// \brief Networks lib/train trains: the NAS-Bench-201 macro skeleton around a CellSpec, and a plain
/// CNN. Parameters live in one flat buffer (ParameterStore); forward/backward run lib/tensor ops.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "alphax/tensor/tensor.hpp"
#include "alphax/tensor/workspace.hpp"
#include "alphax/train/cell_spec.hpp"
#include "alphax/train/parameters.hpp"

namespace alphax::train {

/// \brief What network to build and for which inputs.
struct NetworkSpec {
  /// \brief "nb201": stem conv3x3+BN -> N cells at C -> residual reduction -> N cells at 2C ->
  /// reduction -> N cells at 4C -> BN-ReLU -> global avg pool -> dense.
  /// "plain": 3 x (conv3x3+BN+ReLU), 2x2 max pool after the first two, at C, 2C, 4C channels ->
  /// global avg pool -> dense.
  std::string skeleton = "nb201";
  CellSpec cell;                    ///< the cell (nb201 only)
  std::int32_t cells_per_stage = 1;  ///< N
  std::int32_t channels = 16;        ///< C
  std::int64_t input_channels = 1;
  std::int64_t input_height = 28;
  std::int64_t input_width = 28;
  std::int32_t num_classes = 10;
};

class Layer;
struct NetworkBuffers;

/// \brief A network: layers, their flat parameters, and per-layer activation buffers reused across steps.
///
/// forward() keeps references to its input and every activation until the next forward(); call
/// backward() in between to get the gradients of all parameters in parameters().grads().
class Network {
 public:
  /// \brief Builds the layers and the parameter layout (not initialised: call initialize()).
  /// Throws std::invalid_argument naming the bad field (unknown skeleton or op, sizes < 1, ...).
  explicit Network(const NetworkSpec& spec);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;
  Network(Network&&) noexcept;
  Network& operator=(Network&&) noexcept;

  /// \brief Kaiming-normal convolutions, PyTorch-default dense layer, BN scale 1 / shift 0, from `seed`.
  void initialize(std::uint64_t seed);

  /// \brief Logits [N, num_classes] of x [N, C, H, W]. `training` selects batch statistics (and
  /// updates the running ones) or running statistics for batch norm. x must outlive backward().
  const tensor::Tensor& forward(const tensor::Tensor& x, bool training);

  /// \brief Gradients of every parameter (written into parameters().grads()) for d(loss)/d(logits).
  void backward(const tensor::Tensor& dlogits);

  /// \brief The flat parameter/gradient/state buffers.
  [[nodiscard]] ParameterStore& parameters() noexcept { return store_; }
  [[nodiscard]] const ParameterStore& parameters() const noexcept { return store_; }
  /// \brief Number of trainable scalars (without the alignment padding of the flat buffer).
  [[nodiscard]] std::int64_t parameter_count() const noexcept;
  /// \brief Forward FLOPs of one image: 2 x multiply-adds of the convolutions and dense layers.
  [[nodiscard]] std::int64_t flops_per_sample() const noexcept { return flops_; }
  /// \brief One line per layer: name, output shape of one sample.
  [[nodiscard]] std::string summary() const;
  /// \brief Sums a few doubles over a data-parallel group in place (an allreduce).
  using BatchStatReducer = std::function<void(std::span<double>)>;
  /// \brief Synchronised batch norm: in training-mode forward/backward every batch-norm layer
  /// passes its per-channel sums through `reducer` (every rank of the group must run the same
  /// steps). An empty function restores per-replica statistics.
  void set_batch_norm_reducer(BatchStatReducer reducer) { bn_reducer_ = std::move(reducer); }

  /// \brief The spec the network was built from.
  [[nodiscard]] const NetworkSpec& spec() const noexcept { return spec_; }

 private:
  NetworkSpec spec_;
  ParameterStore store_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<std::string> layer_names_;
  std::unique_ptr<NetworkBuffers> buffers_;  // activations, their gradients, conv workspace
  const tensor::Tensor* input_ = nullptr;
  std::int64_t flops_ = 0;
  BatchStatReducer bn_reducer_;
};

}  // namespace alphax::train
