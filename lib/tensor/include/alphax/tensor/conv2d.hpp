#pragma once
/// \file
/// \brief 2-D convolution (NCHW, groups = 1, any kernel size, stride and zero padding) lowered to GEMM.
///
/// Shapes: x [N, Cin, H, W], weight [Cout, Cin, KH, KW], bias [Cout], y [N, Cout, OH, OW] with
/// OH = (H + 2*padding - KH) / stride + 1. Samples run in parallel over OpenMP threads. Two
/// algorithms (ConvAlgorithm): im2col + single-threaded BLAS GEMM for every case, and for float
/// convolutions on AVX-512 CPUs direct kernels that read a zero-padded copy of each sample and
/// Winograd F(2x2, 3x3) for stride-1 3x3 kernels.
/// Results are bitwise the same for every number of threads.
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "alphax/tensor/tensor.hpp"
#include "alphax/tensor/workspace.hpp"

namespace alphax::tensor {

/// \brief How a convolution is computed (results agree to float rounding).
enum class ConvAlgorithm {
  kAuto,      ///< kDirect where it applies and is faster (kernels larger than 1x1), otherwise kGemm
  kGemm,      ///< im2col (a 1x1 convolution reads the input itself) and BLAS GEMM: every case
  kDirect,    ///< AVX-512 kernels over a zero-padded copy (no im2col): float, padding < kernel size, at most
              ///< 64 kernel taps, a CPU with AVX-512F (conv2d_direct_available); a strided convolution's dx
              ///< still uses GEMM
  kWinograd,  ///< Winograd F(2x2, 3x3) for the forward pass and dx (the weight gradient runs kDirect): float,
              ///< 3x3 kernel, stride 1, padding <= 2, a CPU with AVX-512F (conv2d_winograd_available)
};

/// \brief Stride and zero padding of a convolution (the kernel size comes from the weight's shape).
struct Conv2dParams {
  std::int64_t stride = 1;                         ///< same stride along H and W, >= 1
  std::int64_t padding = 0;                        ///< zero padding on every side, >= 0
  ConvAlgorithm algorithm = ConvAlgorithm::kAuto;  ///< kAuto picks the fastest that applies
  /// kRelu: the convolution reads max(x, 0) instead of x (NAS-Bench-201's ReLU-conv-BN without a
  /// ReLU pass or buffer); backward then returns the gradient with respect to x (zero where x <= 0).
  Activation input_activation = Activation::kNone;
};

/// \brief True when ConvAlgorithm::kDirect applies to a float convolution of these shapes on this CPU.
[[nodiscard]] bool conv2d_direct_available(const Shape& input, const Shape& weight,
                                           const Conv2dParams& params);

/// \brief True when ConvAlgorithm::kWinograd applies to a float convolution of these shapes on this CPU.
[[nodiscard]] bool conv2d_winograd_available(const Shape& input, const Shape& weight,
                                             const Conv2dParams& params);

/// \brief The output shape [N, Cout, OH, OW]; throws std::invalid_argument naming the mismatch.
[[nodiscard]] Shape conv2d_output_shape(const Shape& input, const Shape& weight, const Conv2dParams& params);

/// \brief Elements of workspace that conv2d_forward and conv2d_backward need with `threads` OpenMP threads.
[[nodiscard]] std::size_t conv2d_workspace_size(const Shape& input, const Shape& weight,
                                                const Conv2dParams& params, int threads);

/// \brief Forward multiply-add count (2 * N * Cout * Cin * KH * KW * OH * OW) for FLOP reports.
[[nodiscard]] std::int64_t conv2d_forward_flops(const Shape& input, const Shape& weight,
                                                const Conv2dParams& params);

/// \brief y = conv(x, weight) (+ bias when not null). y must already have conv2d_output_shape.
///
/// When `moments` is not null it receives the plane moments of y ([N, Cout, 2], see plane_moments in
/// batch_norm.hpp), computed while each sample's output is in cache, for a following batch norm.
template <Scalar T>
void conv2d_forward(const BasicTensor<T>& x, const BasicTensor<T>& weight,
                    const std::type_identity_t<BasicTensor<T>>* bias, BasicTensor<T>& y,
                    const Conv2dParams& params, Workspace<T>& workspace, TensorD* moments = nullptr);

/// \brief The output gradient of a convolution followed by batch norm, left as that batch norm's
/// backward map (batch_norm_backward_map) instead of a tensor.
template <Scalar T>
struct BatchNormGrad {
  const BasicTensor<T>* map = nullptr;     ///< [Cout, 4] from batch_norm_backward_map
  const BasicTensor<T>* input = nullptr;   ///< the batch norm's input: this convolution's output
  const BasicTensor<T>* output = nullptr;  ///< the batch norm's output when it fused a ReLU, else null
};

/// \brief Gradients of conv2d_forward: dweight (always), dx and dbias when not null.
///
/// `mode` applies to every gradient written: kWrite overwrites, kAdd accumulates into it. With `bn`,
/// dy is the gradient of the batch norm's output, and the convolution's output gradient (that batch
/// norm's dx, bit for bit) is formed per sample while in cache: batch norm writes no dx and the
/// convolution reads none back (dbias must then be null).
template <Scalar T>
void conv2d_backward(const BasicTensor<T>& x, const BasicTensor<T>& weight, const BasicTensor<T>& dy,
                     std::type_identity_t<BasicTensor<T>>* dx, BasicTensor<T>& dweight,
                     std::type_identity_t<BasicTensor<T>>* dbias, const Conv2dParams& params,
                     Workspace<T>& workspace, GradMode mode = GradMode::kWrite,
                     const std::type_identity_t<BatchNormGrad<T>>* bn = nullptr);

}  // namespace alphax::tensor
