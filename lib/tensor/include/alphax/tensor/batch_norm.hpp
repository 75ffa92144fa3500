#pragma once
/// \file
/// \brief Batch normalisation over (N, H, W) per channel, with an optional fused ReLU.
///
/// Shapes: x, y [N, C, H, W] (or [N, C] for rank 2); gamma, beta, running_mean, running_var,
/// saved_mean, saved_invstd [C]. Training mode normalises with the batch statistics and updates the
/// running statistics as running = (1 - momentum) * running + momentum * batch, the running variance
/// taking the unbiased batch variance (as PyTorch). Inference mode normalises with the running
/// statistics. Either way the forward pass stores the mean and 1/sqrt(var + eps) it used in
/// saved_mean / saved_invstd for the backward pass.
#include <type_traits>

#include "alphax/tensor/tensor.hpp"

namespace alphax::tensor {

/// \brief Mode and constants of a batch-norm layer.
struct BatchNormParams {
  bool training = true;                       ///< batch statistics (true) or running statistics (false)
  double momentum = 0.1;                      ///< weight of the new batch in the running statistics
  double eps = 1e-5;                          ///< added to the variance
  Activation activation = Activation::kNone;  ///< kRelu: y = max(0, bn(x)), fused
};

/// \brief The shape of plane moments of a [N, C, H, W] tensor: [N, C, 2].
[[nodiscard]] Shape plane_moments_shape(const Shape& x);

/// \brief moments(n, c) = {mean, sum of squared deviations from the mean} of plane x(n, c, :, :),
/// in float64, shape [N, C, 2].
///
/// batch_norm_forward combines them into the batch statistics (Chan et al.'s pairwise update, in
/// sample order) instead of reading x twice more. conv2d_forward can write them while each sample's
/// output is still in cache.
template <Scalar T>
void plane_moments(const BasicTensor<T>& x, TensorD& moments);

/// \brief y = gamma * (x - mean) * invstd + beta (then ReLU if asked); gamma/beta null mean 1/0.
///
/// In training mode updates running_mean/running_var; the batch statistics come from `moments`
/// (plane_moments of x, e.g. written by conv2d_forward) when it is not null, else from two passes
/// over x. y may not alias x when a backward pass follows.
template <Scalar T>
void batch_norm_forward(const BasicTensor<T>& x, BasicTensor<T>& y,
                        const std::type_identity_t<BasicTensor<T>>* gamma,
                        const std::type_identity_t<BasicTensor<T>>* beta, BasicTensor<T>& running_mean,
                        BasicTensor<T>& running_var, BasicTensor<T>& saved_mean, BasicTensor<T>& saved_invstd,
                        const BatchNormParams& params, const TensorD* moments = nullptr);

/// \brief Gradients of batch_norm_forward: dx, and dgamma / dbeta when not null.
///
/// `y` is the forward output (used for the fused ReLU's mask); saved_mean / saved_invstd are those
/// the forward pass wrote. In inference mode the statistics are constants. `mode` applies to every
/// gradient written.
template <Scalar T>
void batch_norm_backward(const BasicTensor<T>& x, const BasicTensor<T>& y, const BasicTensor<T>& dy,
                         const std::type_identity_t<BasicTensor<T>>* gamma, const BasicTensor<T>& saved_mean,
                         const BasicTensor<T>& saved_invstd, BasicTensor<T>& dx,
                         std::type_identity_t<BasicTensor<T>>* dgamma,
                         std::type_identity_t<BasicTensor<T>>* dbeta, const BatchNormParams& params,
                         GradMode mode = GradMode::kWrite);

/// \brief The first half of batch_norm_backward: dgamma / dbeta (when not null) and, instead of dx, the
/// per-channel map [C, 4] = {k, mean_dy, mean, coef} with dx = k * (d - mean_dy - (x - mean) * coef),
/// d = dy, or d = (y > 0 ? dy : 0) with the fused ReLU.
///
/// A consumer applies the map while it reads dy anyway (conv2d_backward's BatchNormGrad), which saves
/// writing dx and reading it back; the values are those batch_norm_backward writes, bit for bit.
template <Scalar T>
void batch_norm_backward_map(const BasicTensor<T>& x, const BasicTensor<T>& y, const BasicTensor<T>& dy,
                             const std::type_identity_t<BasicTensor<T>>* gamma,
                             const BasicTensor<T>& saved_mean, const BasicTensor<T>& saved_invstd,
                             BasicTensor<T>& map, std::type_identity_t<BasicTensor<T>>* dgamma,
                             std::type_identity_t<BasicTensor<T>>* dbeta, const BatchNormParams& params,
                             GradMode mode = GradMode::kWrite);

}  // namespace alphax::tensor
