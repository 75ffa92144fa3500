#include "alphax/tensor/conv2d.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <string>
#include <type_traits>

#include "blas.hpp"
#include "bn_grad.hpp"
#include "check.hpp"
#include "direct_conv.hpp"
#include "winograd.hpp"

namespace alphax::tensor {
namespace {

/// The sizes of one convolution, derived once from the shapes.
struct ConvGeometry {
  std::int64_t n, cin, h, w;  // input
  std::int64_t cout, kh, kw;  // weight
  std::int64_t oh, ow;        // output
  std::int64_t stride, pad;
  bool relu = false;  // the convolution reads max(x, 0) (Conv2dParams::input_activation)
  [[nodiscard]] std::int64_t k() const { return cin * kh * kw; }  // GEMM inner dimension
  [[nodiscard]] std::int64_t p() const { return oh * ow; }        // output pixels per sample
  [[nodiscard]] bool direct() const { return kh == 1 && kw == 1 && stride == 1 && pad == 0; }
};

ConvGeometry geometry(const char* where, const Shape& input, const Shape& weight,
                      const Conv2dParams& params) {
  if (input.rank() != 4) detail::fail(where, "input must be [N, C, H, W], has shape " + input.to_string());
  if (weight.rank() != 4) {
    detail::fail(where, "weight must be [Cout, Cin, KH, KW], has shape " + weight.to_string());
  }
  if (params.stride < 1) detail::fail(where, "stride must be >= 1, got " + std::to_string(params.stride));
  if (params.padding < 0) detail::fail(where, "padding must be >= 0, got " + std::to_string(params.padding));
  if (input[1] != weight[1]) {
    detail::fail(where, "input has " + std::to_string(input[1]) + " channels, weight expects " +
                            std::to_string(weight[1]) + " (input " + input.to_string() + ", weight " +
                            weight.to_string() + ")");
  }
  ConvGeometry g{input[0],  input[1],      input[2],       input[3],
                 weight[0], weight[2],     weight[3],      0,
                 0,         params.stride, params.padding, params.input_activation == Activation::kRelu};
  const std::int64_t span_h = g.h + 2 * g.pad - g.kh;
  const std::int64_t span_w = g.w + 2 * g.pad - g.kw;
  if (span_h < 0 || span_w < 0) {
    detail::fail(where, "kernel " + std::to_string(g.kh) + "x" + std::to_string(g.kw) +
                            " is larger than the padded input " + std::to_string(g.h + 2 * g.pad) + "x" +
                            std::to_string(g.w + 2 * g.pad) + "; use more padding or a smaller kernel");
  }
  g.oh = span_h / g.stride + 1;
  g.ow = span_w / g.stride + 1;
  return g;
}

/// Output columns a GEMM should cover: wide enough for an efficient GEMM, small enough to stay in L2.
constexpr std::int64_t kTargetColumns = 1024;
/// Weight gradients are summed per block of samples (at most this many blocks, each handled by one
/// thread) and the block sums added in block order, so results are the same for every thread count.
constexpr std::int64_t kWeightGradBlocks = 16;
/// Stride-1 convolutions at least this wide use padded-width columns (see ConvPlan::wide).
constexpr std::int64_t kMinWideOutputWidth = 14;

/// How samples are lowered to GEMM: a chunk of `chunk` samples becomes one matrix of columns
/// [K, chunk * q], sample b owning columns [b*q, (b+1)*q), output row oy at b*q + oy*row_len.
///
/// Stride-1 convolutions use "wide" columns: output positions are counted in padded-width
/// coordinates (row_len = W + 2*pad, the last KW-1 of each row are discarded), so every row of the
/// column matrix is one contiguous slice of the zero-padded sample and im2col is a memcpy per row.
struct ConvPlan {
  bool wide = false;
  bool input_direct = false;   // 1x1, stride 1, no padding, one sample, no ReLU: GEMM reads x itself
  bool output_direct = false;  // one sample and row_len == OW: GEMM writes y itself
  std::int64_t row_len = 0, q = 0, chunk = 1;
  std::int64_t padded_plane = 0;  // elements per channel of the padded sample (wide)
  // Per-thread workspace slices, in elements (each a multiple of 16).
  std::size_t xpad = 0, cols = 0, ybuf = 0, dxbuf = 0;
  [[nodiscard]] std::size_t total() const { return xpad + cols + ybuf + dxbuf; }
};

ConvPlan make_plan(const ConvGeometry& g) {
  ConvPlan plan;
  plan.wide = g.stride == 1 && g.ow >= kMinWideOutputWidth;
  const bool one_by_one = g.kh == 1 && g.kw == 1 && g.stride == 1 && g.pad == 0;
  if (one_by_one) plan.wide = true;
  plan.row_len = plan.wide ? g.w + 2 * g.pad : g.ow;
  plan.q = g.oh * plan.row_len;
  // At most one chunk per weight-gradient block's share of samples, independent of the thread count.
  const std::int64_t per_block = (g.n + kWeightGradBlocks - 1) / kWeightGradBlocks;
  plan.chunk = std::clamp<std::int64_t>((kTargetColumns + plan.q / 2) / plan.q, 1,
                                        std::max<std::int64_t>(per_block, 1));
  plan.input_direct = one_by_one && plan.chunk == 1 && !g.relu;
  plan.output_direct = plan.chunk == 1 && plan.row_len == g.ow;
  const bool needs_pad = plan.wide && !(g.pad == 0 && g.kh == 1 && g.kw == 1);
  plan.padded_plane = needs_pad ? (g.h + 2 * g.pad) * plan.row_len + (g.kw - 1) : g.h * g.w;
  using detail::round_up16;
  plan.xpad =
      plan.wide && !plan.input_direct ? round_up16(static_cast<std::size_t>(g.cin * plan.padded_plane)) : 0;
  plan.cols = plan.input_direct ? 0 : round_up16(static_cast<std::size_t>(g.k() * plan.chunk * plan.q));
  plan.ybuf = plan.output_direct ? 0 : round_up16(static_cast<std::size_t>(g.cout * plan.chunk * plan.q));
  // With a fused input ReLU, dx of one sample is formed here and then masked into the caller's dx.
  plan.dxbuf = g.relu ? round_up16(static_cast<std::size_t>(g.cin * g.h * g.w)) : 0;
  return plan;
}

/// Below this many multiply-adds a convolution runs on one thread: forking costs more, and a thread
/// that the OS has descheduled would stall the others at every barrier.
constexpr std::int64_t kParallelMultiplyAdds = 1 << 20;

int thread_count(const ConvGeometry& g) {
  if (g.n * g.cout * g.k() * g.p() < kParallelMultiplyAdds) return 1;
  return static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(omp_get_max_threads(), g.n)));
}

/// dst[i] = src[i], or max(src[i], 0) with `relu`.
template <typename T>
void copy_values(const T* src, T* dst, std::int64_t n, bool relu) {
  if (relu) {
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) {
      const T v = src[i];
      dst[i] = v > T{0} ? v : T{0};
    }
  } else {
    std::copy(src, src + n, dst);
  }
}

/// dx (+)= (x > 0 ? d : 0): the gradient through a fused input ReLU.
template <typename T>
void relu_mask_into(const T* x, const T* d, T* dx, std::int64_t n, GradMode mode) {
  const bool add = mode == GradMode::kAdd;
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) {
    const T v = d[i];
    const T in = x[i];
    const T old = add ? dx[i] : T{0};
    dx[i] = old + (in > T{0} ? v : T{0});
  }
}

/// Unfolds one sample x [Cin, H, W] into col [Cin*KH*KW, OH*OW] (rows ld apart) (zero where the window is
/// padding).
template <typename T>
void im2col(const ConvGeometry& g, const T* x, T* col, std::int64_t ld) {
  for (std::int64_t c = 0; c < g.cin; ++c) {
    const T* xc = x + c * g.h * g.w;
    for (std::int64_t ky = 0; ky < g.kh; ++ky) {
      for (std::int64_t kx = 0; kx < g.kw; ++kx) {
        T* row = col + ((c * g.kh + ky) * g.kw + kx) * ld;
        // Output columns whose input column iw = ow*stride - pad + kx lies inside [0, W).
        const std::int64_t lo = std::clamp<std::int64_t>((g.pad - kx + g.stride - 1) / g.stride, 0, g.ow);
        const std::int64_t hi =
            std::clamp<std::int64_t>((g.w + g.pad - kx + g.stride - 1) / g.stride, lo, g.ow);
        for (std::int64_t oy = 0; oy < g.oh; ++oy) {
          T* out = row + oy * g.ow;
          const std::int64_t iy = oy * g.stride - g.pad + ky;
          if (iy < 0 || iy >= g.h) {
            std::fill(out, out + g.ow, T{0});
            continue;
          }
          const std::int64_t base = iy * g.w - g.pad + kx;  // x offset of output column 0
          std::fill(out, out + lo, T{0});
          if (g.stride == 1) {
            copy_values(xc + base + lo, out + lo, hi - lo, g.relu);
          } else {
            for (std::int64_t ox = lo; ox < hi; ++ox) {
              const T v = xc[base + ox * g.stride];
              out[ox] = g.relu && v < T{0} ? T{0} : v;
            }
          }
          std::fill(out + hi, out + g.ow, T{0});
        }
      }
    }
  }
}

/// Folds col [Cin*KH*KW, OH*OW] (rows ld apart) back onto dx [Cin, H, W], adding (the adjoint of im2col).
template <typename T>
void col2im_add(const ConvGeometry& g, const T* col, std::int64_t ld, T* dx) {
  for (std::int64_t c = 0; c < g.cin; ++c) {
    T* dxc = dx + c * g.h * g.w;
    for (std::int64_t ky = 0; ky < g.kh; ++ky) {
      for (std::int64_t kx = 0; kx < g.kw; ++kx) {
        const T* row = col + ((c * g.kh + ky) * g.kw + kx) * ld;
        const std::int64_t lo = std::clamp<std::int64_t>((g.pad - kx + g.stride - 1) / g.stride, 0, g.ow);
        const std::int64_t hi =
            std::clamp<std::int64_t>((g.w + g.pad - kx + g.stride - 1) / g.stride, lo, g.ow);
        for (std::int64_t oy = 0; oy < g.oh; ++oy) {
          const std::int64_t iy = oy * g.stride - g.pad + ky;
          if (iy < 0 || iy >= g.h) continue;
          const T* in = row + oy * g.ow;
          const std::int64_t base = iy * g.w - g.pad + kx;
          if (g.stride == 1) {
            T* dxrow = dxc + base + lo;
            const T* src = in + lo;
            for (std::int64_t i = 0; i < hi - lo; ++i) dxrow[i] += src[i];
          } else {
            for (std::int64_t ox = lo; ox < hi; ++ox) dxc[base + ox * g.stride] += in[ox];
          }
        }
      }
    }
  }
}

/// Copies sample x [Cin, H, W] into the zero-padded layout [Cin][padded_plane] of the wide plan.
template <typename T>
void pad_sample(const ConvGeometry& g, const ConvPlan& plan, const T* x, T* xpad) {
  const std::int64_t wp = plan.row_len;
  for (std::int64_t c = 0; c < g.cin; ++c) {
    T* dst = xpad + c * plan.padded_plane;
    const T* src = x + c * g.h * g.w;
    std::fill(dst, dst + g.pad * wp + g.pad, T{0});
    for (std::int64_t y = 0; y < g.h; ++y) {
      T* row = dst + (y + g.pad) * wp + g.pad;
      copy_values(src + y * g.w, row, g.w, g.relu);
      // right padding of this row and left padding of the next one
      std::fill(row + g.w, row + g.w + 2 * g.pad, T{0});
    }
    std::fill(dst + (g.h + g.pad) * wp + g.pad, dst + plan.padded_plane, T{0});
  }
}

/// Writes the columns of one sample: rows r = (c, ky, kx) of length q at col + r * ld.
template <typename T>
void build_columns(const ConvGeometry& g, const ConvPlan& plan, const T* x, T* xpad, T* col,
                   std::int64_t ld) {
  if (plan.wide) {
    const bool needs_pad = !(g.pad == 0 && g.kh == 1 && g.kw == 1);
    const T* src = x;
    if (needs_pad) {
      pad_sample(g, plan, x, xpad);
      src = xpad;
    }
    for (std::int64_t c = 0; c < g.cin; ++c) {
      for (std::int64_t ky = 0; ky < g.kh; ++ky) {
        for (std::int64_t kx = 0; kx < g.kw; ++kx) {
          const T* from = src + c * plan.padded_plane + ky * plan.row_len + kx;
          copy_values(from, col + ((c * g.kh + ky) * g.kw + kx) * ld, plan.q, g.relu && !needs_pad);
        }
      }
    }
    return;
  }
  im2col(g, x, col, ld);
}

/// Adds the column gradients of one sample (rows of length q at dcol + r * ld) into dx [Cin, H, W].
template <typename T>
void fold_columns(const ConvGeometry& g, const ConvPlan& plan, const T* dcol, std::int64_t ld, T* dxpad,
                  T* dx, GradMode mode) {
  if (!plan.wide) {
    if (mode == GradMode::kWrite) std::fill(dx, dx + g.cin * g.h * g.w, T{0});
    col2im_add(g, dcol, ld, dx);
    return;
  }
  std::fill(dxpad, dxpad + g.cin * plan.padded_plane, T{0});
  for (std::int64_t c = 0; c < g.cin; ++c) {
    for (std::int64_t ky = 0; ky < g.kh; ++ky) {
      for (std::int64_t kx = 0; kx < g.kw; ++kx) {
        T* to = dxpad + c * plan.padded_plane + ky * plan.row_len + kx;
        const T* from = dcol + ((c * g.kh + ky) * g.kw + kx) * ld;
#pragma omp simd
        for (std::int64_t j = 0; j < plan.q; ++j) to[j] += from[j];
      }
    }
  }
  const bool padded = !(g.pad == 0 && g.kh == 1 && g.kw == 1);
  for (std::int64_t c = 0; c < g.cin; ++c) {
    for (std::int64_t y = 0; y < g.h; ++y) {
      const T* from = dxpad + c * plan.padded_plane + (padded ? (y + g.pad) * plan.row_len + g.pad : y * g.w);
      T* to = dx + (c * g.h + y) * g.w;
      if (mode == GradMode::kAdd) {
        for (std::int64_t x = 0; x < g.w; ++x) to[x] += from[x];
      } else {
        std::copy(from, from + g.w, to);
      }
    }
  }
}

template <typename T>
void check_bias(const char* where, const char* what, const BasicTensor<T>* bias, std::int64_t cout) {
  if (bias != nullptr) detail::require_same_shape(where, what, *bias, Shape{cout});
}

}  // namespace

Shape conv2d_output_shape(const Shape& input, const Shape& weight, const Conv2dParams& params) {
  const ConvGeometry g = geometry("conv2d_output_shape", input, weight, params);
  return Shape{g.n, g.cout, g.oh, g.ow};
}

namespace {

/// True when dx is computed as a stride-1 convolution of dy with the flipped, transposed kernel
/// (the same efficient GEMM shape as the forward pass) instead of W^T * dy plus col2im.
bool dx_by_transposed_conv(const ConvGeometry& g) {
  return g.stride == 1 && g.kh == g.kw && g.kh > 1 && g.pad <= g.kh - 1 && !g.relu;
}

/// The convolution dx = conv(dy, flip(W)^T) with padding KH-1-pad.
ConvGeometry transposed_geometry(const ConvGeometry& g) {
  return {g.n, g.cout, g.oh, g.ow, g.cin, g.kh, g.kw, g.h, g.w, 1, g.kh - 1 - g.pad};
}

/// Workspace layout of one call: `threads` slices of `stride` elements, the flipped kernel, then
/// `blocks` weight-gradient block sums of `block_sums` elements (weights, then bias).
struct WorkspaceLayout {
  std::size_t stride = 0, flipped = 0, block_sums = 0;
  std::int64_t blocks = 0;
  [[nodiscard]] std::size_t total(int threads) const {
    return static_cast<std::size_t>(threads) * stride + flipped +
           static_cast<std::size_t>(blocks) * block_sums;
  }
};

WorkspaceLayout forward_layout(const ConvGeometry& g) { return {make_plan(g).total(), 0, 0, 0}; }

WorkspaceLayout backward_layout(const ConvGeometry& g) {
  const ConvPlan plan = make_plan(g);
  WorkspaceLayout layout{plan.total(), 0, 0, 0};
  if (dx_by_transposed_conv(g)) {
    layout.stride = std::max(layout.stride, make_plan(transposed_geometry(g)).total());
    layout.flipped = detail::round_up16(static_cast<std::size_t>(g.cout * g.k()));
  }
  const std::int64_t chunks = (g.n + plan.chunk - 1) / plan.chunk;
  layout.blocks = std::min(chunks, kWeightGradBlocks);
  layout.block_sums = detail::round_up16(static_cast<std::size_t>(g.cout * g.k() + g.cout));
  return layout;
}

/// y (+)= conv(x, w) + bias over all samples, `threads` threads, slices of `stride` elements of ws.
/// The plane moments (batch_norm.hpp) of the `count` samples of y from sample n0 on, while in cache.
template <typename T>
void write_moments(const ConvGeometry& g, const T* y, std::int64_t n0, std::int64_t count, double* moments) {
  if (moments == nullptr) return;
  for (std::int64_t plane = n0 * g.cout; plane < (n0 + count) * g.cout; ++plane) {
    detail::plane_moments(y + plane * g.p(), g.p(), moments + 2 * plane);
  }
}

template <typename T>
void forward_impl(const ConvGeometry& g, const ConvPlan& plan, const T* x, const T* w, const T* b, T* y,
                  bool accumulate, T* ws, std::size_t stride, int threads, double* moments = nullptr) {
  const std::int64_t k = g.k();
  const std::int64_t p = g.p();
  const std::int64_t in_size = g.cin * g.h * g.w;
  const std::int64_t chunks = (g.n + plan.chunk - 1) / plan.chunk;
#pragma omp parallel num_threads(threads)
  {
    T* xpad = ws + static_cast<std::size_t>(omp_get_thread_num()) * stride;
    T* col = xpad + plan.xpad;
    T* ybuf = col + plan.cols;
#pragma omp for schedule(static)
    for (std::int64_t chunk = 0; chunk < chunks; ++chunk) {
      const std::int64_t n0 = chunk * plan.chunk;
      const std::int64_t count = std::min(plan.chunk, g.n - n0);
      const std::int64_t ld = count * plan.q;
      const T* cols = x + n0 * in_size;
      if (!plan.input_direct) {
        for (std::int64_t s = 0; s < count; ++s) {
          build_columns(g, plan, x + (n0 + s) * in_size, xpad, col + s * plan.q, ld);
        }
        cols = col;
      }
      if (plan.output_direct) {
        T* out = y + n0 * g.cout * p;
        detail::gemm(false, false, g.cout, ld, k, T{1}, w, k, cols, ld, accumulate ? T{1} : T{0}, out, ld);
        if (b != nullptr) {
          for (std::int64_t co = 0; co < g.cout; ++co) {
            T* row = out + co * p;
            const T bias_value = b[co];
            for (std::int64_t i = 0; i < p; ++i) row[i] += bias_value;
          }
        }
        write_moments(g, y, n0, count, moments);
        continue;
      }
      detail::gemm(false, false, g.cout, ld, k, T{1}, w, k, cols, ld, T{0}, ybuf, ld);
      for (std::int64_t s = 0; s < count; ++s) {
        for (std::int64_t co = 0; co < g.cout; ++co) {
          const T bias_value = b != nullptr ? b[co] : T{0};
          const T* from = ybuf + co * ld + s * plan.q;
          T* to = y + ((n0 + s) * g.cout + co) * p;
          for (std::int64_t oy = 0; oy < g.oh; ++oy) {
            const T* src = from + oy * plan.row_len;
            T* dst = to + oy * g.ow;
            if (accumulate) {
              for (std::int64_t ox = 0; ox < g.ow; ++ox) dst[ox] += src[ox] + bias_value;
            } else {
              for (std::int64_t ox = 0; ox < g.ow; ++ox) dst[ox] = src[ox] + bias_value;
            }
          }
        }
      }
      write_moments(g, y, n0, count, moments);
    }
  }
}

// ---- direct path (float, AVX-512) ----

/// Samples whose padded input and wide output gradient together stay about this size are handed
/// to the weight-gradient kernel at once (it reads them once per register block, from L2).
constexpr std::int64_t kWeightGradGroupBytes = 384 * 1024;

bool direct_applies(const ConvGeometry& g) {
  return g.kh * g.kw <= detail::kMaxDirectTaps && g.pad <= g.kh - 1 && g.pad <= g.kw - 1 &&
         detail::direct_conv_supported();
}

/// Strides up to 4 take dx from the direct kernels (stride^2 phases, see DxPhase); larger ones by
/// GEMM and col2im.
constexpr std::int64_t kMaxDxPhases = 16;

/// dx by the direct kernels: a stride-1 convolution of dy with the flipped kernel, or for stride
/// s > 1 one per phase of the padded input.
bool direct_dx(const ConvGeometry& g) { return g.stride * g.stride <= kMaxDxPhases; }

/// kAuto's choice (bench_tensor_ops): every kernel larger than 1x1 runs direct; a 1x1 kernel has so
/// few multiply-adds per input element that GEMM on the input itself wins unless the channels-last
/// kernels apply (>= 32 output channels in whole vectors, >= 16 input channels).
bool direct_preferred(const ConvGeometry& g) {
  if (!direct_applies(g)) return false;
  return g.kh * g.kw > 1 || (g.cout % 16 == 0 && g.cout >= 32 && g.cin >= 16);
}

/// Whether a T convolution runs the direct kernels; throws when kDirect is asked for and cannot run.
template <typename T>
bool use_direct(const char* where, const ConvGeometry& g, ConvAlgorithm algorithm) {
  if (algorithm == ConvAlgorithm::kGemm) return false;
  const bool possible = std::is_same_v<T, float> && direct_applies(g);
  if (algorithm == ConvAlgorithm::kDirect && !possible) {
    detail::fail(where, "ConvAlgorithm::kDirect needs float tensors, padding < kernel size, at most " +
                            std::to_string(detail::kMaxDirectTaps) +
                            " kernel taps and a CPU with AVX-512F (conv2d_direct_available); use "
                            "ConvAlgorithm::kAuto or kGemm");
  }
  return algorithm == ConvAlgorithm::kDirect || (possible && direct_preferred(g));
}

/// dx of a stride-s convolution, phase (a, b): the gradient of the padded input's pixels
/// (s*i + a, s*j + b) is dxp(i, j) = sum over m, n of dy(i - m, j - n) * W(a + s*m, b + s*n) (taps
/// inside the kernel), a stride-1 convolution of dy (padded as in DirectPlan::trans) with that
/// flipped sub-kernel. The phases interleave back into dx; each is a quarter (for s = 2) of the
/// work, so dx costs what the forward pass costs instead of going through GEMM and col2im.
struct DxPhase {
  std::int64_t a = 0, b = 0;    // rows s*i + a, columns s*j + b of the padded input
  detail::WideConvShape shape;  // DirectPlan::trans with this phase's taps (none: no gradient)
  std::size_t weights = 0;      // offset of its flipped weights in the shared weight region
};

/// Workspace of the direct path: shared weights (transposed or flipped) and weight-gradient block
/// sums, then one slice per thread.
struct DirectPlan {
  detail::WideConvShape fwd;    // y = conv(x, W); also the weight gradient
  detail::WideConvShape trans;  // dx = conv(dy, flipped W^T) with padding K-1-pad (stride 1), or the
                                // padded dy every phase reads (stride > 1)
  std::array<DxPhase, kMaxDxPhases> phases{};
  std::int64_t phase_count = 0;
  std::int64_t row_shift = 0, col_shift = 0;  // phase row i is row i + row_shift of a phase's output
  // Channels-last kernels where the output channels fill whole vectors (no discarded wide columns).
  bool forward_cl = false, dx_cl = false;
  std::int64_t blocks = 1, group = 1;
  std::size_t weights = 0, block_sums = 0, forward_slice = 0, backward_slice = 0;
  [[nodiscard]] std::size_t forward_total(int threads) const {
    return weights + static_cast<std::size_t>(threads) * forward_slice;
  }
  [[nodiscard]] std::size_t backward_total(int threads) const {
    return weights + static_cast<std::size_t>(blocks) * block_sums +
           static_cast<std::size_t>(threads) * backward_slice;
  }
};

/// Number of taps t in [0, k) with t % s == phase.
std::int64_t phase_taps(std::int64_t k, std::int64_t s, std::int64_t phase) {
  return phase < k ? (k - phase + s - 1) / s : 0;
}

void plan_dx_phases(const ConvGeometry& g, DirectPlan& p) {
  const std::int64_t s = g.stride;
  const std::int64_t max_m = phase_taps(g.kh, s, 0);
  const std::int64_t max_n = phase_taps(g.kw, s, 0);
  // Phase rows i with s*i + a inside the input's rows: i < ceil((pad + H) / s).
  const std::int64_t rows = (g.pad + g.h + s - 1) / s;
  const std::int64_t cols = (g.pad + g.w + s - 1) / s;
  const std::int64_t pad_h = std::max(max_m - 1, rows - g.oh);
  const std::int64_t pad_w = std::max(max_n - 1, cols - g.ow);
  p.trans = detail::make_wide_conv_shape(g.cout, g.oh, g.ow, g.cin, max_m, max_n, pad_h, pad_w);
  p.row_shift = pad_h - (max_m - 1);
  p.col_shift = pad_w - (max_n - 1);
  std::size_t weights = 0;
  for (std::int64_t a = 0; a < s; ++a) {
    for (std::int64_t b = 0; b < s; ++b) {
      DxPhase& ph = p.phases[static_cast<std::size_t>(p.phase_count++)];
      ph.a = a;
      ph.b = b;
      ph.shape = p.trans;
      ph.shape.kh = phase_taps(g.kh, s, a);
      ph.shape.kw = phase_taps(g.kw, s, b);
      // Tap (m', n') of the flipped sub-kernel reads padded dy at (o + m' + max_m - M, oc + n' + max_n - N).
      for (std::int64_t m = 0; m < ph.shape.kh; ++m) {
        for (std::int64_t n = 0; n < ph.shape.kw; ++n) {
          ph.shape.tap_offset[static_cast<std::size_t>(m * ph.shape.kw + n)] =
              (m + max_m - ph.shape.kh) * p.trans.row + n + max_n - ph.shape.kw;
        }
      }
      ph.weights = weights;
      weights += static_cast<std::size_t>(g.cout * ph.shape.kh * ph.shape.kw * g.cin);
    }
  }
}

DirectPlan make_direct_plan(const ConvGeometry& g) {
  DirectPlan p;
  p.fwd = detail::make_wide_conv_shape(g.cin, g.h, g.w, g.cout, g.kh, g.kw, g.pad, g.pad, g.stride);
  if (direct_dx(g) && g.stride == 1) {
    p.trans = detail::make_wide_conv_shape(g.cout, g.oh, g.ow, g.cin, g.kh, g.kw, g.kh - 1 - g.pad,
                                           g.kw - 1 - g.pad);
  } else if (direct_dx(g)) {
    plan_dx_phases(g, p);
  }
  const std::int64_t sample = p.fwd.padded_size() + p.fwd.wide_size();
  p.group = std::clamp<std::int64_t>(kWeightGradGroupBytes / (sample * 4), 1, 16);
  p.blocks = std::min(g.n, kWeightGradBlocks);
  // Channels-last needs whole vectors of output channels; it wins once there are two of them and
  // enough input channels to amortise each pixel's broadcasts (bench_tensor_ops, ConvAlgorithm::kDirect).
  p.forward_cl = g.cout % 16 == 0 && g.cout >= 32 && g.cin >= 16;
  p.dx_cl = direct_dx(g) && g.cin % 16 == 0 && g.cin >= 32 && g.cout >= 16;
  using detail::round_up16;
  p.weights = round_up16(static_cast<std::size_t>(g.cout * g.k()));
  p.block_sums = p.weights;
  p.forward_slice = static_cast<std::size_t>(sample);
  // ... plus one sample's output gradient formed from a batch norm's map (BatchNormGrad).
  p.backward_slice =
      static_cast<std::size_t>(p.group * sample + p.trans.padded_size() + p.trans.wide_size()) +
      round_up16(static_cast<std::size_t>(g.cout * g.oh * g.ow));
  return p;
}

/// wt[k][co] = w[co][k]: the layout the forward kernel broadcasts from.
void transpose_weight(const ConvGeometry& g, const float* w, float* wt) {
  const std::int64_t k = g.k();
  for (std::int64_t co = 0; co < g.cout; ++co) {
    for (std::int64_t r = 0; r < k; ++r) wt[r * g.cout + co] = w[co * k + r];
  }
}

/// The kernel of dx = conv(dy, W') in the forward kernel's layout: W'[ci][co][ky][kx] =
/// W[co][ci][KH-1-ky][KW-1-kx], stored transposed as [(co, ky, kx)][ci].
void flip_weight(const ConvGeometry& g, const float* w, float* wt) {
  const std::int64_t taps = g.kh * g.kw;
  for (std::int64_t co = 0; co < g.cout; ++co) {
    for (std::int64_t ci = 0; ci < g.cin; ++ci) {
      const float* from = w + (co * g.cin + ci) * taps;
      for (std::int64_t t = 0; t < taps; ++t) wt[(co * taps + t) * g.cin + ci] = from[taps - 1 - t];
    }
  }
}

/// Each phase's flipped sub-kernel in the forward kernel's layout [(co, m', n')][ci]:
/// W[co][ci][a + s*(M-1-m')][b + s*(N-1-n')].
void flip_phase_weights(const ConvGeometry& g, const DirectPlan& p, const float* w, float* wt) {
  for (std::int64_t q = 0; q < p.phase_count; ++q) {
    const DxPhase& ph = p.phases[static_cast<std::size_t>(q)];
    const std::int64_t mm = ph.shape.kh;
    const std::int64_t nn = ph.shape.kw;
    float* out = wt + ph.weights;
    for (std::int64_t co = 0; co < g.cout; ++co) {
      for (std::int64_t m = 0; m < mm; ++m) {
        for (std::int64_t n = 0; n < nn; ++n) {
          const std::int64_t ky = ph.a + g.stride * (mm - 1 - m);
          const std::int64_t kx = ph.b + g.stride * (nn - 1 - n);
          for (std::int64_t ci = 0; ci < g.cin; ++ci) {
            out[((co * mm + m) * nn + n) * g.cin + ci] = w[((co * g.cin + ci) * g.kh + ky) * g.kw + kx];
          }
        }
      }
    }
  }
}

/// scatter_phase with the case (no taps, fused ReLU, accumulate) fixed at compile time.
template <bool kEmpty, bool kRelu, bool kAdd>
void scatter_phase_rows(const ConvGeometry& g, const DirectPlan& p, const DxPhase& ph, const float* out,
                        bool cl, const float* x_n, float* dx_n) {
  const std::int64_t s = g.stride;
  const std::int64_t i0 = std::max<std::int64_t>(0, (g.pad - ph.a + s - 1) / s);
  const std::int64_t j0 = std::max<std::int64_t>(0, (g.pad - ph.b + s - 1) / s);
  const std::int64_t channel_stride = cl ? 1 : p.trans.qv;
  const std::int64_t row_stride = cl ? p.trans.out_w * g.cin : p.trans.row;
  const std::int64_t col_stride = cl ? g.cin : 1;
  const std::int64_t j1 = (g.w + g.pad - ph.b + s - 1) / s;  // columns j with s*j + b - pad < W
  for (std::int64_t ci = 0; ci < g.cin; ++ci) {
    for (std::int64_t i = i0; s * i + ph.a - g.pad < g.h; ++i) {
      const std::int64_t y = s * i + ph.a - g.pad;
      const float* src =
          out + ci * channel_stride + (i + p.row_shift) * row_stride + p.col_shift * col_stride;
      const std::int64_t at = (ci * g.h + y) * g.w + ph.b - g.pad;
      // Both operands loaded before the select: a branch on the ReLU mask mispredicts half the time.
      for (std::int64_t j = j0; j < j1; ++j) {
        float v = 0.0f;
        if constexpr (!kEmpty) v = src[j * col_stride];
        if constexpr (kRelu) {
          // A select here still compiles to a branch (the strided store keeps the loop scalar): mask
          // the bits instead.
          const std::uint32_t keep = 0u - static_cast<std::uint32_t>(x_n[at + s * j] > 0.0f);
          v = std::bit_cast<float>(std::bit_cast<std::uint32_t>(v) & keep);
        }
        if constexpr (kAdd) {
          dx_n[at + s * j] += v;
        } else {
          dx_n[at + s * j] = v;
        }
      }
    }
  }
}

template <bool kEmpty, bool kRelu>
void scatter_phase_mode(const ConvGeometry& g, const DirectPlan& p, const DxPhase& ph, const float* out,
                        bool cl, const float* x_n, float* dx_n, GradMode mode) {
  if (mode == GradMode::kAdd) {
    scatter_phase_rows<kEmpty, kRelu, true>(g, p, ph, out, cl, x_n, dx_n);
  } else {
    scatter_phase_rows<kEmpty, kRelu, false>(g, p, ph, out, cl, x_n, dx_n);
  }
}

/// Writes (or adds) phase `ph`'s output into one sample's dx [Cin, H, W], masked by x > 0 when the
/// input ReLU is fused; out is the phase output, wide [cin][qv] or channels-last [pixel][cin].
void scatter_phase(const ConvGeometry& g, const DirectPlan& p, const DxPhase& ph, const float* out, bool cl,
                   const float* x_n, float* dx_n, GradMode mode) {
  const bool empty = ph.shape.kh * ph.shape.kw == 0;
  if (empty) {
    // No tap reaches this phase: its dx is zero (kWrite) or unchanged (kAdd).
    if (mode == GradMode::kWrite) scatter_phase_rows<true, false, false>(g, p, ph, out, cl, x_n, dx_n);
  } else if (g.relu) {
    scatter_phase_mode<false, true>(g, p, ph, out, cl, x_n, dx_n, mode);
  } else {
    scatter_phase_mode<false, false>(g, p, ph, out, cl, x_n, dx_n, mode);
  }
}

void direct_forward(const ConvGeometry& g, const DirectPlan& p, const float* x, const float* w,
                    const float* bias, float* y, float* ws, int threads, double* moments) {
  transpose_weight(g, w, ws);
  const std::int64_t in_size = g.cin * g.h * g.w;
  const std::int64_t out_size = g.cout * g.oh * g.ow;
#pragma omp parallel num_threads(threads)
  {
    float* xpad = ws + p.weights + static_cast<std::size_t>(omp_get_thread_num()) * p.forward_slice;
    float* y_wide = xpad + p.fwd.padded_size();
#pragma omp for schedule(static)
    for (std::int64_t n = 0; n < g.n; ++n) {
      detail::pad_input(p.fwd, x + n * in_size, xpad, g.relu);
      if (p.forward_cl) {
        detail::direct_conv_forward_cl(p.fwd, xpad, ws, y_wide);
        detail::narrow_channels_last(p.fwd, y_wide, bias, y + n * out_size, false);
      } else {
        detail::direct_conv_forward(p.fwd, xpad, ws, y_wide);
        detail::narrow_output(p.fwd, y_wide, bias, y + n * out_size, false);
      }
      write_moments(g, y, n, 1, moments);
    }
  }
}

/// A batch norm's backward map (BatchNormGrad) as raw pointers; map == nullptr: dy is the output gradient.
struct BnGradView {
  const float* map = nullptr;     // [cout][4]
  const float* input = nullptr;   // the batch norm's input (this convolution's output)
  const float* output = nullptr;  // its output when it fused a ReLU, else null
};

void direct_backward(const ConvGeometry& g, const DirectPlan& p, const float* x, const float* w,
                     const float* dy, float* dx, float* dweight, float* dbias, GradMode mode, float* ws,
                     int threads, const BnGradView& bn = {}) {
  if (dx != nullptr) {
    if (g.stride == 1) {
      flip_weight(g, w, ws);
    } else {
      flip_phase_weights(g, p, w, ws);
    }
  }
  const std::int64_t in_size = g.cin * g.h * g.w;
  const std::int64_t out_size = g.cout * g.oh * g.ow;
  const std::int64_t weights = g.cout * g.k();
  float* sums = ws + p.weights;
  float* slices = sums + static_cast<std::size_t>(p.blocks) * p.block_sums;
#pragma omp parallel num_threads(threads)
  {
    float* xpad = slices + static_cast<std::size_t>(omp_get_thread_num()) * p.backward_slice;
    float* dy_wide = xpad + p.group * p.fwd.padded_size();
    float* dy_pad = dy_wide + p.group * p.fwd.wide_size();
    float* dx_wide = dy_pad + p.trans.padded_size();
    float* dy_bn = dx_wide + p.trans.wide_size();
#pragma omp for schedule(static)
    for (std::int64_t b = 0; b < p.blocks; ++b) {
      float* sum = sums + static_cast<std::size_t>(b) * p.block_sums;
      const std::int64_t begin = b * g.n / p.blocks;
      const std::int64_t end = (b + 1) * g.n / p.blocks;
      for (std::int64_t n0 = begin; n0 < end; n0 += p.group) {
        const std::int64_t count = std::min(p.group, end - n0);
        for (std::int64_t s = 0; s < count; ++s) {
          const std::int64_t n = n0 + s;
          const float* dy_n = dy + n * out_size;
          if (bn.map != nullptr) {
            // This sample's output gradient from the batch norm's map, formed here while in cache.
            const std::int64_t plane = g.oh * g.ow;
            for (std::int64_t co = 0; co < g.cout; ++co) {
              const std::int64_t at = n * out_size + co * plane;
              detail::bn_grad_plane(bn.input + at, bn.output != nullptr ? bn.output + at : nullptr, dy + at,
                                    bn.map + 4 * co, dy_bn + co * plane, plane, false);
            }
            dy_n = dy_bn;
          }
          detail::pad_input(p.fwd, x + n * in_size, xpad + s * p.fwd.padded_size(), g.relu);
          if (p.forward_cl) {
            detail::to_channels_last(p.fwd, dy_n, dy_wide + s * p.fwd.wide_size());
          } else {
            detail::widen_output(p.fwd, dy_n, dy_wide + s * p.fwd.wide_size());
          }
          if (dx == nullptr) continue;
          detail::pad_input(p.trans, dy_n, dy_pad, false);
          const float* mask = g.relu ? x + n * in_size : nullptr;  // gradient through the fused ReLU
          if (g.stride > 1) {
            for (std::int64_t q = 0; q < p.phase_count; ++q) {
              const DxPhase& ph = p.phases[static_cast<std::size_t>(q)];
              if (ph.shape.kh * ph.shape.kw > 0) {
                if (p.dx_cl) {
                  detail::direct_conv_forward_cl(ph.shape, dy_pad, ws + ph.weights, dx_wide);
                } else {
                  detail::direct_conv_forward(ph.shape, dy_pad, ws + ph.weights, dx_wide);
                }
              }
              scatter_phase(g, p, ph, dx_wide, p.dx_cl, x + n * in_size, dx + n * in_size, mode);
            }
          } else if (p.dx_cl) {
            detail::direct_conv_forward_cl(p.trans, dy_pad, ws, dx_wide);
            detail::narrow_channels_last(p.trans, dx_wide, nullptr, dx + n * in_size, mode == GradMode::kAdd,
                                         mask);
          } else {
            detail::direct_conv_forward(p.trans, dy_pad, ws, dx_wide);
            detail::narrow_output(p.trans, dx_wide, nullptr, dx + n * in_size, mode == GradMode::kAdd, mask);
          }
        }
        if (p.forward_cl) {
          detail::direct_conv_weight_grad_cl(p.fwd, count, xpad, p.fwd.padded_size(), dy_wide,
                                             p.fwd.wide_size(), n0 > begin, sum);
        } else {
          detail::direct_conv_weight_grad(p.fwd, count, xpad, p.fwd.padded_size(), dy_wide, p.fwd.wide_size(),
                                          n0 > begin, sum);
        }
      }
    }
    // dweight = the block sums added in block order, a chunk of elements per iteration.
    constexpr std::int64_t kChunk = 256;
#pragma omp for schedule(static)
    for (std::int64_t c0 = 0; c0 < weights; c0 += kChunk) {
      const std::int64_t len = std::min(kChunk, weights - c0);
      float total[kChunk];
      const float* first = sums + c0;
      for (std::int64_t i = 0; i < len; ++i) total[i] = first[i];
      for (std::int64_t b = 1; b < p.blocks; ++b) {
        const float* part = sums + static_cast<std::size_t>(b) * p.block_sums + c0;
#pragma omp simd
        for (std::int64_t i = 0; i < len; ++i) total[i] += part[i];
      }
      // Channels-last block sums are [K][cout]; dweight and the wide ones are [cout][K].
      for (std::int64_t i = 0; i < len; ++i) {
        const std::int64_t at = c0 + i;
        const std::int64_t to = p.forward_cl ? (at % g.cout) * g.k() + at / g.cout : at;
        detail::store(dweight[to], total[i], mode);
      }
    }
    if (dbias != nullptr) {
#pragma omp for schedule(static)
      for (std::int64_t co = 0; co < g.cout; ++co) {
        float total = 0.0f;
        for (std::int64_t n = 0; n < g.n; ++n) {
          const float* row = dy + (n * g.cout + co) * g.oh * g.ow;
          float s = 0.0f;
#pragma omp simd reduction(+ : s)
          for (std::int64_t i = 0; i < g.oh * g.ow; ++i) s += row[i];
          total += s;
        }
        detail::store(dbias[co], total, mode);
      }
    }
  }
}

// ---- Winograd path (float, AVX-512, stride-1 3x3) ----

bool winograd_applies(const ConvGeometry& g) {
  return g.kh == 3 && g.kw == 3 && g.stride == 1 && g.pad <= 2 &&
         direct_applies(g);  // direct_applies checks the CPU
}

/// Whether a T convolution runs Winograd (forward pass and dx); throws when kWinograd is asked for and
/// cannot run. kAuto never picks it. Measured (2 threads, batch 128, bench_tensor_ops minimum of 3):
/// the forward pass alone is faster at 28x28 and 14x14 (16->16: 2.11 against 2.48 ms, 32->32: 2.03
/// against 2.24 ms), equal at 7x7 (2.30 against 2.32 ms: the 2x2 tiles waste 23 % of the GEMM), and
/// the whole backward with Winograd dx is no faster (5.64 against 5.47 ms at 16->16, 28x28), because
/// the direct backward reads each padded input and output gradient once for dx and dW together.
/// Inside the NB201 training step the forward gain vanished (alphax_train_throughput, old and new
/// binaries alternating: 743/723/733/728 against 747/713/707/722 img/s): the input and output
/// transforms read and write the activations from memory and cost as much as the 16 GEMMs they save
/// multiplications for.
template <typename T>
bool use_winograd(const char* where, const ConvGeometry& g, ConvAlgorithm algorithm) {
  if (algorithm != ConvAlgorithm::kWinograd) return false;
  if (!std::is_same_v<T, float> || !winograd_applies(g)) {
    detail::fail(
        where,
        "ConvAlgorithm::kWinograd needs float tensors, a 3x3 kernel, stride 1, padding <= 2 and a CPU "
        "with AVX-512F (conv2d_winograd_available); use ConvAlgorithm::kAuto, kDirect or kGemm");
  }
  return true;
}

/// The Winograd shapes of y = conv(x, W) and of dx = conv(dy, flipped W^T) (padding 2 - pad).
detail::WinogradShape winograd_forward_shape(const ConvGeometry& g) {
  return detail::make_winograd_shape(g.cin, g.h, g.w, g.cout, g.pad);
}
detail::WinogradShape winograd_dx_shape(const ConvGeometry& g) {
  return detail::make_winograd_shape(g.cout, g.oh, g.ow, g.cin, 2 - g.pad);
}

std::size_t winograd_total(const detail::WinogradShape& s, int threads) {
  return s.weight_size() + static_cast<std::size_t>(threads) * s.scratch_size();
}

/// out = conv over all samples, groups of s.group samples in parallel (the transformed kernel u
/// first in ws, then one scratch slice per thread); with `moments`, each group's plane moments while
/// its output is in cache.
void winograd_run(const ConvGeometry& g, const detail::WinogradShape& s, const float* in, bool relu,
                  const float* bias, float* out, bool accumulate, const float* mask, float* ws, int threads,
                  double* moments) {
  const float* u = ws;
  const std::int64_t in_size = s.cin * s.in_h * s.in_w;
  const std::int64_t out_size = s.cout * s.out_h * s.out_w;
  const std::int64_t groups = (g.n + s.group - 1) / s.group;
#pragma omp parallel num_threads(threads)
  {
    float* scratch = ws + s.weight_size() + static_cast<std::size_t>(omp_get_thread_num()) * s.scratch_size();
#pragma omp for schedule(static)
    for (std::int64_t q = 0; q < groups; ++q) {
      const std::int64_t n0 = q * s.group;
      const std::int64_t count = std::min(s.group, g.n - n0);
      detail::winograd_conv(s, in + n0 * in_size, count, relu, u, bias, out + n0 * out_size, accumulate,
                            mask != nullptr ? mask + n0 * out_size : nullptr, scratch);
      write_moments(g, out, n0, count, moments);
    }
  }
}

void winograd_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* y,
                      Workspace<float>& workspace, int threads, double* moments) {
  const detail::WinogradShape s = winograd_forward_shape(g);
  float* ws = workspace.reserve(winograd_total(s, threads));
  detail::winograd_weights(s, w, false, ws);
  winograd_run(g, s, x, g.relu, bias, y, false, nullptr, ws, threads, moments);
}

/// dx (+)= conv(dy, flipped W^T), masked by x > 0 when the input ReLU is fused.
void winograd_dx(const ConvGeometry& g, const float* x, const float* w, const float* dy, float* dx,
                 GradMode mode, Workspace<float>& workspace, int threads) {
  const detail::WinogradShape s = winograd_dx_shape(g);
  float* ws = workspace.reserve(winograd_total(s, threads));
  detail::winograd_weights(s, w, true, ws);
  winograd_run(g, s, dy, false, nullptr, dx, mode == GradMode::kAdd, g.relu ? x : nullptr, ws, threads,
               nullptr);
}

}  // namespace

std::size_t conv2d_workspace_size(const Shape& input, const Shape& weight, const Conv2dParams& params,
                                  int threads) {
  const ConvGeometry g = geometry("conv2d_workspace_size", input, weight, params);
  const int used = static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(threads, g.n)));
  std::size_t size = std::max(forward_layout(g).total(used), backward_layout(g).total(used));
  if (params.algorithm != ConvAlgorithm::kGemm && direct_applies(g)) {
    const DirectPlan p = make_direct_plan(g);
    size = std::max({size, p.forward_total(used), p.backward_total(used)});
  }
  if (params.algorithm == ConvAlgorithm::kWinograd && winograd_applies(g)) {
    size = std::max(
        {size, winograd_total(winograd_forward_shape(g), used), winograd_total(winograd_dx_shape(g), used)});
  }
  return size;
}

bool conv2d_winograd_available(const Shape& input, const Shape& weight, const Conv2dParams& params) {
  return winograd_applies(geometry("conv2d_winograd_available", input, weight, params));
}

bool conv2d_direct_available(const Shape& input, const Shape& weight, const Conv2dParams& params) {
  return direct_applies(geometry("conv2d_direct_available", input, weight, params));
}

std::int64_t conv2d_forward_flops(const Shape& input, const Shape& weight, const Conv2dParams& params) {
  const ConvGeometry g = geometry("conv2d_forward_flops", input, weight, params);
  return 2 * g.n * g.cout * g.k() * g.p();
}

namespace {

/// The im2col + GEMM backward pass. dweight == nullptr computes dx only (dbias must then be null).
template <typename T>
void gemm_backward(const ConvGeometry& g, const T* x, const T* weight, const T* dy, T* dx, T* dweight,
                   T* dbias, GradMode mode, Workspace<T>& workspace, int threads) {
  detail::ensure_blas_single_threaded();
  const ConvPlan plan = make_plan(g);
  const WorkspaceLayout layout = backward_layout(g);
  T* ws = workspace.reserve(layout.total(threads));
  T* flipped = ws + static_cast<std::size_t>(threads) * layout.stride;
  T* sums = flipped + layout.flipped;
  const bool transposed_dx = dx != nullptr && dx_by_transposed_conv(g);
  const bool folded_dx = dx != nullptr && !transposed_dx;
  const std::int64_t k = g.k();
  const std::int64_t p = g.p();
  const std::int64_t in_size = g.cin * g.h * g.w;
  const std::int64_t chunks = (g.n + plan.chunk - 1) / plan.chunk;
#pragma omp parallel num_threads(threads)
  {
    T* xpad = ws + static_cast<std::size_t>(omp_get_thread_num()) * layout.stride;
    T* col = xpad + plan.xpad;
    T* ybuf = col + plan.cols;
#pragma omp for schedule(static)
    for (std::int64_t block = 0; block < layout.blocks; ++block) {
      T* dw_sum = sums + static_cast<std::size_t>(block) * layout.block_sums;
      T* db_sum = dw_sum + g.cout * k;
      std::fill(dw_sum, dw_sum + g.cout * k + g.cout, T{0});
      for (std::int64_t chunk = block * chunks / layout.blocks; chunk < (block + 1) * chunks / layout.blocks;
           ++chunk) {
        const std::int64_t n0 = chunk * plan.chunk;
        const std::int64_t count = std::min(plan.chunk, g.n - n0);
        const std::int64_t ld = count * plan.q;
        // The output gradient as a [Cout, count * q] matrix (zero in the discarded wide columns).
        const T* dyt = dy + n0 * g.cout * p;
        if (!plan.output_direct) {
          for (std::int64_t s = 0; s < count; ++s) {
            for (std::int64_t co = 0; co < g.cout; ++co) {
              const T* from = dy + ((n0 + s) * g.cout + co) * p;
              T* to = ybuf + co * ld + s * plan.q;
              for (std::int64_t oy = 0; oy < g.oh; ++oy) {
                T* dst = to + oy * plan.row_len;
                std::copy(from + oy * g.ow, from + (oy + 1) * g.ow, dst);
                std::fill(dst + g.ow, dst + plan.row_len, T{0});
              }
            }
          }
          dyt = ybuf;
        }
        if (dbias != nullptr) {
          for (std::int64_t s = 0; s < count; ++s) {
            for (std::int64_t co = 0; co < g.cout; ++co) {
              const T* row = dy + ((n0 + s) * g.cout + co) * p;
              T sum{0};
#pragma omp simd reduction(+ : sum)
              for (std::int64_t i = 0; i < p; ++i) sum += row[i];
              db_sum[co] += sum;
            }
          }
        }
        if (dweight != nullptr) {
          const T* cols = x + n0 * in_size;
          if (!plan.input_direct) {
            for (std::int64_t s = 0; s < count; ++s) {
              build_columns(g, plan, x + (n0 + s) * in_size, xpad, col + s * plan.q, ld);
            }
            cols = col;
          }
          // dW += dy [Cout, count*q] * cols^T [count*q, K]
          detail::gemm(false, true, g.cout, k, ld, T{1}, dyt, ld, cols, ld, T{1}, dw_sum, k);
        }
        if (!folded_dx) continue;
        if (plan.input_direct) {
          // dx_n = W^T [Cin, Cout] * dy_n [Cout, P]
          detail::gemm(true, false, k, p, g.cout, T{1}, weight, k, dyt, p,
                       mode == GradMode::kAdd ? T{1} : T{0}, dx + n0 * in_size, p);
          continue;
        }
        // dcols [K, count*q] = W^T [K, Cout] * dy [Cout, count*q], then fold back onto each sample.
        detail::gemm(true, false, k, ld, g.cout, T{1}, weight, k, dyt, ld, T{0}, col, ld);
        for (std::int64_t s = 0; s < count; ++s) {
          T* dx_n = dx + (n0 + s) * in_size;
          if (g.relu) {
            T* dxbuf = ybuf + plan.ybuf;
            fold_columns(g, plan, col + s * plan.q, ld, xpad, dxbuf, GradMode::kWrite);
            relu_mask_into(x + (n0 + s) * in_size, dxbuf, dx_n, in_size, mode);
          } else {
            fold_columns(g, plan, col + s * plan.q, ld, xpad, dx_n, mode);
          }
        }
      }
    }
    // dweight and dbias = the block sums added in block order.
    if (dweight != nullptr) {
#pragma omp for schedule(static)
      for (std::int64_t i = 0; i < g.cout * k + (dbias != nullptr ? g.cout : 0); ++i) {
        T sum{0};
        for (std::int64_t b = 0; b < layout.blocks; ++b)
          sum += sums[static_cast<std::size_t>(b) * layout.block_sums + i];
        detail::store(i < g.cout * k ? dweight[i] : dbias[i - g.cout * k], sum, mode);
      }
    }
  }
  if (transposed_dx) {
    // dx = conv(dy, W'), W'[ci][co][ky][kx] = W[co][ci][KH-1-ky][KW-1-kx], padding KH-1-pad.
    const std::int64_t taps = g.kh * g.kw;
    for (std::int64_t co = 0; co < g.cout; ++co) {
      for (std::int64_t ci = 0; ci < g.cin; ++ci) {
        const T* from = weight + (co * g.cin + ci) * taps;
        T* to = flipped + (ci * g.cout + co) * taps;
        for (std::int64_t t = 0; t < taps; ++t) to[t] = from[taps - 1 - t];
      }
    }
    const ConvGeometry gt = transposed_geometry(g);
    forward_impl(gt, make_plan(gt), dy, static_cast<const T*>(flipped), static_cast<const T*>(nullptr), dx,
                 mode == GradMode::kAdd, ws, layout.stride, threads);
  }
}

}  // namespace

template <Scalar T>
void conv2d_forward(const BasicTensor<T>& x, const BasicTensor<T>& weight,
                    const std::type_identity_t<BasicTensor<T>>* bias, BasicTensor<T>& y,
                    const Conv2dParams& params, Workspace<T>& workspace, TensorD* moments) {
  constexpr const char* kWhere = "conv2d_forward";
  detail::require_rank(kWhere, "input", x, 4);
  detail::require_rank(kWhere, "weight", weight, 4);
  const ConvGeometry g = geometry(kWhere, x.shape(), weight.shape(), params);
  check_bias(kWhere, "bias", bias, g.cout);
  detail::require_same_shape(kWhere, "output", y, Shape{g.n, g.cout, g.oh, g.ow});
  if (moments != nullptr) detail::require_same_shape(kWhere, "moments", *moments, Shape{g.n, g.cout, 2});
  double* moments_out = moments != nullptr ? moments->data() : nullptr;
  const int threads = thread_count(g);
  if constexpr (std::is_same_v<T, float>) {
    if (use_winograd<T>(kWhere, g, params.algorithm)) {
      winograd_forward(g, x.data(), weight.data(), bias != nullptr ? bias->data() : nullptr, y.data(),
                       workspace, threads, moments_out);
      return;
    }
    if (use_direct<T>(kWhere, g, params.algorithm)) {
      const DirectPlan p = make_direct_plan(g);
      direct_forward(g, p, x.data(), weight.data(), bias != nullptr ? bias->data() : nullptr, y.data(),
                     workspace.reserve(p.forward_total(threads)), threads, moments_out);
      return;
    }
  } else {
    (void)use_winograd<T>(kWhere, g, params.algorithm);
    (void)use_direct<T>(kWhere, g, params.algorithm);
  }
  detail::ensure_blas_single_threaded();
  const WorkspaceLayout layout = forward_layout(g);
  T* ws = workspace.reserve(layout.total(threads));
  forward_impl(g, make_plan(g), x.data(), weight.data(), bias != nullptr ? bias->data() : nullptr, y.data(),
               false, ws, layout.stride, threads, moments_out);
}

template <Scalar T>
void conv2d_backward(const BasicTensor<T>& x, const BasicTensor<T>& weight, const BasicTensor<T>& dy,
                     std::type_identity_t<BasicTensor<T>>* dx, BasicTensor<T>& dweight,
                     std::type_identity_t<BasicTensor<T>>* dbias, const Conv2dParams& params,
                     Workspace<T>& workspace, GradMode mode,
                     const std::type_identity_t<BatchNormGrad<T>>* bn) {
  constexpr const char* kWhere = "conv2d_backward";
  detail::require_rank(kWhere, "input", x, 4);
  detail::require_rank(kWhere, "weight", weight, 4);
  const ConvGeometry g = geometry(kWhere, x.shape(), weight.shape(), params);
  const Shape out{g.n, g.cout, g.oh, g.ow};
  detail::require_same_shape(kWhere, "output gradient", dy, out);
  detail::require_same_shape(kWhere, "weight gradient", dweight, weight.shape());
  if (dx != nullptr) detail::require_same_shape(kWhere, "input gradient", *dx, x.shape());
  check_bias(kWhere, "bias gradient", dbias, g.cout);
  const int threads = thread_count(g);
  BnGradView view;
  if (bn != nullptr) {
    if (bn->map == nullptr || bn->input == nullptr) {
      detail::fail(kWhere,
                   "BatchNormGrad needs its map and input; pass nullptr instead for a plain output gradient");
    }
    detail::require_same_shape(kWhere, "batch-norm map", *bn->map, Shape{g.cout, 4});
    detail::require_same_shape(kWhere, "batch-norm input", *bn->input, out);
    if (bn->output != nullptr) detail::require_same_shape(kWhere, "batch-norm output", *bn->output, out);
    if (dbias != nullptr) {
      detail::fail(kWhere,
                   "a bias gradient with BatchNormGrad is not supported (a bias before batch norm has no "
                   "effect); pass dbias = nullptr");
    }
    bool fused = false;
    if constexpr (std::is_same_v<T, float>) {
      fused = params.algorithm != ConvAlgorithm::kWinograd && use_direct<T>(kWhere, g, params.algorithm) &&
              (dx == nullptr || direct_dx(g));
      view = {bn->map->data(), bn->input->data(), bn->output != nullptr ? bn->output->data() : nullptr};
    }
    if (!fused) {
      // The other paths take the output gradient as a tensor: form it once.
      BasicTensor<T> dc(out);
#pragma omp parallel num_threads(threads)
      detail::bn_grad_planes(bn->input->data(), bn->output != nullptr ? bn->output->data() : nullptr,
                             dy.data(), bn->map->data(), dc.data(), g.n * g.cout, g.cout, g.oh * g.ow, false);
      conv2d_backward(x, weight, dc, dx, dweight, dbias, params, workspace, mode);
      return;
    }
  }
  if constexpr (std::is_same_v<T, float>) {
    if (use_winograd<T>(kWhere, g, params.algorithm)) {
      // The weight gradient by the direct kernels, then dx by Winograd.
      const DirectPlan p = make_direct_plan(g);
      direct_backward(g, p, x.data(), weight.data(), dy.data(), nullptr, dweight.data(),
                      dbias != nullptr ? dbias->data() : nullptr, mode,
                      workspace.reserve(p.backward_total(threads)), threads);
      if (dx != nullptr)
        winograd_dx(g, x.data(), weight.data(), dy.data(), dx->data(), mode, workspace, threads);
      return;
    }
    if (use_direct<T>(kWhere, g, params.algorithm)) {
      const DirectPlan p = make_direct_plan(g);
      const bool dx_here = dx != nullptr && direct_dx(g);
      direct_backward(g, p, x.data(), weight.data(), dy.data(), dx_here ? dx->data() : nullptr,
                      dweight.data(), dbias != nullptr ? dbias->data() : nullptr, mode,
                      workspace.reserve(p.backward_total(threads)), threads, view);
      if (dx != nullptr && !dx_here) {
        gemm_backward(g, x.data(), weight.data(), dy.data(), dx->data(), static_cast<float*>(nullptr),
                      static_cast<float*>(nullptr), mode, workspace, threads);
      }
      return;
    }
  } else {
    (void)use_winograd<T>(kWhere, g, params.algorithm);
    (void)use_direct<T>(kWhere, g, params.algorithm);
  }
  gemm_backward(g, x.data(), weight.data(), dy.data(), dx != nullptr ? dx->data() : nullptr, dweight.data(),
                dbias != nullptr ? dbias->data() : nullptr, mode, workspace, threads);
}

#define ALPHAX_INSTANTIATE_CONV2D(T)                                                                       \
  template void conv2d_forward<T>(const BasicTensor<T>&, const BasicTensor<T>&, const BasicTensor<T>*,     \
                                  BasicTensor<T>&, const Conv2dParams&, Workspace<T>&, TensorD*);          \
  template void conv2d_backward<T>(const BasicTensor<T>&, const BasicTensor<T>&, const BasicTensor<T>&,    \
                                   BasicTensor<T>*, BasicTensor<T>&, BasicTensor<T>*, const Conv2dParams&, \
                                   Workspace<T>&, GradMode, const BatchNormGrad<T>*);
ALPHAX_INSTANTIATE_CONV2D(float)
ALPHAX_INSTANTIATE_CONV2D(double)
#undef ALPHAX_INSTANTIATE_CONV2D

}  // namespace alphax::tensor
