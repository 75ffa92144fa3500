#pragma once
// Private: AVX-512 float kernels for the pooling windows the networks use most (NAS-Bench-201's 3x3
// average pooling, stride 1, padding 1; the plain CNN's 2x2 max pooling, stride 2). Each handles one plane of
// H x W (W <= kMaxFastPoolWidth) with rows as whole vectors plus one masked vector, where the generic row
// kernels in pooling.cpp run short SSE loops with scalar tails. Callers check fast_pool_available() (AVX-512F
// at run time) first; results equal the generic kernels' up to float rounding, and max pooling keeps their
// tie rule (the gradient goes to the first maximum of a window in row-major order).
#include <cstdint>

namespace alphax::tensor::detail {

/// \brief The widest plane the fast pooling kernels take (their row buffers live on the stack).
inline constexpr std::int64_t kMaxFastPoolWidth = 1024;

/// \brief True when this CPU runs the AVX-512 pooling kernels.
bool fast_pool_available() noexcept;

/// \brief y = 3x3 average (padding 1 excluded from the count, stride 1) of plane x [h, w].
void avg_pool3_forward_plane(const float* x, float* y, std::int64_t h, std::int64_t w);

/// \brief dx (+)= the gradient of avg_pool3_forward_plane for dy [h, w].
void avg_pool3_backward_plane(const float* dy, float* dx, std::int64_t h, std::int64_t w, bool accumulate);

/// \brief y [h/2, w/2] = 2x2 maximum (stride 2, no padding) of plane x [h, w].
void max_pool2_forward_plane(const float* x, float* y, std::int64_t h, std::int64_t w);

/// \brief dx (+)= the gradient of max_pool2_forward_plane (inputs outside every window get 0).
void max_pool2_backward_plane(const float* x, const float* y, const float* dy, float* dx, std::int64_t h,
                              std::int64_t w, bool accumulate);

}  // namespace alphax::tensor::detail
