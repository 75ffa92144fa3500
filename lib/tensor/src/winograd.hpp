#pragma once
// Private: Winograd F(2x2, 3x3) for stride-1 3x3 float convolutions (AVX-512, selected at run time;
// callers check direct_conv_supported() first).
//
// Each 2x2 output tile of a channel is A^T [sum over ci of (G g G^T) . (B^T d B)] A, d the 4x4 input
// patch at rows 2*ty - pad .. +3, columns 2*tx - pad .. +3 (zero outside the input): 16 multiplies per
// tile and channel pair instead of 36. The 16 positions (i, j) of the 4x4 transformed domain are 16
// independent GEMMs M_p [cout][tiles] = U_p [cout][cin] * V_p [cin][tiles].
//
// Work is split into groups of `group` samples (fixed by the shapes, so the result does not depend on
// the thread count); a group's tiles, counted (sample, ty, tx), go through in chunks of chunk_tiles:
// input transform into V [16][cin][chunk_tiles], then per block of 8 output channels the 16 GEMMs
// into M [16][8][chunk_tiles] and the output transform. Every output value is one fixed sequence of
// operations (sum over ci in order), whatever the chunk or thread it falls in.
#include <cstddef>
#include <cstdint>

namespace alphax::tensor::detail {

/// \brief Sizes of a Winograd F(2x2, 3x3) convolution (stride 1, 3x3 kernel).
struct WinogradShape {
  std::int64_t cin = 0, cout = 0;
  std::int64_t in_h = 0, in_w = 0, pad = 0;
  std::int64_t out_h = 0, out_w = 0;
  std::int64_t tiles_h = 0, tiles_w = 0;  // 2x2 output tiles per sample (the last may be partial)
  std::int64_t group = 1;                 // samples per work unit
  std::int64_t chunk_tiles = 0;           // tiles transformed and multiplied at once (multiple of 16)
  [[nodiscard]] std::int64_t tiles() const noexcept { return tiles_h * tiles_w; }
  /// Floats of the transformed kernel U [16][cin][cout].
  [[nodiscard]] std::size_t weight_size() const noexcept;
  /// Floats of one thread's scratch (V and M).
  [[nodiscard]] std::size_t scratch_size() const noexcept;
};

/// \brief The Winograd shape of a stride-1 3x3 convolution of [cin, in_h, in_w] inputs with `pad`
/// zero padding (0 <= pad <= 2) into cout channels.
WinogradShape make_winograd_shape(std::int64_t cin, std::int64_t in_h, std::int64_t in_w, std::int64_t cout,
                                  std::int64_t pad);

/// \brief u [16][cin][cout] = G g G^T for every kernel g. Without `flip`, g(co, ci) = w[co][ci] (w is
/// [cout][cin][3][3]); with `flip`, w is [cin][cout][3][3] and g(co, ci) = w[ci][co] rotated by 180
/// degrees: the kernel of dx = conv(dy, flipped W^T) for a convolution with weight w.
void winograd_weights(const WinogradShape& s, const float* w, bool flip, float* u);

/// \brief y = (with `accumulate`: y +) conv(x, g) (+ bias[co] when bias is not null) for `count`
/// samples x [count][cin][in_h][in_w] -> y [count][cout][out_h][out_w]; with `relu` the convolution
/// reads max(x, 0); where `mask` (shaped as y) is given, only positions with mask > 0 receive a value
/// (the others 0 or unchanged): a ReLU's gradient. u from winograd_weights; scratch holds
/// scratch_size() floats (64-byte aligned). Requires direct_conv_supported().
void winograd_conv(const WinogradShape& s, const float* x, std::int64_t count, bool relu, const float* u,
                   const float* bias, float* y, bool accumulate, const float* mask, float* scratch);

}  // namespace alphax::tensor::detail
