#pragma once
// Private: stride-1 float convolution kernels that read a zero-padded copy of the input directly
// (an implicit GEMM: no im2col matrix is built), vectorised over output pixels with AVX-512 and
// selected at run time (x86-64 CPUs without AVX-512F, and other architectures, use im2col + BLAS).
//
// Wide coordinates (stride 1). The padded input of one sample is [cin][in_plane]: channel c, padded
// row y, padded column x at c*in_plane + y*row + x, with row = W + 2*pad. Output position (oy, ox)
// is counted as j = oy*row + ox with ox < row (columns ox >= OW are computed and thrown away), so
// it reads the input at j + ky*row + kx: row k = (ci, tap) of the im2col matrix, tap = (ky, kx), is
// the contiguous slice that starts at offset(k) = ci*in_plane + tap_offset[tap]. Every channel
// holds qv >= OH*row wide outputs (a multiple of 16), and in_plane covers every read of those.
//
// Stride s > 1 becomes stride 1 by splitting each padded channel into s*s phase planes of
// phase_plane floats: phase (a, b) holds the padded pixels (s*i + a, s*j + b) at i*row + j, with
// row = ceil((W + 2*pad) / s). Tap (ky, kx) of output (oy, ox) reads padded pixel
// (s*oy + ky, s*ox + kx) = phase (ky % s, kx % s) at (oy + ky / s)*row + ox + kx / s, so the same
// kernels run with tap_offset[tap] = ((ky % s)*s + kx % s)*phase_plane + (ky / s)*row + kx / s.
#include <array>
#include <cstdint>

namespace alphax::tensor::detail {

/// \brief The largest kernel (KH*KW taps) the direct kernels take.
inline constexpr std::int64_t kMaxDirectTaps = 64;

/// \brief Sizes of a convolution in wide coordinates (see the file comment).
struct WideConvShape {
  std::int64_t cin = 0, cout = 0, kh = 0, kw = 0, stride = 1;
  std::int64_t in_h = 0, in_w = 0;    // unpadded input
  std::int64_t pad_h = 0, pad_w = 0;  // zero padding on each side
  std::int64_t out_h = 0, out_w = 0;  // output
  std::int64_t row = 0;               // row length of a (phase) plane of the padded input
  std::int64_t qv = 0;                // wide outputs per channel, out_h*row rounded up to 16
  std::int64_t phase_plane = 0;       // floats per phase plane (a multiple of 16)
  std::int64_t in_plane = 0;          // floats per channel of the padded input: stride^2 phase planes
  std::array<std::int64_t, kMaxDirectTaps> tap_offset{};  // tap ky*kw + kx -> offset within a channel
  [[nodiscard]] std::int64_t taps() const noexcept { return kh * kw; }
  [[nodiscard]] std::int64_t k() const noexcept { return cin * kh * kw; }
  [[nodiscard]] std::int64_t padded_size() const noexcept { return cin * in_plane; }
  [[nodiscard]] std::int64_t wide_size() const noexcept { return cout * qv; }
};

/// \brief The wide shape of a convolution of an input [cin, in_h, in_w] with a [cout, cin, kh, kw]
/// kernel (kh*kw <= kMaxDirectTaps), the given zero padding and stride.
WideConvShape make_wide_conv_shape(std::int64_t cin, std::int64_t in_h, std::int64_t in_w, std::int64_t cout,
                                   std::int64_t kh, std::int64_t kw, std::int64_t pad_h, std::int64_t pad_w,
                                   std::int64_t stride = 1);

/// \brief True when this CPU runs the AVX-512 kernels (checked once).
bool direct_conv_supported() noexcept;

/// \brief Writes the zero-padded copy xpad [cin][in_plane] (split into phase planes when the stride
/// is > 1) of one sample x [cin, in_h, in_w]; with `relu`, max(x, 0) is copied instead of x (a ReLU
/// fused into the read).
void pad_input(const WideConvShape& s, const float* x, float* xpad, bool relu);

/// \brief Writes the wide form [cout][qv] of one sample's output gradient dy [cout, out_h, out_w],
/// zero at the discarded positions.
void widen_output(const WideConvShape& s, const float* dy, float* dy_wide);

/// \brief y [cout, out_h, out_w] = (or +=, with `accumulate`) the valid positions of y_wide
/// [cout][qv], plus bias[co] when bias is not null; where `mask` (same shape as y) is given, only
/// positions with mask > 0 receive a value (the others 0 or unchanged): a ReLU's gradient.
void narrow_output(const WideConvShape& s, const float* y_wide, const float* bias, float* y, bool accumulate,
                   const float* mask = nullptr);

/// \brief y_wide[co*qv + j] = sum over k of wt[k*cout + co] * xpad[offset(k) + j], for j < qv.
/// wt is the weight transposed to [K][cout]. Requires direct_conv_supported().
void direct_conv_forward(const WideConvShape& s, const float* xpad, const float* wt, float* y_wide);

/// \brief dw[co*K + k] = (with `accumulate`: dw[co*K + k] +) the sum over the samples s < count of
/// sum over j < qv of dy_wide[s*dy_stride + co*qv + j] * xpad[s*xpad_stride + offset(k) + j], where
/// dy_wide is zero at discarded positions. Sums are formed in a fixed order. Requires
/// direct_conv_supported().
void direct_conv_weight_grad(const WideConvShape& s, std::int64_t count, const float* xpad,
                             std::int64_t xpad_stride, const float* dy_wide, std::int64_t dy_stride,
                             bool accumulate, float* dw);

/// \brief dy_cl [out_h*out_w][cout] = the transpose of one sample's dy [cout, out_h, out_w].
void to_channels_last(const WideConvShape& s, const float* dy, float* dy_cl);

/// \brief y [cout, out_h, out_w] = (or +=, with `accumulate`) the transpose of y_cl
/// [out_h*out_w][cout], plus bias[co] when bias is not null, masked as in narrow_output.
void narrow_channels_last(const WideConvShape& s, const float* y_cl, const float* bias, float* y,
                          bool accumulate, const float* mask = nullptr);

/// \brief Channels-last forward, for cout a multiple of 16: y_cl[p*cout + co] = sum over k of
/// wt[k*cout + co] * xpad[offset(k) + oy*row + ox] for every output pixel p = oy*out_w + ox.
void direct_conv_forward_cl(const WideConvShape& s, const float* xpad, const float* wt, float* y_cl);

/// \brief Channels-last weight gradient, for cout a multiple of 16: dwt[k*cout + co] = (with
/// `accumulate`: dwt[k*cout + co] +) the sum over the samples s < count and pixels
/// p = oy*out_w + ox of dy_cl[s*dy_stride + p*cout + co] * xpad[s*xpad_stride + offset(k) + oy*row + ox],
/// summed in a fixed order.
void direct_conv_weight_grad_cl(const WideConvShape& s, std::int64_t count, const float* xpad,
                                std::int64_t xpad_stride, const float* dy_cl, std::int64_t dy_stride,
                                bool accumulate, float* dwt);

/// \brief out = {mean, sum of squared deviations from the mean} of the n floats at x (two passes,
/// AVX-512 with four accumulators; the order is fixed by n). Requires direct_conv_supported().
void plane_moments_avx512(const float* x, std::int64_t n, double* out);

}  // namespace alphax::tensor::detail
