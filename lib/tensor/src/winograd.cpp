#include "winograd.hpp"

#include <algorithm>
#include <array>

#include "check.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(ALPHAX_NO_AVX512_KERNELS)
#include <immintrin.h>
#define ALPHAX_HAVE_AVX512_KERNELS 1
// Only these functions use AVX-512; callers check direct_conv_supported() first.
#define ALPHAX_AVX512 __attribute__((target("avx512f,fma")))
#endif

namespace alphax::tensor::detail {

namespace {

/// GEMM register block: kBlockRows output channels x kBlockVectors*16 tiles (24 zmm accumulators).
constexpr std::int64_t kBlockRows = 8;
constexpr std::int64_t kBlockVectors = 3;
/// Tiles per chunk at most: V [16][cin][chunk] and M [16][8][chunk] stay in L2 (cin = 64: 400 KB).
constexpr std::int64_t kMaxChunkTiles = 96;
/// A group's outputs (count * cout * out_h * out_w floats) stay about this size, so a following
/// pass over them (the plane moments for batch norm) reads L2.
constexpr std::int64_t kGroupOutputBytes = 256 * 1024;
constexpr std::int64_t kMaxGroup = 8;
/// Tiles per row segment: 15 tiles read 32 input columns, two vectors (see input_segment).
constexpr std::int64_t kSegmentTiles = 15;
/// Rows of at least this many tiles are transformed a row segment at a time from contiguous loads;
/// narrower ones (7x7 inputs have 4 tiles a row) by gathering 16 tiles per vector across rows
/// (bench_tensor_ops: gathers lose at 14 tiles a row, win at 7 and 4).
constexpr std::int64_t kMinRowTiles = 12;

std::int64_t round16(std::int64_t n) { return (n + 15) / 16 * 16; }

/// Relative GEMM time of a group of `tiles` tiles in chunks of kMaxChunkTiles: a register block
/// costs its vectors plus about one more for its 8 broadcasts per input channel, so a chunk of few
/// tiles (7x7 inputs have 16 per sample) pays for its partial blocks and wasted columns.
double gemm_cost(std::int64_t tiles) {
  double cost = 0.0;
  for (std::int64_t left = tiles; left > 0; left -= kMaxChunkTiles) {
    const std::int64_t vectors = (std::min(left, kMaxChunkTiles) + 15) / 16;
    cost += static_cast<double>(vectors + (vectors + kBlockVectors - 1) / kBlockVectors);
  }
  return cost;
}

}  // namespace

std::size_t WinogradShape::weight_size() const noexcept {
  return round_up16(static_cast<std::size_t>(16 * cin * cout));
}

std::size_t WinogradShape::scratch_size() const noexcept {
  return static_cast<std::size_t>(16 * (cin + kBlockRows) * chunk_tiles);
}

WinogradShape make_winograd_shape(std::int64_t cin, std::int64_t in_h, std::int64_t in_w, std::int64_t cout,
                                  std::int64_t pad) {
  if (pad < 0 || pad > 2) fail("make_winograd_shape", "padding must be 0, 1 or 2 for a 3x3 kernel");
  WinogradShape s;
  s.cin = cin;
  s.cout = cout;
  s.in_h = in_h;
  s.in_w = in_w;
  s.pad = pad;
  s.out_h = in_h + 2 * pad - 2;
  s.out_w = in_w + 2 * pad - 2;
  s.tiles_h = (s.out_h + 1) / 2;
  s.tiles_w = (s.out_w + 1) / 2;
  // The group size with the cheapest GEMMs per tile, among those whose outputs stay in L2.
  const std::int64_t sample_bytes = 4 * cout * s.out_h * s.out_w;
  const std::int64_t max_group =
      std::clamp<std::int64_t>(kGroupOutputBytes / std::max<std::int64_t>(sample_bytes, 1), 1, kMaxGroup);
  double best = 0.0;
  for (std::int64_t g = 1; g <= max_group; ++g) {
    const double cost = gemm_cost(g * s.tiles()) / static_cast<double>(g * s.tiles());
    if (g == 1 || cost < best - 1e-9) {
      best = cost;
      s.group = g;
    }
  }
  s.chunk_tiles = std::min(kMaxChunkTiles, round16(s.group * s.tiles()));
  return s;
}

void winograd_weights(const WinogradShape& s, const float* w, bool flip, float* u) {
  // U = G g G^T, G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]], formed in double.
  constexpr double kG[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  for (std::int64_t co = 0; co < s.cout; ++co) {
    for (std::int64_t ci = 0; ci < s.cin; ++ci) {
      double g[3][3];
      const float* k = flip ? w + (ci * s.cout + co) * 9 : w + (co * s.cin + ci) * 9;
      for (int a = 0; a < 3; ++a) {
        for (int b = 0; b < 3; ++b) g[a][b] = flip ? k[(2 - a) * 3 + (2 - b)] : k[a * 3 + b];
      }
      double gg[4][3];  // G g
      for (int i = 0; i < 4; ++i) {
        for (int b = 0; b < 3; ++b) gg[i][b] = kG[i][0] * g[0][b] + kG[i][1] * g[1][b] + kG[i][2] * g[2][b];
      }
      for (int i = 0; i < 4; ++i) {
        for (int j = 0; j < 4; ++j) {
          const double v = gg[i][0] * kG[j][0] + gg[i][1] * kG[j][1] + gg[i][2] * kG[j][2];
          u[((i * 4 + j) * s.cin + ci) * s.cout + co] = static_cast<float>(v);
        }
      }
    }
  }
}

#if defined(ALPHAX_HAVE_AVX512_KERNELS)

namespace {

// GCC 12's AVX-512 intrinsics pass _mm512_undefined_ps() as the unused merge source, which it then
// reports as uninitialised (GCC bug 105593); the value is never read.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

/// Lanes i with lo <= i < hi (clamped to [0, 16]).
ALPHAX_AVX512 inline __mmask16 lane_range(std::int64_t lo, std::int64_t hi) {
  lo = std::clamp<std::int64_t>(lo, 0, 16);
  hi = std::clamp<std::int64_t>(hi, lo, 16);
  const unsigned bits = ((1u << hi) - 1u) & ~((1u << lo) - 1u);
  return static_cast<__mmask16>(bits);
}

/// V for nt <= 15 tiles of one tile row of one input channel: B^T d B for each 4x4 patch d (rows
/// iy0 .. iy0+3, columns c0 + 2*t .. +3, zero outside the input, max(d, 0) with kRelu). Columns
/// c0 .. c0+31 of each row are read as two vectors (masked loads: the lanes outside the input are
/// never read), transformed down the rows, split into even and odd columns e, o, and across: with
/// e1/o1 the next tile's, (d B)_j = {e - e1, o + e1, e1 - o, o - o1}. Position p goes to
/// v[p * pos_stride + t].
template <bool kRelu>
ALPHAX_AVX512 void input_segment(const float* plane, std::int64_t h, std::int64_t w, std::int64_t iy0,
                                 std::int64_t c0, std::int64_t nt, float* v, std::int64_t pos_stride) {
  const __mmask16 cols_lo = lane_range(-c0, w - c0);
  const __mmask16 cols_hi = lane_range(-c0 - 16, w - c0 - 16);
  __m512 lo[4], hi[4];
  for (int r = 0; r < 4; ++r) {
    const std::int64_t iy = iy0 + r;
    const bool inside = iy >= 0 && iy < h;
    const float* row = plane + std::clamp<std::int64_t>(iy, 0, h - 1) * w + c0;
    lo[r] = _mm512_maskz_loadu_ps(inside ? cols_lo : static_cast<__mmask16>(0), row);
    hi[r] = _mm512_maskz_loadu_ps(inside ? cols_hi : static_cast<__mmask16>(0), row + 16);
    if constexpr (kRelu) {
      lo[r] = _mm512_max_ps(lo[r], _mm512_setzero_ps());
      hi[r] = _mm512_max_ps(hi[r], _mm512_setzero_ps());
    }
  }
  // B^T d: rows {d0 - d2, d1 + d2, d2 - d1, d1 - d3}.
  const __m512 wlo[4] = {_mm512_sub_ps(lo[0], lo[2]), _mm512_add_ps(lo[1], lo[2]),
                         _mm512_sub_ps(lo[2], lo[1]), _mm512_sub_ps(lo[1], lo[3])};
  const __m512 whi[4] = {_mm512_sub_ps(hi[0], hi[2]), _mm512_add_ps(hi[1], hi[2]),
                         _mm512_sub_ps(hi[2], hi[1]), _mm512_sub_ps(hi[1], hi[3])};
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __mmask16 m = lane_range(0, nt);
  for (int i = 0; i < 4; ++i) {
    const __m512 e = _mm512_permutex2var_ps(wlo[i], even, whi[i]);
    const __m512 o = _mm512_permutex2var_ps(wlo[i], odd, whi[i]);
    // Lane t of e1/o1 is lane t + 1 of e/o (lane 15 is never stored: nt <= 15).
    const __m512 e1 =
        _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(e), _mm512_castps_si512(e), 1));
    const __m512 o1 =
        _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(o), _mm512_castps_si512(o), 1));
    float* row = v + (i * 4) * pos_stride;
    _mm512_mask_storeu_ps(row, m, _mm512_sub_ps(e, e1));
    _mm512_mask_storeu_ps(row + pos_stride, m, _mm512_add_ps(o, e1));
    _mm512_mask_storeu_ps(row + 2 * pos_stride, m, _mm512_sub_ps(e1, o));
    _mm512_mask_storeu_ps(row + 3 * pos_stride, m, _mm512_sub_ps(o, o1));
  }
}

/// V for the 16 tiles t0 .. t0+15 of a group (lanes t >= nt are zero): B^T d B for each tile's 4x4
/// input patch d (rows 2*ty - pad .. +3, columns 2*tx - pad .. +3, zero outside the input; with relu
/// max(d, 0)), every input channel. The patches are gathered, so one vector holds 16 tiles whatever
/// the width of a row of tiles (4 at 7x7) and across samples. v[(p * cin + ci) * ld + lane] receives
/// position p of channel ci.
ALPHAX_AVX512 void input_tiles(const WinogradShape& s, const float* x, std::int64_t t0, std::int64_t nt,
                               bool relu, float* v, std::int64_t ld) {
  const std::int64_t in_plane = s.in_h * s.in_w;
  alignas(64) std::int32_t base[16] = {};
  unsigned row_ok[4] = {0, 0, 0, 0}, col_ok[4] = {0, 0, 0, 0};
  for (std::int64_t lane = 0; lane < nt; ++lane) {
    const std::int64_t t = t0 + lane;
    const std::int64_t sample = t / s.tiles();
    const std::int64_t iy = 2 * ((t % s.tiles()) / s.tiles_w) - s.pad;
    const std::int64_t ix = 2 * (t % s.tiles_w) - s.pad;
    base[lane] = static_cast<std::int32_t>(sample * s.cin * in_plane + iy * s.in_w + ix);
    for (int k = 0; k < 4; ++k) {
      if (iy + k >= 0 && iy + k < s.in_h) row_ok[k] |= 1u << lane;
      if (ix + k >= 0 && ix + k < s.in_w) col_ok[k] |= 1u << lane;
    }
  }
  const __m512i vbase = _mm512_load_si512(base);
  __m512i index[4][4];
  __mmask16 ok[4][4];
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 4; ++c) {
      index[r][c] = _mm512_add_epi32(vbase, _mm512_set1_epi32(static_cast<int>(r * s.in_w + c)));
      ok[r][c] = static_cast<__mmask16>(row_ok[r] & col_ok[c]);
    }
  }
  const __m512 zero = _mm512_setzero_ps();
  const std::int64_t pos_stride = s.cin * ld;
  for (std::int64_t ci = 0; ci < s.cin; ++ci) {
    const float* plane = x + ci * in_plane;
    __m512 w[4][4];  // B^T d, column by column: rows {d0 - d2, d1 + d2, d2 - d1, d1 - d3}
    for (int c = 0; c < 4; ++c) {
      __m512 d[4];
      for (int r = 0; r < 4; ++r) {
        d[r] = _mm512_mask_i32gather_ps(zero, ok[r][c], index[r][c], plane, 4);
        if (relu) d[r] = _mm512_max_ps(d[r], zero);
      }
      w[0][c] = _mm512_sub_ps(d[0], d[2]);
      w[1][c] = _mm512_add_ps(d[1], d[2]);
      w[2][c] = _mm512_sub_ps(d[2], d[1]);
      w[3][c] = _mm512_sub_ps(d[1], d[3]);
    }
    float* out = v + ci * ld;
    for (int i = 0; i < 4; ++i) {  // (B^T d) B: columns {w0 - w2, w1 + w2, w2 - w1, w1 - w3}
      _mm512_storeu_ps(out + (i * 4 + 0) * pos_stride, _mm512_sub_ps(w[i][0], w[i][2]));
      _mm512_storeu_ps(out + (i * 4 + 1) * pos_stride, _mm512_add_ps(w[i][1], w[i][2]));
      _mm512_storeu_ps(out + (i * 4 + 2) * pos_stride, _mm512_sub_ps(w[i][2], w[i][1]));
      _mm512_storeu_ps(out + (i * 4 + 3) * pos_stride, _mm512_sub_ps(w[i][1], w[i][3]));
    }
  }
}

/// One output channel's nt <= 15 tiles of one tile row: A^T m A with A^T = [[1, 1, 1, 0], [0, 1, -1, -1]],
/// m[p] at mv + p * pos_stride, written to output rows 2*ty, 2*ty + 1 (when < out_h) at columns
/// col0 .. col0 + 2*nt - 1 (those < out_w) of `plane`, plus bias, gated by `gate` (the same plane
/// of the mask) and added to the plane with `accumulate`.
ALPHAX_AVX512 void output_segment(const float* mv, std::int64_t pos_stride, std::int64_t nt,
                                  std::int64_t out_h, std::int64_t out_w, std::int64_t oy0, std::int64_t col0,
                                  float bias, const float* gate, bool accumulate, float* plane) {
  __m512 s[2][4];  // A^T m: rows {m0 + m1 + m2, m1 - m2 - m3}
  const __mmask16 tiles = lane_range(0, nt);
  for (int j = 0; j < 4; ++j) {
    const __m512 m0 = _mm512_maskz_loadu_ps(tiles, mv + (0 * 4 + j) * pos_stride);
    const __m512 m1 = _mm512_maskz_loadu_ps(tiles, mv + (1 * 4 + j) * pos_stride);
    const __m512 m2 = _mm512_maskz_loadu_ps(tiles, mv + (2 * 4 + j) * pos_stride);
    const __m512 m3 = _mm512_maskz_loadu_ps(tiles, mv + (3 * 4 + j) * pos_stride);
    s[0][j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
    s[1][j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
  }
  const __m512i first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i second = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const __m512 b = _mm512_set1_ps(bias);
  const std::int64_t cols = std::min(2 * nt, out_w - col0);
  const __mmask16 m_lo = lane_range(0, cols);
  const __mmask16 m_hi = lane_range(0, cols - 16);
  for (int a = 0; a < 2; ++a) {
    const std::int64_t oy = oy0 + a;
    if (oy >= out_h) break;
    const __m512 y0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s[a][0], s[a][1]), s[a][2]), b);
    const __m512 y1 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s[a][1], s[a][2]), s[a][3]), b);
    __m512 half[2] = {_mm512_permutex2var_ps(y0, first, y1), _mm512_permutex2var_ps(y0, second, y1)};
    const __mmask16 masks[2] = {m_lo, m_hi};
    float* out = plane + oy * out_w + col0;
    for (int k = 0; k < 2; ++k) {
      const __mmask16 m = masks[k];
      if (m == 0) break;
      __m512 v = half[k];
      if (gate != nullptr) {
        const __m512 g = _mm512_maskz_loadu_ps(m, gate + oy * out_w + col0 + 16 * k);
        v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(g, _mm512_setzero_ps(), _CMP_GT_OQ), v);
      }
      if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, out + 16 * k));
      _mm512_mask_storeu_ps(out + 16 * k, m, v);
    }
  }
}

/// m[r * ld + t] = sum over ci < cin of u[ci * cout + r] * v[ci * ld + t] for r < R, t < 16*NV.
template <int R, int NV>
ALPHAX_AVX512 void gemm_block(const float* u, std::int64_t cout, const float* v, std::int64_t ld,
                              std::int64_t cin, float* m) {
  __m512 acc[R][NV];
  for (int r = 0; r < R; ++r) {
    for (int k = 0; k < NV; ++k) acc[r][k] = _mm512_setzero_ps();
  }
  for (std::int64_t ci = 0; ci < cin; ++ci) {
    __m512 x[NV];
    for (int k = 0; k < NV; ++k) x[k] = _mm512_loadu_ps(v + ci * ld + 16 * k);
    const float* ur = u + ci * cout;
    for (int r = 0; r < R; ++r) {
      const __m512 b = _mm512_set1_ps(ur[r]);
      for (int k = 0; k < NV; ++k) acc[r][k] = _mm512_fmadd_ps(b, x[k], acc[r][k]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int k = 0; k < NV; ++k) _mm512_storeu_ps(m + r * ld + 16 * k, acc[r][k]);
  }
}

using GemmBlock = void (*)(const float*, std::int64_t, const float*, std::int64_t, std::int64_t, float*);

template <int R>
constexpr std::array<GemmBlock, kBlockVectors> row_kernels() {
  return {&gemm_block<R, 1>, &gemm_block<R, 2>, &gemm_block<R, 3>};
}

/// kGemmBlocks[R - 1][NV - 1]: the block of R rows and NV vectors.
constexpr std::array<std::array<GemmBlock, kBlockVectors>, kBlockRows> kGemmBlocks = {
    row_kernels<1>(), row_kernels<2>(), row_kernels<3>(), row_kernels<4>(),
    row_kernels<5>(), row_kernels<6>(), row_kernels<7>(), row_kernels<8>()};

/// A run of nt <= kSegmentTiles tiles of one tile row: tile (sample, ty, tx + k) is chunk column t + k.
struct RowSegment {
  std::int64_t sample, ty, tx, nt, t;
};

/// The row segments of tiles t0 .. t0+n-1 of a group (n <= kMaxChunkTiles); returns their number.
std::int64_t row_segments(const WinogradShape& s, std::int64_t t0, std::int64_t n,
                          std::array<RowSegment, kMaxChunkTiles>& out) {
  const std::int64_t per_sample = s.tiles();
  std::int64_t count = 0;
  for (std::int64_t t = t0; t < t0 + n;) {
    const std::int64_t tx = t % s.tiles_w;
    const std::int64_t nt = std::min({kSegmentTiles, s.tiles_w - tx, t0 + n - t});
    out[static_cast<std::size_t>(count++)] = {t / per_sample, (t % per_sample) / s.tiles_w, tx, nt, t - t0};
    t += nt;
  }
  return count;
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace

ALPHAX_AVX512 void winograd_conv(const WinogradShape& s, const float* x, std::int64_t count, bool relu,
                                 const float* u, const float* bias, float* y, bool accumulate,
                                 const float* mask, float* scratch) {
  const std::int64_t ld = s.chunk_tiles;
  float* v = scratch;              // [16][cin][ld]
  float* m = v + 16 * s.cin * ld;  // [16][kBlockRows][ld]
  const std::int64_t in_plane = s.in_h * s.in_w;
  const std::int64_t out_plane = s.out_h * s.out_w;
  const std::int64_t total = count * s.tiles();
  for (std::int64_t t0 = 0; t0 < total; t0 += ld) {
    const std::int64_t n = std::min(ld, total - t0);
    const std::int64_t vectors = (n + 15) / 16;
    std::array<RowSegment, kMaxChunkTiles> segments;
    const std::int64_t segment_count = row_segments(s, t0, n, segments);
    if (s.tiles_w >= kMinRowTiles) {
      // Channel by channel, so each plane is read in order.
      for (std::int64_t ci = 0; ci < s.cin; ++ci) {
        for (std::int64_t q = 0; q < segment_count; ++q) {
          const RowSegment& g = segments[static_cast<std::size_t>(q)];
          const float* plane = x + (g.sample * s.cin + ci) * in_plane;
          float* out = v + ci * ld + g.t;
          if (relu) {
            input_segment<true>(plane, s.in_h, s.in_w, 2 * g.ty - s.pad, 2 * g.tx - s.pad, g.nt, out,
                                s.cin * ld);
          } else {
            input_segment<false>(plane, s.in_h, s.in_w, 2 * g.ty - s.pad, 2 * g.tx - s.pad, g.nt, out,
                                 s.cin * ld);
          }
        }
      }
      // The columns past the chunk's tiles in its last vector: zero, so the GEMM never meets stale
      // (possibly denormal) values; they are computed and dropped.
      if (n < vectors * 16) {
        for (std::int64_t row = 0; row < 16 * s.cin; ++row) {
          _mm512_mask_storeu_ps(v + row * ld + (vectors - 1) * 16, lane_range(n % 16, 16),
                                _mm512_setzero_ps());
        }
      }
    } else {
      for (std::int64_t t = 0; t < n; t += 16) {
        input_tiles(s, x, t0 + t, std::min<std::int64_t>(16, n - t), relu, v + t, ld);
      }
    }
    for (std::int64_t co0 = 0; co0 < s.cout; co0 += kBlockRows) {
      const std::int64_t rows = std::min(kBlockRows, s.cout - co0);
      for (std::int64_t p = 0; p < 16; ++p) {
        for (std::int64_t k = 0; k < vectors; k += kBlockVectors) {
          const std::int64_t nv = std::min(kBlockVectors, vectors - k);
          kGemmBlocks[static_cast<std::size_t>(rows - 1)][static_cast<std::size_t>(nv - 1)](
              u + p * s.cin * s.cout + co0, s.cout, v + p * s.cin * ld + 16 * k, ld, s.cin,
              m + p * kBlockRows * ld + 16 * k);
        }
      }
      for (std::int64_t r = 0; r < rows; ++r) {
        const std::int64_t co = co0 + r;
        const float b = bias != nullptr ? bias[co] : 0.0f;
        for (std::int64_t q = 0; q < segment_count; ++q) {
          const RowSegment& g = segments[static_cast<std::size_t>(q)];
          const std::int64_t at = (g.sample * s.cout + co) * out_plane;
          output_segment(m + r * ld + g.t, kBlockRows * ld, g.nt, s.out_h, s.out_w, 2 * g.ty, 2 * g.tx, b,
                         mask != nullptr ? mask + at : nullptr, accumulate, y + at);
        }
      }
    }
  }
}

#else

void winograd_conv(const WinogradShape&, const float*, std::int64_t, bool, const float*, const float*, float*,
                   bool, const float*, float*) {
  fail("winograd_conv",
       "this build has no AVX-512 kernels (direct_conv_supported() is false); use ConvAlgorithm::kGemm");
}

#endif

}  // namespace alphax::tensor::detail
