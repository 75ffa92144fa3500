#include "pooling_kernels.hpp"

#include <algorithm>
#include <limits>

#include "check.hpp"
#include "direct_conv.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(ALPHAX_NO_AVX512_KERNELS)
#include <immintrin.h>
#define ALPHAX_AVX512 __attribute__((target("avx512f")))

namespace alphax::tensor::detail {

bool fast_pool_available() noexcept { return direct_conv_supported(); }

// GCC 12's AVX-512 intrinsics pass _mm512_undefined_ps() as the unused merge source, which it then
// reports as uninitialised (GCC bug 105593); the value is never read.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace {

/// The first min(n, 16) lanes (none when n <= 0).
ALPHAX_AVX512 inline __mmask16 lanes(std::int64_t n) {
  if (n <= 0) return 0;
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

/// Columns c-1 and c+1 of the vector `cur` at columns c..c+15, from its neighbours prev and next.
ALPHAX_AVX512 inline __m512 left_of(__m512 cur, __m512 prev) {
  return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(cur), _mm512_castps_si512(prev), 15));
}
ALPHAX_AVX512 inline __m512 right_of(__m512 cur, __m512 next) {
  return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(next), _mm512_castps_si512(cur), 1));
}

/// row[c..c+15] * row_scale (* scale[c..c+15] when scale is not null), zero at columns >= w.
ALPHAX_AVX512 inline __m512 scaled_load(const float* row, const float* scale, __m512 row_scale,
                                        std::int64_t c, std::int64_t w) {
  const __mmask16 m = lanes(w - c);
  __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + c), row_scale);
  if (scale != nullptr) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, scale + c));
  return v;
}

/// Horizontal 3-sums of `row` scaled by `scale` (per column, may be null) for every vector of
/// columns: out[c] += s[c-1] + s[c] + s[c+1] with s = row * scale * row_scale, zero outside [0, w).
ALPHAX_AVX512 inline void add_box_row(const float* row, const float* scale, float row_scale, std::int64_t w,
                                      float* out) {
  const __m512 rs = _mm512_set1_ps(row_scale);
  __m512 prev = _mm512_setzero_ps();
  __m512 cur = scaled_load(row, scale, rs, 0, w);
  for (std::int64_t c = 0; c < w; c += 16) {
    const __m512 next = c + 16 < w ? scaled_load(row, scale, rs, c + 16, w) : _mm512_setzero_ps();
    const __m512 sum = _mm512_add_ps(_mm512_add_ps(left_of(cur, prev), cur), right_of(cur, next));
    const __mmask16 m = lanes(w - c);
    _mm512_mask_storeu_ps(out + c, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, out + c), sum));
    prev = cur;
    cur = next;
  }
}

/// 1 / (number of indices of a 3-window centred on i that lie in [0, n)).
inline float inverse_count(std::int64_t i, std::int64_t n) {
  return 1.0f /
         static_cast<float>(std::min<std::int64_t>(i + 1, n - 1) - std::max<std::int64_t>(i - 1, 0) + 1);
}

}  // namespace

ALPHAX_AVX512 void avg_pool3_forward_plane(const float* x, float* y, std::int64_t h, std::int64_t w) {
  float inv_col[kMaxFastPoolWidth];
  for (std::int64_t c = 0; c < w; ++c) inv_col[c] = inverse_count(c, w);
  for (std::int64_t oy = 0; oy < h; ++oy) {
    float* out = y + oy * w;
    for (std::int64_t c = 0; c < w; c += 16)
      _mm512_mask_storeu_ps(out + c, lanes(w - c), _mm512_setzero_ps());
    for (std::int64_t r = std::max<std::int64_t>(oy - 1, 0); r <= std::min<std::int64_t>(oy + 1, h - 1);
         ++r) {
      add_box_row(x + r * w, nullptr, 1.0f, w, out);
    }
    const __m512 inv_row = _mm512_set1_ps(inverse_count(oy, h));
    for (std::int64_t c = 0; c < w; c += 16) {
      const __mmask16 m = lanes(w - c);
      const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, out + c), inv_row);
      _mm512_mask_storeu_ps(out + c, m, _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, inv_col + c)));
    }
  }
}

ALPHAX_AVX512 void avg_pool3_backward_plane(const float* dy, float* dx, std::int64_t h, std::int64_t w,
                                            bool accumulate) {
  // dx = the 3x3 box sum of dy / (its window's count): the window is symmetric (stride 1, padding 1).
  float inv_col[kMaxFastPoolWidth];
  for (std::int64_t c = 0; c < w; ++c) inv_col[c] = inverse_count(c, w);
  for (std::int64_t iy = 0; iy < h; ++iy) {
    float* out = dx + iy * w;
    if (!accumulate) {
      for (std::int64_t c = 0; c < w; c += 16)
        _mm512_mask_storeu_ps(out + c, lanes(w - c), _mm512_setzero_ps());
    }
    for (std::int64_t r = std::max<std::int64_t>(iy - 1, 0); r <= std::min<std::int64_t>(iy + 1, h - 1);
         ++r) {
      add_box_row(dy + r * w, inv_col, inverse_count(r, h), w, out);
    }
  }
}

ALPHAX_AVX512 void max_pool2_forward_plane(const float* x, float* y, std::int64_t h, std::int64_t w) {
  const std::int64_t oh = h / 2;
  const std::int64_t ow = w / 2;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  for (std::int64_t oy = 0; oy < oh; ++oy) {
    for (std::int64_t c = 0; c < ow; c += 16) {
      __m512 best = _mm512_setzero_ps();
      for (std::int64_t r = 0; r < 2; ++r) {
        const float* row = x + (2 * oy + r) * w + 2 * c;
        const __m512 a = _mm512_maskz_loadu_ps(lanes(2 * (ow - c)), row);
        const __m512 b = _mm512_maskz_loadu_ps(lanes(2 * (ow - c) - 16), row + 16);
        const __m512 m = _mm512_max_ps(_mm512_permutex2var_ps(a, even, b), _mm512_permutex2var_ps(a, odd, b));
        best = r == 0 ? m : _mm512_max_ps(best, m);
      }
      _mm512_mask_storeu_ps(y + oy * ow + c, lanes(ow - c), best);
    }
  }
}

ALPHAX_AVX512 void max_pool2_backward_plane(const float* x, const float* y, const float* dy, float* dx,
                                            std::int64_t h, std::int64_t w, bool accumulate) {
  const std::int64_t oh = h / 2;
  const std::int64_t ow = w / 2;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512i low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i high = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  for (std::int64_t oy = 0; oy < oh; ++oy) {
    for (std::int64_t c = 0; c < ow; c += 16) {
      const __mmask16 m = lanes(ow - c);
      const __m512 best = _mm512_maskz_loadu_ps(m, y + oy * ow + c);
      const __m512 grad = _mm512_maskz_loadu_ps(m, dy + oy * ow + c);
      const __mmask16 ma = lanes(2 * (ow - c));
      const __mmask16 mb = lanes(2 * (ow - c) - 16);
      __mmask16 found = 0;
      for (std::int64_t r = 0; r < 2; ++r) {
        const float* row = x + (2 * oy + r) * w + 2 * c;
        const __m512 a = _mm512_maskz_loadu_ps(ma, row);
        const __m512 b = _mm512_maskz_loadu_ps(mb, row + 16);
        // Window order (r, 0), (r, 1): the first input equal to the maximum takes the gradient.
        const __mmask16 hit0 =
            _mm512_mask_cmp_ps_mask(m & ~found, _mm512_permutex2var_ps(a, even, b), best, _CMP_EQ_OQ);
        found |= hit0;
        const __mmask16 hit1 =
            _mm512_mask_cmp_ps_mask(m & ~found, _mm512_permutex2var_ps(a, odd, b), best, _CMP_EQ_OQ);
        found |= hit1;
        const __m512 g0 = _mm512_maskz_mov_ps(hit0, grad);
        const __m512 g1 = _mm512_maskz_mov_ps(hit1, grad);
        float* drow = dx + (2 * oy + r) * w + 2 * c;
        __m512 lo = _mm512_permutex2var_ps(g0, low, g1);
        __m512 hi = _mm512_permutex2var_ps(g0, high, g1);
        if (accumulate) {
          lo = _mm512_add_ps(lo, _mm512_maskz_loadu_ps(ma, drow));
          hi = _mm512_add_ps(hi, _mm512_maskz_loadu_ps(mb, drow + 16));
        }
        _mm512_mask_storeu_ps(drow, ma, lo);
        _mm512_mask_storeu_ps(drow + 16, mb, hi);
      }
    }
  }
  if (accumulate) return;
  // Inputs outside every window (an odd last column or row) get no gradient.
  for (std::int64_t r = 0; r < 2 * oh; ++r) {
    if (w % 2 != 0) dx[r * w + w - 1] = 0.0f;
  }
  if (h % 2 != 0) std::fill(dx + (h - 1) * w, dx + h * w, 0.0f);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace alphax::tensor::detail

#else

namespace alphax::tensor::detail {

bool fast_pool_available() noexcept { return false; }

namespace {
[[noreturn]] void no_kernels(const char* where) {
  fail(where, "this build has no AVX-512 pooling kernels (fast_pool_available() is false)");
}
}  // namespace

void avg_pool3_forward_plane(const float*, float*, std::int64_t, std::int64_t) {
  no_kernels("avg_pool3_forward_plane");
}
void avg_pool3_backward_plane(const float*, float*, std::int64_t, std::int64_t, bool) {
  no_kernels("avg_pool3_backward_plane");
}
void max_pool2_forward_plane(const float*, float*, std::int64_t, std::int64_t) {
  no_kernels("max_pool2_forward_plane");
}
void max_pool2_backward_plane(const float*, const float*, const float*, float*, std::int64_t, std::int64_t,
                              bool) {
  no_kernels("max_pool2_backward_plane");
}

}  // namespace alphax::tensor::detail

#endif
