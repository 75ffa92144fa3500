#pragma once
/// \file
/// \brief Max, average and global average pooling over NCHW tensors.
///
/// Average pooling excludes the zero padding from the divisor (PyTorch count_include_pad=False, as
/// NAS-Bench-201). Max pooling ignores padded positions; its backward pass routes each output
/// gradient to the first maximum of its window (recomputed from x, so no index tensor is kept).
#include <cstdint>

#include "alphax/tensor/tensor.hpp"

namespace alphax::tensor {

/// \brief Window size, stride and padding of a pooling layer (square windows).
struct Pool2dParams {
  std::int64_t kernel = 3;   ///< window size, >= 1
  std::int64_t stride = 1;   ///< >= 1
  std::int64_t padding = 1;  ///< >= 0 and < kernel
};

/// \brief The output shape [N, C, OH, OW], OH = (H + 2*padding - kernel) / stride + 1; throws on bad params.
[[nodiscard]] Shape pool2d_output_shape(const Shape& input, const Pool2dParams& params);

/// \brief y = max over each window of x. y must have pool2d_output_shape.
template <Scalar T>
void max_pool2d_forward(const BasicTensor<T>& x, BasicTensor<T>& y, const Pool2dParams& params);

/// \brief dx from dy for max pooling; x and y are the forward input and output.
template <Scalar T>
void max_pool2d_backward(const BasicTensor<T>& x, const BasicTensor<T>& y, const BasicTensor<T>& dy,
                         BasicTensor<T>& dx, const Pool2dParams& params, GradMode mode = GradMode::kWrite);

/// \brief y = mean over each window of x, padding excluded from the count.
template <Scalar T>
void avg_pool2d_forward(const BasicTensor<T>& x, BasicTensor<T>& y, const Pool2dParams& params);

/// \brief dx from dy for average pooling (dx's shape gives the input size).
template <Scalar T>
void avg_pool2d_backward(const BasicTensor<T>& dy, BasicTensor<T>& dx, const Pool2dParams& params,
                         GradMode mode = GradMode::kWrite);

/// \brief y[n, c] = mean over (h, w) of x[n, c, h, w]; y has shape [N, C] or [N, C, 1, 1].
template <Scalar T>
void global_avg_pool_forward(const BasicTensor<T>& x, BasicTensor<T>& y);

/// \brief dx[n, c, h, w] = dy[n, c] / (H * W).
template <Scalar T>
void global_avg_pool_backward(const BasicTensor<T>& dy, BasicTensor<T>& dx, GradMode mode = GradMode::kWrite);

}  // namespace alphax::tensor
