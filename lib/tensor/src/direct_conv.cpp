#include "direct_conv.hpp"

#include <algorithm>
#include <type_traits>
#include <utility>

#include "check.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(ALPHAX_NO_AVX512_KERNELS)
#include <immintrin.h>
#define ALPHAX_HAVE_AVX512_KERNELS 1
// Only these functions use AVX-512; the rest of the library stays baseline x86-64, and callers
// check direct_conv_supported() first.
#define ALPHAX_AVX512 __attribute__((target("avx512f,fma")))
#endif

namespace alphax::tensor::detail {

WideConvShape make_wide_conv_shape(std::int64_t cin, std::int64_t in_h, std::int64_t in_w, std::int64_t cout,
                                   std::int64_t kh, std::int64_t kw, std::int64_t pad_h, std::int64_t pad_w,
                                   std::int64_t stride) {
  if (kh * kw > kMaxDirectTaps) fail("make_wide_conv_shape", "kernel larger than kMaxDirectTaps taps");
  WideConvShape s;
  s.cin = cin;
  s.cout = cout;
  s.kh = kh;
  s.kw = kw;
  s.stride = stride;
  s.in_h = in_h;
  s.in_w = in_w;
  s.pad_h = pad_h;
  s.pad_w = pad_w;
  s.out_h = (in_h + 2 * pad_h - kh) / stride + 1;
  s.out_w = (in_w + 2 * pad_w - kw) / stride + 1;
  s.row = (in_w + 2 * pad_w + stride - 1) / stride;
  s.qv = static_cast<std::int64_t>(round_up16(static_cast<std::size_t>(s.out_h * s.row)));
  // The last wide output reads up to qv - 1 + ((kh - 1)/s)*row + (kw - 1)/s within its phase plane;
  // the padded rows of a phase plane end at ceil((in_h + 2*pad_h)/s)*row.
  const std::int64_t reads = s.qv + ((kh - 1) / stride) * s.row + (kw - 1) / stride;
  const std::int64_t rows = (in_h + 2 * pad_h + stride - 1) / stride;
  s.phase_plane =
      static_cast<std::int64_t>(round_up16(static_cast<std::size_t>(std::max(reads, rows * s.row))));
  s.in_plane = stride * stride * s.phase_plane;
  for (std::int64_t ky = 0; ky < kh; ++ky) {
    for (std::int64_t kx = 0; kx < kw; ++kx) {
      const std::int64_t phase = (ky % stride) * stride + kx % stride;
      s.tap_offset[static_cast<std::size_t>(ky * kw + kx)] =
          phase * s.phase_plane + (ky / stride) * s.row + kx / stride;
    }
  }
  return s;
}

#if defined(ALPHAX_HAVE_AVX512_KERNELS)

bool direct_conv_supported() noexcept {
  static const bool supported = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return supported;
}

namespace {

// GCC 12's AVX-512 intrinsics pass _mm512_undefined_ps() as the unused merge source, which it then
// reports as uninitialised (GCC bug 105593); the value is never read.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// Row helpers. Rows are short (7 to 32 floats) and a ReLU mask is random: full vectors plus one
// masked vector per row, no scalar tails and no branches on the data.

ALPHAX_AVX512 inline __mmask16 tail_mask(std::int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

ALPHAX_AVX512 inline void zero(float* dst, std::int64_t n) {
  for (std::int64_t i = 0; i < n; i += 16)
    _mm512_mask_storeu_ps(dst + i, tail_mask(n - i), _mm512_setzero_ps());
}

ALPHAX_AVX512 inline void copy_row(const float* src, float* dst, std::int64_t n, bool relu) {
  for (std::int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    __m512 v = _mm512_maskz_loadu_ps(m, src + i);
    if (relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
    _mm512_mask_storeu_ps(dst + i, m, v);
  }
}

/// dst[i] (+)= src[i] + b where gate (if any) is > 0; elsewhere dst[i] = 0 (or unchanged when accumulating).
ALPHAX_AVX512 inline void store_row(const float* src, float b, const float* gate, bool accumulate, float* dst,
                                    std::int64_t n) {
  const __m512 bias = _mm512_set1_ps(b);
  for (std::int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, src + i), bias);
    if (gate != nullptr) {
      const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
      v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(g, _mm512_setzero_ps(), _CMP_GT_OQ), v);
    }
    if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, dst + i));
    _mm512_mask_storeu_ps(dst + i, m, v);
  }
}

/// pad_input for stride > 1: phase plane (a, b) row i holds padded row s*i + a, columns s*j + b.
ALPHAX_AVX512 void pad_input_phases(const WideConvShape& s, const float* x, float* xpad, bool relu) {
  const std::int64_t st = s.stride;
  const std::int64_t rows = s.phase_plane / s.row;  // rows that fit, a superset of the written ones
  for (std::int64_t c = 0; c < s.cin; ++c) {
    const float* src = x + c * s.in_h * s.in_w;
    for (std::int64_t a = 0; a < st; ++a) {
      for (std::int64_t b = 0; b < st; ++b) {
        float* dst = xpad + c * s.in_plane + (a * st + b) * s.phase_plane;
        // Phase columns j whose input column s*j + b - pad_w lies in [0, in_w).
        const std::int64_t lo = std::clamp<std::int64_t>((s.pad_w - b + st - 1) / st, 0, s.row);
        const std::int64_t hi = std::clamp<std::int64_t>((s.in_w + s.pad_w - b + st - 1) / st, lo, s.row);
        for (std::int64_t i = 0; i < rows; ++i) {
          float* out = dst + i * s.row;
          const std::int64_t y = st * i + a - s.pad_h;
          if (y < 0 || y >= s.in_h) {
            zero(out, s.row);
            continue;
          }
          const float* in = src + y * s.in_w + b - s.pad_w;
          zero(out, lo);
          for (std::int64_t j = lo; j < hi; ++j) {
            const float v = in[st * j];
            out[j] = relu ? std::max(v, 0.0f) : v;
          }
          zero(out + hi, s.row - hi);
        }
        zero(dst + rows * s.row, s.phase_plane - rows * s.row);
      }
    }
  }
}

}  // namespace

ALPHAX_AVX512 void pad_input(const WideConvShape& s, const float* x, float* xpad, bool relu) {
  if (s.stride > 1) {
    pad_input_phases(s, x, xpad, relu);
    return;
  }
  for (std::int64_t c = 0; c < s.cin; ++c) {
    float* dst = xpad + c * s.in_plane;
    const float* src = x + c * s.in_h * s.in_w;
    std::int64_t pos = 0;  // everything before pos is written
    for (std::int64_t y = 0; y < s.in_h; ++y) {
      const std::int64_t start = (y + s.pad_h) * s.row + s.pad_w;
      zero(dst + pos, start - pos);
      copy_row(src + y * s.in_w, dst + start, s.in_w, relu);
      pos = start + s.in_w;
    }
    zero(dst + pos, s.in_plane - pos);
  }
}

ALPHAX_AVX512 void widen_output(const WideConvShape& s, const float* dy, float* dy_wide) {
  for (std::int64_t c = 0; c < s.cout; ++c) {
    float* dst = dy_wide + c * s.qv;
    const float* src = dy + c * s.out_h * s.out_w;
    for (std::int64_t y = 0; y < s.out_h; ++y) {
      float* out = dst + y * s.row;
      copy_row(src + y * s.out_w, out, s.out_w, false);
      zero(out + s.out_w, s.row - s.out_w);
    }
    zero(dst + s.out_h * s.row, s.qv - s.out_h * s.row);
  }
}

ALPHAX_AVX512 void narrow_output(const WideConvShape& s, const float* y_wide, const float* bias, float* y,
                                 bool accumulate, const float* mask) {
  for (std::int64_t c = 0; c < s.cout; ++c) {
    const float b = bias != nullptr ? bias[c] : 0.0f;
    for (std::int64_t oy = 0; oy < s.out_h; ++oy) {
      const std::int64_t at = (c * s.out_h + oy) * s.out_w;
      store_row(y_wide + c * s.qv + oy * s.row, b, mask != nullptr ? mask + at : nullptr, accumulate, y + at,
                s.out_w);
    }
  }
}

namespace {

// Register blocking (accumulators in zmm registers, at most 28 of the 32):
// pixel-vectorised ("wide") kernels: forward kWideRows output channels x kWideVectors*16 wide
//   positions; weight gradient kWideGradRows output channels x kWideGradCols im2col rows;
// channel-vectorised ("channels-last") kernels, for channel counts that are multiples of 16:
//   forward kClPixels pixels of one output row x kClVectors*16 output channels; weight gradient
//   kClGradCols im2col rows x kClVectors*16 output channels.
constexpr int kWideRows = 8;
constexpr int kWideVectors = 3;
constexpr int kWideGradRows = 4;
constexpr int kWideGradCols = 6;
constexpr int kClPixels = 7;
constexpr int kClVectors = 4;
constexpr int kClGradCols = 6;

/// Calls f(std::integral_constant<int, v>{}) for v = min(value, N) (value >= 1): turns a run-time
/// block size into a template argument.
template <int N, typename F>
void with_block(std::int64_t value, F&& f) {
  if constexpr (N > 1) {
    if (value < N) {
      with_block<N - 1>(value, std::forward<F>(f));
      return;
    }
  }
  f(std::integral_constant<int, N>{});
}

/// Offsets of im2col rows k0 .. k0+NK-1 in a padded sample.
template <int NK>
void row_offsets(const WideConvShape& s, std::int64_t k0, std::int64_t* offset) {
  const std::int64_t taps = s.taps();
  for (int t = 0; t < NK; ++t) {
    const std::int64_t k = k0 + t;
    const std::int64_t tap = k % taps;
    offset[t] = (k / taps) * s.in_plane + s.tap_offset[static_cast<std::size_t>(tap)];
  }
}

/// The sum of the 16 lanes.
ALPHAX_AVX512 inline float lane_sum(__m512 v) {
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
  v = _mm512_add_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_add_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm512_cvtss_f32(v);
}

/// Transposes the 16x16 block held in r (row i = r[i]) in place.
ALPHAX_AVX512 inline void transpose16(__m512* r) {
  __m512 t[16];
#pragma GCC unroll 16
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    r[4 * i + 0] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
#pragma GCC unroll 2
  for (int i = 0; i < 2; ++i) {
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
      t[8 * i + 4 + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0xdd);
    }
  }
#pragma GCC unroll 16
  for (int j = 0; j < 8; ++j) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);
  }
}

/// to[j*ld_to + i] = from[i*ld_from + j] for 16 rows i and the m columns j in `mask`.
ALPHAX_AVX512 void transpose_in(__mmask16 mask, const float* from, std::int64_t ld_from, std::int64_t m,
                                float* to, std::int64_t ld_to) {
  __m512 r[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) r[i] = _mm512_maskz_loadu_ps(mask, from + i * ld_from);
  transpose16(r);
  for (std::int64_t j = 0; j < m; ++j) _mm512_store_ps(to + j * ld_to, r[j]);
}

/// to[i*ld_to + j] (+)= from[j*ld_from + i] + bias[i] for 16 rows i and the m columns j in `mask`,
/// only where relu_mask[i*ld_to + j] > 0 when relu_mask is given (0 or unchanged elsewhere).
ALPHAX_AVX512 void transpose_out(__mmask16 mask, const float* from, std::int64_t ld_from, std::int64_t m,
                                 const float* bias, bool accumulate, const float* relu_mask, float* to,
                                 std::int64_t ld_to) {
  __m512 r[16];
  for (std::int64_t j = 0; j < 16; ++j)
    r[j] = j < m ? _mm512_load_ps(from + j * ld_from) : _mm512_setzero_ps();
  transpose16(r);
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) {
    __m512 v = r[i];
    if (bias != nullptr) v = _mm512_add_ps(v, _mm512_set1_ps(bias[i]));
    if (relu_mask != nullptr) {
      const __m512 gate = _mm512_maskz_loadu_ps(mask, relu_mask + i * ld_to);
      v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(gate, _mm512_setzero_ps(), _CMP_GT_OQ), v);
    }
    if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, to + i * ld_to));
    _mm512_mask_storeu_ps(to + i * ld_to, mask, v);
  }
}

/// Wide forward block: MR output channels from co0, NR vectors of wide positions from j0.
template <int MR, int NR>
ALPHAX_AVX512 void wide_forward_block(const WideConvShape& s, const float* xpad, const float* wt,
                                      float* y_wide, std::int64_t co0, std::int64_t j0) {
  __m512 acc[MR][NR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < NR; ++v) acc[i][v] = _mm512_setzero_ps();
  }
  const float* a = wt + co0;
  const std::int64_t taps = s.taps();
  for (std::int64_t ci = 0; ci < s.cin; ++ci) {
    const float* channel = xpad + ci * s.in_plane + j0;
    for (std::int64_t tap = 0; tap < taps; ++tap, a += s.cout) {
      const float* b_row = channel + s.tap_offset[static_cast<std::size_t>(tap)];
      __m512 b[NR];
#pragma GCC unroll 4
      for (int v = 0; v < NR; ++v) b[v] = _mm512_loadu_ps(b_row + 16 * v);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const __m512 w = _mm512_set1_ps(a[i]);
#pragma GCC unroll 4
        for (int v = 0; v < NR; ++v) acc[i][v] = _mm512_fmadd_ps(w, b[v], acc[i][v]);
      }
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    float* out = y_wide + (co0 + i) * s.qv + j0;
#pragma GCC unroll 4
    for (int v = 0; v < NR; ++v) _mm512_store_ps(out + 16 * v, acc[i][v]);
  }
}

/// Wide weight-gradient block: MR output channels from co0 x NK im2col rows from k0.
template <int MR, int NK>
ALPHAX_AVX512 void wide_weight_grad_block(const WideConvShape& s, std::int64_t count, const float* xpad,
                                          std::int64_t xpad_stride, const float* dy_wide,
                                          std::int64_t dy_stride, std::int64_t co0, std::int64_t k0,
                                          bool accumulate, float* dw) {
  std::int64_t offset[NK];
  row_offsets<NK>(s, k0, offset);
  __m512 acc[MR][NK];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 16
    for (int t = 0; t < NK; ++t) acc[i][t] = _mm512_setzero_ps();
  }
  for (std::int64_t n = 0; n < count; ++n) {
    const float* x = xpad + n * xpad_stride;
    const float* d = dy_wide + n * dy_stride + co0 * s.qv;
    for (std::int64_t j = 0; j < s.qv; j += 16) {
      __m512 g[MR];
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) g[i] = _mm512_load_ps(d + i * s.qv + j);
#pragma GCC unroll 16
      for (int t = 0; t < NK; ++t) {
        const __m512 b = _mm512_loadu_ps(x + offset[t] + j);
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) acc[i][t] = _mm512_fmadd_ps(g[i], b, acc[i][t]);
      }
    }
  }
  const std::int64_t k = s.k();
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 16
    for (int t = 0; t < NK; ++t) {
      float& out = dw[(co0 + i) * k + k0 + t];
      out = (accumulate ? out : 0.0f) + lane_sum(acc[i][t]);
    }
  }
}

/// Channels-last forward block: PR consecutive pixels of one output row (x points at the first
/// one's window in the padded sample) x CV vectors of output channels from co0.
template <int PR, int CV>
ALPHAX_AVX512 void cl_forward_block(const WideConvShape& s, const float* x, const float* wt, float* y_cl,
                                    std::int64_t co0) {
  __m512 acc[PR][CV];
#pragma GCC unroll 16
  for (int r = 0; r < PR; ++r) {
#pragma GCC unroll 4
    for (int c = 0; c < CV; ++c) acc[r][c] = _mm512_setzero_ps();
  }
  const float* a = wt + co0;
  const std::int64_t taps = s.taps();
  for (std::int64_t ci = 0; ci < s.cin; ++ci) {
    const float* channel = x + ci * s.in_plane;
    for (std::int64_t tap = 0; tap < taps; ++tap, a += s.cout) {
      const float* b_row = channel + s.tap_offset[static_cast<std::size_t>(tap)];
      __m512 w[CV];
#pragma GCC unroll 4
      for (int c = 0; c < CV; ++c) w[c] = _mm512_load_ps(a + 16 * c);
#pragma GCC unroll 16
      for (int r = 0; r < PR; ++r) {
        const __m512 b = _mm512_set1_ps(b_row[r]);
#pragma GCC unroll 4
        for (int c = 0; c < CV; ++c) acc[r][c] = _mm512_fmadd_ps(b, w[c], acc[r][c]);
      }
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < PR; ++r) {
#pragma GCC unroll 4
    for (int c = 0; c < CV; ++c) _mm512_store_ps(y_cl + r * s.cout + co0 + 16 * c, acc[r][c]);
  }
}

/// Channels-last weight-gradient block: NK im2col rows from k0 x CV vectors of output channels
/// from co0, summed over every pixel of `count` samples; adds into dwt [K][cout].
template <int NK, int CV>
ALPHAX_AVX512 void cl_weight_grad_block(const WideConvShape& s, std::int64_t count, const float* xpad,
                                        std::int64_t xpad_stride, const float* dy_cl, std::int64_t dy_stride,
                                        std::int64_t co0, std::int64_t k0, bool accumulate, float* dwt) {
  std::int64_t offset[NK];
  row_offsets<NK>(s, k0, offset);
  __m512 acc[NK][CV];
#pragma GCC unroll 16
  for (int t = 0; t < NK; ++t) {
#pragma GCC unroll 4
    for (int c = 0; c < CV; ++c) acc[t][c] = _mm512_setzero_ps();
  }
  for (std::int64_t n = 0; n < count; ++n) {
    const float* d = dy_cl + n * dy_stride + co0;
    for (std::int64_t oy = 0; oy < s.out_h; ++oy) {
      const float* x = xpad + n * xpad_stride + oy * s.row;
      for (std::int64_t ox = 0; ox < s.out_w; ++ox, d += s.cout) {
        __m512 g[CV];
#pragma GCC unroll 4
        for (int c = 0; c < CV; ++c) g[c] = _mm512_load_ps(d + 16 * c);
#pragma GCC unroll 16
        for (int t = 0; t < NK; ++t) {
          const __m512 b = _mm512_set1_ps(x[offset[t] + ox]);
#pragma GCC unroll 4
          for (int c = 0; c < CV; ++c) acc[t][c] = _mm512_fmadd_ps(b, g[c], acc[t][c]);
        }
      }
    }
  }
#pragma GCC unroll 16
  for (int t = 0; t < NK; ++t) {
    float* out = dwt + (k0 + t) * s.cout + co0;
#pragma GCC unroll 4
    for (int c = 0; c < CV; ++c) {
      const __m512 old = accumulate ? _mm512_load_ps(out + 16 * c) : _mm512_setzero_ps();
      _mm512_store_ps(out + 16 * c, _mm512_add_ps(old, acc[t][c]));
    }
  }
}

}  // namespace

// Channels-last layouts are used only for channel counts that are multiples of 16.
ALPHAX_AVX512 void to_channels_last(const WideConvShape& s, const float* dy, float* dy_cl) {
  const std::int64_t pixels = s.out_h * s.out_w;
  for (std::int64_t p0 = 0; p0 < pixels; p0 += 16) {
    const std::int64_t m = std::min<std::int64_t>(16, pixels - p0);
    const auto mask = static_cast<__mmask16>((1u << m) - 1u);
    for (std::int64_t c0 = 0; c0 < s.cout; c0 += 16) {
      transpose_in(mask, dy + c0 * pixels + p0, pixels, m, dy_cl + p0 * s.cout + c0, s.cout);
    }
  }
}

ALPHAX_AVX512 void narrow_channels_last(const WideConvShape& s, const float* y_cl, const float* bias,
                                        float* y, bool accumulate, const float* relu_mask) {
  const std::int64_t pixels = s.out_h * s.out_w;
  for (std::int64_t p0 = 0; p0 < pixels; p0 += 16) {
    const std::int64_t m = std::min<std::int64_t>(16, pixels - p0);
    const auto mask = static_cast<__mmask16>((1u << m) - 1u);
    for (std::int64_t c0 = 0; c0 < s.cout; c0 += 16) {
      transpose_out(mask, y_cl + p0 * s.cout + c0, s.cout, m, bias != nullptr ? bias + c0 : nullptr,
                    accumulate, relu_mask != nullptr ? relu_mask + c0 * pixels + p0 : nullptr,
                    y + c0 * pixels + p0, pixels);
    }
  }
}

void direct_conv_forward(const WideConvShape& s, const float* xpad, const float* wt, float* y_wide) {
  const std::int64_t vectors = s.qv / 16;
  for (std::int64_t v0 = 0; v0 < vectors; v0 += kWideVectors) {
    const std::int64_t j0 = 16 * v0;
    for (std::int64_t co0 = 0; co0 < s.cout; co0 += kWideRows) {
      with_block<kWideRows>(s.cout - co0, [&](auto mr) {
        with_block<kWideVectors>(vectors - v0, [&](auto nr) {
          wide_forward_block<mr.value, nr.value>(s, xpad, wt, y_wide, co0, j0);
        });
      });
    }
  }
}

void direct_conv_weight_grad(const WideConvShape& s, std::int64_t count, const float* xpad,
                             std::int64_t xpad_stride, const float* dy_wide, std::int64_t dy_stride,
                             bool accumulate, float* dw) {
  const std::int64_t k = s.k();
  for (std::int64_t co0 = 0; co0 < s.cout; co0 += kWideGradRows) {
    for (std::int64_t k0 = 0; k0 < k; k0 += kWideGradCols) {
      with_block<kWideGradRows>(s.cout - co0, [&](auto mr) {
        with_block<kWideGradCols>(k - k0, [&](auto nk) {
          wide_weight_grad_block<mr.value, nk.value>(s, count, xpad, xpad_stride, dy_wide, dy_stride, co0, k0,
                                                     accumulate, dw);
        });
      });
    }
  }
}

void direct_conv_forward_cl(const WideConvShape& s, const float* xpad, const float* wt, float* y_cl) {
  for (std::int64_t co0 = 0; co0 < s.cout; co0 += 16 * kClVectors) {
    with_block<kClVectors>((s.cout - co0) / 16, [&](auto cv) {
      for (std::int64_t oy = 0; oy < s.out_h; ++oy) {
        for (std::int64_t ox = 0; ox < s.out_w; ox += kClPixels) {
          with_block<kClPixels>(s.out_w - ox, [&](auto pr) {
            cl_forward_block<pr.value, cv.value>(s, xpad + oy * s.row + ox, wt,
                                                 y_cl + (oy * s.out_w + ox) * s.cout, co0);
          });
        }
      }
    });
  }
}

void direct_conv_weight_grad_cl(const WideConvShape& s, std::int64_t count, const float* xpad,
                                std::int64_t xpad_stride, const float* dy_cl, std::int64_t dy_stride,
                                bool accumulate, float* dwt) {
  const std::int64_t k = s.k();
  for (std::int64_t co0 = 0; co0 < s.cout; co0 += 16 * kClVectors) {
    for (std::int64_t k0 = 0; k0 < k; k0 += kClGradCols) {
      with_block<kClVectors>((s.cout - co0) / 16, [&](auto cv) {
        with_block<kClGradCols>(k - k0, [&](auto nk) {
          cl_weight_grad_block<nk.value, cv.value>(s, count, xpad, xpad_stride, dy_cl, dy_stride, co0, k0,
                                                   accumulate, dwt);
        });
      });
    }
  }
}

ALPHAX_AVX512 void plane_moments_avx512(const float* x, std::int64_t n, double* out) {
  // Four accumulators (independent add chains), combined in a fixed order: one order for each n.
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  const std::int64_t full = n / 64 * 64;
  for (std::int64_t i = 0; i < full; i += 64) {
    for (int k = 0; k < 4; ++k) acc[k] = _mm512_add_ps(acc[k], _mm512_loadu_ps(x + i + 16 * k));
  }
  for (std::int64_t i = full, k = 0; i < n; i += 16, ++k) {
    acc[k] = _mm512_add_ps(acc[k], _mm512_maskz_loadu_ps(tail_mask(n - i), x + i));
  }
  const float mean =
      lane_sum(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]))) / static_cast<float>(n);
  const __m512 mu = _mm512_set1_ps(mean);
  for (auto& a : acc) a = _mm512_setzero_ps();
  for (std::int64_t i = 0; i < full; i += 64) {
    for (int k = 0; k < 4; ++k) {
      const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + i + 16 * k), mu);
      acc[k] = _mm512_fmadd_ps(d, d, acc[k]);
    }
  }
  for (std::int64_t i = full, k = 0; i < n; i += 16, ++k) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + i), mu);  // masked-off lanes add 0
    acc[k] = _mm512_fmadd_ps(d, d, acc[k]);
  }
  out[0] = static_cast<double>(mean);
  out[1] = static_cast<double>(
      lane_sum(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]))));
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#else

bool direct_conv_supported() noexcept { return false; }

namespace {
[[noreturn]] void no_kernels(const char* where) {
  fail(where,
       "this build has no AVX-512 kernels (direct_conv_supported() is false); use ConvAlgorithm::kGemm");
}
}  // namespace

void pad_input(const WideConvShape&, const float*, float*, bool) { no_kernels("pad_input"); }
void plane_moments_avx512(const float*, std::int64_t, double*) { no_kernels("plane_moments_avx512"); }
void widen_output(const WideConvShape&, const float*, float*) { no_kernels("widen_output"); }
void narrow_output(const WideConvShape&, const float*, const float*, float*, bool, const float*) {
  no_kernels("narrow_output");
}
void to_channels_last(const WideConvShape&, const float*, float*) { no_kernels("to_channels_last"); }
void narrow_channels_last(const WideConvShape&, const float*, const float*, float*, bool, const float*) {
  no_kernels("narrow_channels_last");
}

void direct_conv_forward(const WideConvShape&, const float*, const float*, float*) {
  no_kernels("direct_conv_forward");
}

void direct_conv_weight_grad(const WideConvShape&, std::int64_t, const float*, std::int64_t, const float*,
                             std::int64_t, bool, float*) {
  no_kernels("direct_conv_weight_grad");
}

void direct_conv_forward_cl(const WideConvShape&, const float*, const float*, float*) {
  no_kernels("direct_conv_forward_cl");
}

void direct_conv_weight_grad_cl(const WideConvShape&, std::int64_t, const float*, std::int64_t, const float*,
                                std::int64_t, bool, float*) {
  no_kernels("direct_conv_weight_grad_cl");
}

#endif

}  // namespace alphax::tensor::detail
