#pragma once
/// \file
/// \brief Element-wise kernels: ReLU, add, accumulate, axpy, scale, copy (OpenMP, or Kokkos when built with
/// it).
///
/// Operands must have the same number of elements (shapes may differ, e.g. a view of a flat buffer);
/// otherwise std::invalid_argument names the function and both shapes. Output may alias an input.
#include "alphax/tensor/tensor.hpp"

namespace alphax::tensor {

/// \brief y = max(x, 0). In place (y is x) is allowed.
template <Scalar T>
void relu_forward(const BasicTensor<T>& x, BasicTensor<T>& y);

/// \brief dx = dy where y > 0, else 0 (y: the ReLU output, or equally its input).
template <Scalar T>
void relu_backward(const BasicTensor<T>& y, const BasicTensor<T>& dy, BasicTensor<T>& dx,
                   GradMode mode = GradMode::kWrite);

/// \brief y = a + b. The backward pass of an add is the identity to both inputs (use accumulate).
template <Scalar T>
void add(const BasicTensor<T>& a, const BasicTensor<T>& b, BasicTensor<T>& y);

/// \brief y += x (gradient accumulation, node sums).
template <Scalar T>
void accumulate(const BasicTensor<T>& x, BasicTensor<T>& y);

/// \brief y += alpha * x.
template <Scalar T>
void axpy(T alpha, const BasicTensor<T>& x, BasicTensor<T>& y);

/// \brief y *= alpha.
template <Scalar T>
void scale(T alpha, BasicTensor<T>& y);

/// \brief y = x.
template <Scalar T>
void copy(const BasicTensor<T>& x, BasicTensor<T>& y);

}  // namespace alphax::tensor
