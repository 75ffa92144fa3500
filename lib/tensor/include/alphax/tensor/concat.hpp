#pragma once
/// \file
/// \brief Concatenation of NCHW tensors along the channel axis, and its backward split.
#include <span>
#include <type_traits>

#include "alphax/tensor/tensor.hpp"

namespace alphax::tensor {

/// \brief y = concat(inputs) on dim 1; every input [N, Ci, H, W], y [N, sum Ci, H, W].
template <Scalar T>
void concat_channels_forward(std::type_identity_t<std::span<const BasicTensor<T>* const>> inputs,
                             BasicTensor<T>& y);

/// \brief Splits dy on dim 1 into the gradients of the inputs; every entry must be non-null and have
/// its input's shape (pass a scratch tensor for a part whose gradient is not needed).
template <Scalar T>
void concat_channels_backward(const BasicTensor<T>& dy,
                              std::type_identity_t<std::span<BasicTensor<T>* const>> dinputs,
                              GradMode mode = GradMode::kWrite);

}  // namespace alphax::tensor
