#pragma once
/// \file
/// \brief ParameterStore: every trainable parameter of a network in ONE contiguous flat buffer and
/// every gradient in another (so data-parallel training allreduces one buffer and broadcasts the
/// initial weights as one buffer); layers hold handles and get views. Batch-norm running statistics
/// live in a third flat buffer ("state").
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "alphax/tensor/tensor.hpp"

namespace alphax::train {

/// \brief How a parameter is initialised.
enum class ParamInit {
  kKaimingNormal,  ///< N(0, 2 / fan_in): convolutions
  kUniformFanIn,   ///< U(-1/sqrt(fan_in), 1/sqrt(fan_in)): dense weights (PyTorch's default)
  kOnes,           ///< batch-norm scale
  kZeros,          ///< biases, batch-norm shift
};

/// \brief One named parameter (or state tensor) and where it lives in its flat buffer.
struct ParameterInfo {
  std::string name;        ///< e.g. "stage0.cell0.edge0-1.nor_conv_3x3.conv.weight"
  tensor::Shape shape;
  std::int64_t offset = 0;  ///< first element in the flat buffer
  ParamInit init = ParamInit::kZeros;
  std::int64_t fan_in = 1;
};

/// \brief Handle of a parameter or state tensor in a ParameterStore.
struct ParamRef {
  std::int32_t index = -1;
};

/// \brief The flat parameter, gradient and state buffers of one network.
///
/// Build it in two phases: add() / add_state() while the layers are created, then finalize(), which
/// allocates the buffers (64-byte aligned, zeroed). Views returned by value()/grad()/state() alias
/// the flat buffers and stay valid for the store's lifetime.
class ParameterStore {
 public:
  /// \brief Declares a trainable parameter; only before finalize().
  ParamRef add(std::string name, const tensor::Shape& shape, ParamInit init, std::int64_t fan_in = 1);
  /// \brief Declares a non-trained state tensor (batch-norm running mean/var), initialised to `init`.
  ParamRef add_state(std::string name, const tensor::Shape& shape, ParamInit init);
  /// \brief Allocates the flat buffers; the store can no longer grow.
  void finalize();
  /// \brief (Re)initialises every parameter and state tensor from `seed` (same seed -> same bits).
  void initialize(std::uint64_t seed);

  /// \brief View of a parameter's values.
  [[nodiscard]] tensor::Tensor value(ParamRef ref);
  /// \brief View of a parameter's gradient.
  [[nodiscard]] tensor::Tensor grad(ParamRef ref);
  /// \brief View of a state tensor.
  [[nodiscard]] tensor::Tensor state(ParamRef ref);

  /// \brief All parameter values, contiguous (broadcast this to replicate a network).
  [[nodiscard]] std::span<float> values() noexcept { return values_.span(); }
  [[nodiscard]] std::span<const float> values() const noexcept { return values_.span(); }
  /// \brief All gradients, contiguous, same layout as values() (allreduce this).
  [[nodiscard]] std::span<float> grads() noexcept { return grads_.span(); }
  [[nodiscard]] std::span<const float> grads() const noexcept { return grads_.span(); }
  /// \brief All state tensors (batch-norm running statistics), contiguous.
  [[nodiscard]] std::span<float> states() noexcept { return states_.span(); }
  [[nodiscard]] std::span<const float> states() const noexcept { return states_.span(); }

  /// \brief Number of trainable scalars.
  [[nodiscard]] std::int64_t size() const noexcept { return param_size_; }
  /// \brief The parameters in buffer order.
  [[nodiscard]] const std::vector<ParameterInfo>& parameters() const noexcept { return params_; }
  /// \brief The state tensors in buffer order.
  [[nodiscard]] const std::vector<ParameterInfo>& state_tensors() const noexcept { return state_infos_; }

 private:
  void require_final(const char* where) const;

  std::vector<ParameterInfo> params_;
  std::vector<ParameterInfo> state_infos_;
  std::int64_t param_size_ = 0;
  std::int64_t state_size_ = 0;
  bool final_ = false;
  tensor::Tensor values_;
  tensor::Tensor grads_;
  tensor::Tensor states_;
};

}  // namespace alphax::train
