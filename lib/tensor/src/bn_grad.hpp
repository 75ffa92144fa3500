#pragma once
// Private: batch norm's input gradient from its per-channel map (batch_norm_backward_map), shared by
// batch_norm_backward and conv2d_backward (which forms its output gradient from the map per sample,
// while in cache, instead of reading a dx tensor that batch norm wrote).
#include <cstdint>

namespace alphax::tensor::detail {

/// \brief out[i] (+= with `add`) k * (d - mean_dy - (x[i] - mean) * coef), map = {k, mean_dy, mean,
/// coef}, d = dy[i], or with `mask` (the fused ReLU's output) d = mask[i] > 0 ? dy[i] : 0.
template <typename T>
inline void bn_grad_plane(const T* x, const T* mask, const T* dy, const T* map, T* out, std::int64_t n,
                          bool add) {
  const T k = map[0];
  const T mean_dy = map[1];
  const T mean = map[2];
  const T coef = map[3];
  const T* gate = mask != nullptr ? mask : dy;  // without a mask the gate is unused
  const bool masked = mask != nullptr;
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) {
    const T g_out = dy[i];
    const T out_value = gate[i];
    const T d = (!masked || out_value > T{0}) ? g_out : T{0};  // loads first: no conditional load
    const T v = k * (d - mean_dy - (x[i] - mean) * coef);
    const T old = add ? out[i] : T{0};
    out[i] = old + v;
  }
}

/// \brief bn_grad_plane over `planes` planes of `plane` values in NCHW order, plane p of channel
/// p % channels (map [channels][4]); mask may be null. A worksharing loop: call it inside a parallel
/// region (each thread takes a contiguous range of planes).
template <typename T>
inline void bn_grad_planes(const T* x, const T* mask, const T* dy, const T* map, T* out, std::int64_t planes,
                           std::int64_t channels, std::int64_t plane, bool add) {
#pragma omp for schedule(static)
  for (std::int64_t p = 0; p < planes; ++p) {
    const std::int64_t off = p * plane;
    bn_grad_plane(x + off, mask != nullptr ? mask + off : nullptr, dy + off, map + 4 * (p % channels),
                  out + off, plane, add);
  }
}

}  // namespace alphax::tensor::detail
