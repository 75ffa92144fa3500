#include "direct_conv.hpp"

#include <algorithm>

#include "check.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define ALPHAX_HAVE_AVX512_KERNELS 1
// Only these functions use AVX-512; the rest of the library stays baseline x86-64, and callers
// check direct_conv_supported() first.
#define ALPHAX_AVX512 __attribute__((target("avx512f,fma")))
#endif

namespace alphax::tensor::detail {

WideConvShape make_wide_conv_shape(std::int64_t cin, std::int64_t in_h, std::int64_t in_w, std::int64_t cout,
                                   std::int64_t kh, std::int64_t kw, std::int64_t pad_h, std::int64_t pad_w) {
  WideConvShape s;
  s.cin = cin;
  s.cout = cout;
  s.kh = kh;
  s.kw = kw;
  s.in_h = in_h;
  s.in_w = in_w;
  s.pad_h = pad_h;
  s.pad_w = pad_w;
  s.out_h = in_h + 2 * pad_h - kh + 1;
  s.out_w = in_w + 2 * pad_w - kw + 1;
  s.row = in_w + 2 * pad_w;
  s.qv = static_cast<std::int64_t>(round_up16(static_cast<std::size_t>(s.out_h * s.row)));
  // The last wide output reads up to qv - 1 + (kh - 1)*row + kw - 1; the padded rows end at (in_h + 2*pad_h)*row.
  const std::int64_t reads = s.qv + (kh - 1) * s.row + kw - 1;
  s.in_plane = static_cast<std::int64_t>(round_up16(static_cast<std::size_t>(std::max(reads, (in_h + 2 * pad_h) * s.row))));
  return s;
}

void pad_input(const WideConvShape& s, const float* x, float* xpad, bool relu) {
  for (std::int64_t c = 0; c < s.cin; ++c) {
    float* dst = xpad + c * s.in_plane;
    const float* src = x + c * s.in_h * s.in_w;
    std::int64_t pos = 0;  // everything before pos is written
    for (std::int64_t y = 0; y < s.in_h; ++y) {
      const std::int64_t start = (y + s.pad_h) * s.row + s.pad_w;
      std::fill(dst + pos, dst + start, 0.0f);
      const float* in = src + y * s.in_w;
      float* out = dst + start;
      if (relu) {
#pragma omp simd
        for (std::int64_t i = 0; i < s.in_w; ++i) {
          const float v = in[i];
          out[i] = v > 0.0f ? v : 0.0f;
        }
      } else {
        std::copy(in, in + s.in_w, out);
      }
      pos = start + s.in_w;
    }
    std::fill(dst + pos, dst + s.in_plane, 0.0f);
  }
}

void widen_output(const WideConvShape& s, const float* dy, float* dy_wide) {
  for (std::int64_t c = 0; c < s.cout; ++c) {
    float* dst = dy_wide + c * s.qv;
    const float* src = dy + c * s.out_h * s.out_w;
    for (std::int64_t y = 0; y < s.out_h; ++y) {
      float* out = dst + y * s.row;
      std::copy(src + y * s.out_w, src + (y + 1) * s.out_w, out);
      std::fill(out + s.out_w, out + s.row, 0.0f);
    }
    std::fill(dst + s.out_h * s.row, dst + s.qv, 0.0f);
  }
}

void narrow_output(const WideConvShape& s, const float* y_wide, const float* bias, float* y, bool accumulate) {
  for (std::int64_t c = 0; c < s.cout; ++c) {
    const float b = bias != nullptr ? bias[c] : 0.0f;
    for (std::int64_t oy = 0; oy < s.out_h; ++oy) {
      const float* src = y_wide + c * s.qv + oy * s.row;
      float* dst = y + (c * s.out_h + oy) * s.out_w;
      if (accumulate) {
#pragma omp simd
        for (std::int64_t i = 0; i < s.out_w; ++i) dst[i] += src[i] + b;
      } else {
#pragma omp simd
        for (std::int64_t i = 0; i < s.out_w; ++i) dst[i] = src[i] + b;
      }
    }
  }
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

// Register blocking: a forward block holds kForwardRows output channels x kForwardVectors*16 wide
// positions in zmm accumulators (24 of the 32 registers); a weight-gradient block holds
// kGradRows output channels x kGradCols im2col rows.
constexpr int kForwardRows = 8;
constexpr int kForwardVectors = 3;
constexpr int kGradRows = 4;
constexpr int kGradCols = 6;

// GCC 12's AVX-512 intrinsics pass _mm512_undefined_ps() as the unused merge source, which it then
// reports as uninitialised (GCC bug 105593); the value is never read.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

/// The sum of the 16 lanes.
ALPHAX_AVX512 inline float lane_sum(__m512 v) {
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
  v = _mm512_add_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_add_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm512_cvtss_f32(v);
}

/// One block of direct_conv_forward: MR output channels from co0, NR vectors of positions from j0.
template <int MR, int NR>
ALPHAX_AVX512 void forward_block(const WideConvShape& s, const float* xpad, const float* wt, float* y_wide,
                                 std::int64_t co0, std::int64_t j0) {
  __m512 acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < NR; ++v) acc[i][v] = _mm512_setzero_ps();
  }
  const float* a = wt + co0;
  for (std::int64_t ci = 0; ci < s.cin; ++ci) {
    for (std::int64_t ky = 0; ky < s.kh; ++ky) {
      const float* b_row = xpad + ci * s.in_plane + ky * s.row + j0;
      for (std::int64_t kx = 0; kx < s.kw; ++kx, a += s.cout) {
        __m512 b[NR];
#pragma GCC unroll 4
        for (int v = 0; v < NR; ++v) b[v] = _mm512_loadu_ps(b_row + kx + 16 * v);
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i) {
          const __m512 w = _mm512_set1_ps(a[i]);
#pragma GCC unroll 4
          for (int v = 0; v < NR; ++v) acc[i][v] = _mm512_fmadd_ps(w, b[v], acc[i][v]);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    float* out = y_wide + (co0 + i) * s.qv + j0;
#pragma GCC unroll 4
    for (int v = 0; v < NR; ++v) _mm512_store_ps(out + 16 * v, acc[i][v]);
  }
}

template <int MR>
ALPHAX_AVX512 void forward_rows(const WideConvShape& s, const float* xpad, const float* wt, float* y_wide,
                                std::int64_t co0, std::int64_t j0, std::int64_t vectors) {
  static_assert(kForwardVectors == 3);
  switch (vectors) {
    case 1: forward_block<MR, 1>(s, xpad, wt, y_wide, co0, j0); break;
    case 2: forward_block<MR, 2>(s, xpad, wt, y_wide, co0, j0); break;
    default: forward_block<MR, 3>(s, xpad, wt, y_wide, co0, j0); break;
  }
}

/// One block of direct_conv_weight_grad: MR output channels from co0 x NK im2col rows from k0.
template <int MR, int NK>
ALPHAX_AVX512 void weight_grad_block(const WideConvShape& s, std::int64_t count, const float* xpad,
                                     std::int64_t xpad_stride, const float* dy_wide, std::int64_t dy_stride,
                                     std::int64_t co0, std::int64_t k0, float* dw) {
  std::int64_t offset[NK];
  const std::int64_t taps = s.kh * s.kw;
#pragma GCC unroll 8
  for (int t = 0; t < NK; ++t) {
    const std::int64_t k = k0 + t;
    const std::int64_t tap = k % taps;
    offset[t] = (k / taps) * s.in_plane + (tap / s.kw) * s.row + tap % s.kw;
  }
  __m512 acc[MR][NK];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 8
    for (int t = 0; t < NK; ++t) acc[i][t] = _mm512_setzero_ps();
  }
  for (std::int64_t n = 0; n < count; ++n) {
    const float* x = xpad + n * xpad_stride;
    const float* d = dy_wide + n * dy_stride + co0 * s.qv;
    for (std::int64_t j = 0; j < s.qv; j += 16) {
      __m512 g[MR];
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) g[i] = _mm512_load_ps(d + i * s.qv + j);
#pragma GCC unroll 8
      for (int t = 0; t < NK; ++t) {
        const __m512 b = _mm512_loadu_ps(x + offset[t] + j);
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i) acc[i][t] = _mm512_fmadd_ps(g[i], b, acc[i][t]);
      }
    }
  }
  const std::int64_t k = s.k();
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 8
    for (int t = 0; t < NK; ++t) dw[(co0 + i) * k + k0 + t] += lane_sum(acc[i][t]);
  }
}

template <int MR>
ALPHAX_AVX512 void weight_grad_rows(const WideConvShape& s, std::int64_t count, const float* xpad,
                                    std::int64_t xpad_stride, const float* dy_wide, std::int64_t dy_stride,
                                    std::int64_t co0, std::int64_t k0, std::int64_t cols, float* dw) {
  static_assert(kGradCols == 6);
  switch (cols) {
    case 1: weight_grad_block<MR, 1>(s, count, xpad, xpad_stride, dy_wide, dy_stride, co0, k0, dw); break;
    case 2: weight_grad_block<MR, 2>(s, count, xpad, xpad_stride, dy_wide, dy_stride, co0, k0, dw); break;
    case 3: weight_grad_block<MR, 3>(s, count, xpad, xpad_stride, dy_wide, dy_stride, co0, k0, dw); break;
    case 4: weight_grad_block<MR, 4>(s, count, xpad, xpad_stride, dy_wide, dy_stride, co0, k0, dw); break;
    case 5: weight_grad_block<MR, 5>(s, count, xpad, xpad_stride, dy_wide, dy_stride, co0, k0, dw); break;
    default: weight_grad_block<MR, 6>(s, count, xpad, xpad_stride, dy_wide, dy_stride, co0, k0, dw); break;
  }
}

}  // namespace

void direct_conv_forward(const WideConvShape& s, const float* xpad, const float* wt, float* y_wide) {
  static_assert(kForwardRows == 8);
  const std::int64_t vectors = s.qv / 16;
  for (std::int64_t v0 = 0; v0 < vectors; v0 += kForwardVectors) {
    const std::int64_t nv = std::min<std::int64_t>(kForwardVectors, vectors - v0);
    const std::int64_t j0 = 16 * v0;
    for (std::int64_t co0 = 0; co0 < s.cout; co0 += kForwardRows) {
      switch (std::min<std::int64_t>(kForwardRows, s.cout - co0)) {
        case 1: forward_rows<1>(s, xpad, wt, y_wide, co0, j0, nv); break;
        case 2: forward_rows<2>(s, xpad, wt, y_wide, co0, j0, nv); break;
        case 3: forward_rows<3>(s, xpad, wt, y_wide, co0, j0, nv); break;
        case 4: forward_rows<4>(s, xpad, wt, y_wide, co0, j0, nv); break;
        case 5: forward_rows<5>(s, xpad, wt, y_wide, co0, j0, nv); break;
        case 6: forward_rows<6>(s, xpad, wt, y_wide, co0, j0, nv); break;
        case 7: forward_rows<7>(s, xpad, wt, y_wide, co0, j0, nv); break;
        default: forward_rows<8>(s, xpad, wt, y_wide, co0, j0, nv); break;
      }
    }
  }
}

void direct_conv_weight_grad(const WideConvShape& s, std::int64_t count, const float* xpad,
                             std::int64_t xpad_stride, const float* dy_wide, std::int64_t dy_stride, float* dw) {
  static_assert(kGradRows == 4);
  const std::int64_t k = s.k();
  for (std::int64_t co0 = 0; co0 < s.cout; co0 += kGradRows) {
    const std::int64_t rows = std::min<std::int64_t>(kGradRows, s.cout - co0);
    for (std::int64_t k0 = 0; k0 < k; k0 += kGradCols) {
      const std::int64_t cols = std::min<std::int64_t>(kGradCols, k - k0);
      switch (rows) {
        case 1: weight_grad_rows<1>(s, count, xpad, xpad_stride, dy_wide, dy_stride, co0, k0, cols, dw); break;
        case 2: weight_grad_rows<2>(s, count, xpad, xpad_stride, dy_wide, dy_stride, co0, k0, cols, dw); break;
        case 3: weight_grad_rows<3>(s, count, xpad, xpad_stride, dy_wide, dy_stride, co0, k0, cols, dw); break;
        default: weight_grad_rows<4>(s, count, xpad, xpad_stride, dy_wide, dy_stride, co0, k0, cols, dw); break;
      }
    }
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#else

bool direct_conv_supported() noexcept { return false; }

void direct_conv_forward(const WideConvShape&, const float*, const float*, float*) {
  fail("direct_conv_forward", "this build has no AVX-512 kernels; use ConvAlgorithm::kGemm");
}

void direct_conv_weight_grad(const WideConvShape&, std::int64_t, const float*, std::int64_t, const float*,
                             std::int64_t, float*) {
  fail("direct_conv_weight_grad", "this build has no AVX-512 kernels; use ConvAlgorithm::kGemm");
}

#endif

}  // namespace alphax::tensor::detail
