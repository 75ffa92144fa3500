#pragma once
/// \file
/// \brief Dense (fully connected) layer: y = x * weight^T + bias.
///
/// Shapes: x [N, ...] with in = x.size() / N features per row (so [N, C, 1, 1] works unflattened),
/// weight [out, in] (PyTorch's layout), bias [out], y [N, out].
#include <type_traits>

#include "alphax/tensor/tensor.hpp"

namespace alphax::tensor {

/// \brief y = x * weight^T (+ bias when not null).
template <Scalar T>
void dense_forward(const BasicTensor<T>& x, const BasicTensor<T>& weight,
                   const std::type_identity_t<BasicTensor<T>>* bias, BasicTensor<T>& y);

/// \brief Gradients of dense_forward: dweight (always), dx and dbias when not null.
template <Scalar T>
void dense_backward(const BasicTensor<T>& x, const BasicTensor<T>& weight, const BasicTensor<T>& dy,
                    std::type_identity_t<BasicTensor<T>>* dx, BasicTensor<T>& dweight,
                    std::type_identity_t<BasicTensor<T>>* dbias, GradMode mode = GradMode::kWrite);

}  // namespace alphax::tensor
