#include "alphax/tensor/pooling.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <string>
#include <type_traits>

#include "check.hpp"
#include "pooling_kernels.hpp"

namespace alphax::tensor {
namespace {

/// Output rows up to this width, with windows up to kMaxRowKernelWindow wide, take the
/// row-at-a-time kernels below (stack buffers, vectorised inner loops); others the per-window loops.
constexpr std::int64_t kMaxRowKernelWidth = 1024;
constexpr std::int64_t kMaxRowKernelWindow = 16;

/// Range [lo, hi) of output columns whose input column ox*stride - pad + kx lies inside [0, W).
struct ColumnRange {
  std::int64_t lo = 0, hi = 0;
};

struct PoolGeometry {
  std::int64_t planes, h, w, oh, ow, kernel, stride, pad;
  std::array<ColumnRange, kMaxRowKernelWindow> taps{};  // per kx, when row_kernels
  [[nodiscard]] bool row_kernels() const { return ow <= kMaxRowKernelWidth && kernel <= kMaxRowKernelWindow; }
};

PoolGeometry geometry(const char* where, const Shape& input, const Pool2dParams& p) {
  if (input.rank() != 4) detail::fail(where, "input must be [N, C, H, W], has shape " + input.to_string());
  if (p.kernel < 1) detail::fail(where, "kernel must be >= 1, got " + std::to_string(p.kernel));
  if (p.stride < 1) detail::fail(where, "stride must be >= 1, got " + std::to_string(p.stride));
  if (p.padding < 0 || p.padding >= p.kernel) {
    detail::fail(where, "padding must lie in [0, kernel) = [0, " + std::to_string(p.kernel) + "), got " +
                            std::to_string(p.padding));
  }
  const std::int64_t span_h = input[2] + 2 * p.padding - p.kernel;
  const std::int64_t span_w = input[3] + 2 * p.padding - p.kernel;
  if (span_h < 0 || span_w < 0) {
    detail::fail(where, "window " + std::to_string(p.kernel) + " is larger than the padded input of shape " +
                            input.to_string() + " (padding " + std::to_string(p.padding) + ")");
  }
  PoolGeometry g{input[0] * input[1],   input[2], input[3], span_h / p.stride + 1,
                 span_w / p.stride + 1, p.kernel, p.stride, p.padding};
  if (g.row_kernels()) {
    for (std::int64_t kx = 0; kx < g.kernel; ++kx) {
      const std::int64_t lo = std::clamp<std::int64_t>((g.pad - kx + g.stride - 1) / g.stride, 0, g.ow);
      const std::int64_t hi =
          std::clamp<std::int64_t>((g.w + g.pad - kx + g.stride - 1) / g.stride, lo, g.ow);
      g.taps[static_cast<std::size_t>(kx)] = {lo, hi};
    }
  }
  return g;
}

/// The clipped window [y0, y1) x [x0, x1) of output (oy, ox).
struct Window {
  std::int64_t y0, y1, x0, x1;
  [[nodiscard]] std::int64_t count() const { return (y1 - y0) * (x1 - x0); }
};

inline Window window(const PoolGeometry& g, std::int64_t oy, std::int64_t ox) {
  const std::int64_t ys = oy * g.stride - g.pad;
  const std::int64_t xs = ox * g.stride - g.pad;
  return {std::max<std::int64_t>(ys, 0), std::min<std::int64_t>(ys + g.kernel, g.h),
          std::max<std::int64_t>(xs, 0), std::min<std::int64_t>(xs + g.kernel, g.w)};
}

/// The AVX-512 plane kernels take float 3x3/stride 1/padding 1 average pooling and 2x2/stride 2
/// max pooling without padding.
template <typename T>
bool fast_avg3(const PoolGeometry& g) {
  return std::is_same_v<T, float> && g.kernel == 3 && g.stride == 1 && g.pad == 1 &&
         g.w <= detail::kMaxFastPoolWidth && detail::fast_pool_available();
}

template <typename T>
bool fast_max2(const PoolGeometry& g) {
  return std::is_same_v<T, float> && g.kernel == 2 && g.stride == 2 && g.pad == 0 &&
         g.w <= detail::kMaxFastPoolWidth && detail::fast_pool_available();
}

bool parallel_over_planes(const PoolGeometry& g) {
  return g.planes > 1 && g.planes * g.h * g.w >= detail::kParallelThreshold;
}

template <typename T>
void require_output(const char* where, const char* what, const BasicTensor<T>& t, const Shape& input,
                    const PoolGeometry& g) {
  detail::require_same_shape(where, what, t, Shape{input[0], input[1], g.oh, g.ow});
}

/// Flat index (within a plane) of the first maximum of the window of output (oy, ox).
template <typename T>
inline std::int64_t argmax_in_window(const PoolGeometry& g, const T* xp, std::int64_t oy, std::int64_t ox) {
  const Window win = window(g, oy, ox);
  std::int64_t best = win.y0 * g.w + win.x0;
  T best_value = xp[best];
  for (std::int64_t y = win.y0; y < win.y1; ++y) {
    for (std::int64_t x = win.x0; x < win.x1; ++x) {
      if (xp[y * g.w + x] > best_value) {
        best_value = xp[y * g.w + x];
        best = y * g.w + x;
      }
    }
  }
  return best;
}

inline ColumnRange columns_for_tap(const PoolGeometry& g, std::int64_t kx) {
  return g.taps[static_cast<std::size_t>(kx)];
}

/// Number of input rows (or columns) inside the window of output index o along an axis of `size`.
inline std::int64_t valid_extent(const PoolGeometry& g, std::int64_t o, std::int64_t size) {
  const std::int64_t start = o * g.stride - g.pad;
  return std::min<std::int64_t>(start + g.kernel, size) - std::max<std::int64_t>(start, 0);
}

/// Average pooling of one plane, one output row at a time (sum of the window rows, then scaled).
template <typename T>
void avg_pool_plane(const PoolGeometry& g, const T* xp, T* yp) {
  T acc[kMaxRowKernelWidth];
  T inv_cols[kMaxRowKernelWidth];
  for (std::int64_t ox = 0; ox < g.ow; ++ox) inv_cols[ox] = T{1} / static_cast<T>(valid_extent(g, ox, g.w));
  for (std::int64_t oy = 0; oy < g.oh; ++oy) {
    std::fill(acc, acc + g.ow, T{0});
    const std::int64_t ys = oy * g.stride - g.pad;
    for (std::int64_t iy = std::max<std::int64_t>(ys, 0); iy < std::min<std::int64_t>(ys + g.kernel, g.h);
         ++iy) {
      const T* row = xp + iy * g.w;
      for (std::int64_t kx = 0; kx < g.kernel; ++kx) {
        const ColumnRange r = columns_for_tap(g, kx);
        const std::int64_t base = kx - g.pad;
        if (g.stride == 1) {
#pragma omp simd
          for (std::int64_t ox = r.lo; ox < r.hi; ++ox) acc[ox] += row[ox + base];
        } else {
          for (std::int64_t ox = r.lo; ox < r.hi; ++ox) acc[ox] += row[ox * g.stride + base];
        }
      }
    }
    const T inv_rows = T{1} / static_cast<T>(valid_extent(g, oy, g.h));
    T* out = yp + oy * g.ow;
#pragma omp simd
    for (std::int64_t ox = 0; ox < g.ow; ++ox) out[ox] = acc[ox] * inv_rows * inv_cols[ox];
  }
}

/// Adjoint of avg_pool_plane: every output gradient, divided by its window size, spread over the window.
template <typename T>
void avg_pool_plane_backward(const PoolGeometry& g, const T* dyp, T* dxp) {
  T share[kMaxRowKernelWidth];
  T inv_cols[kMaxRowKernelWidth];
  for (std::int64_t ox = 0; ox < g.ow; ++ox) inv_cols[ox] = T{1} / static_cast<T>(valid_extent(g, ox, g.w));
  for (std::int64_t oy = 0; oy < g.oh; ++oy) {
    const T inv_rows = T{1} / static_cast<T>(valid_extent(g, oy, g.h));
    const T* in = dyp + oy * g.ow;
#pragma omp simd
    for (std::int64_t ox = 0; ox < g.ow; ++ox) share[ox] = in[ox] * inv_rows * inv_cols[ox];
    const std::int64_t ys = oy * g.stride - g.pad;
    for (std::int64_t iy = std::max<std::int64_t>(ys, 0); iy < std::min<std::int64_t>(ys + g.kernel, g.h);
         ++iy) {
      T* row = dxp + iy * g.w;
      for (std::int64_t kx = 0; kx < g.kernel; ++kx) {
        const ColumnRange r = columns_for_tap(g, kx);
        const std::int64_t base = kx - g.pad;
        if (g.stride == 1) {
#pragma omp simd
          for (std::int64_t ox = r.lo; ox < r.hi; ++ox) row[ox + base] += share[ox];
        } else {
          for (std::int64_t ox = r.lo; ox < r.hi; ++ox) row[ox * g.stride + base] += share[ox];
        }
      }
    }
  }
}

/// One output row of max pooling (window maxima; padding never wins).
template <typename T>
void max_pool_row(const PoolGeometry& g, const T* xp, std::int64_t oy, T* best) {
  const std::int64_t ys = oy * g.stride - g.pad;
  const std::int64_t y0 = std::max<std::int64_t>(ys, 0);
  for (std::int64_t ox = 0; ox < g.ow; ++ox)
    best[ox] = xp[y0 * g.w + std::max<std::int64_t>(ox * g.stride - g.pad, 0)];
  for (std::int64_t iy = y0; iy < std::min<std::int64_t>(ys + g.kernel, g.h); ++iy) {
    const T* row = xp + iy * g.w;
    for (std::int64_t kx = 0; kx < g.kernel; ++kx) {
      const ColumnRange r = columns_for_tap(g, kx);
      const std::int64_t base = kx - g.pad;
      if (g.stride == 1) {
#pragma omp simd
        for (std::int64_t ox = r.lo; ox < r.hi; ++ox) {
          const T v = row[ox + base];
          const T b = best[ox];
          best[ox] = v > b ? v : b;
        }
      } else {
        for (std::int64_t ox = r.lo; ox < r.hi; ++ox) {
          const T v = row[ox * g.stride + base];
          const T b = best[ox];
          best[ox] = v > b ? v : b;
        }
      }
    }
  }
}

/// Backward of one output row of max pooling: each output gradient goes to the first input of its
/// window (row-major window order) that equals the forward maximum; branch-free so it vectorises.
template <typename T>
void max_pool_row_backward(const PoolGeometry& g, const T* xp, const T* yrow, const T* dyrow, std::int64_t oy,
                           T* dxp) {
  T found[kMaxRowKernelWidth];
  std::fill(found, found + g.ow, T{0});
  const std::int64_t ys = oy * g.stride - g.pad;
  for (std::int64_t iy = std::max<std::int64_t>(ys, 0); iy < std::min<std::int64_t>(ys + g.kernel, g.h);
       ++iy) {
    const T* row = xp + iy * g.w;
    T* drow = dxp + iy * g.w;
    for (std::int64_t kx = 0; kx < g.kernel; ++kx) {
      const ColumnRange r = columns_for_tap(g, kx);
      const std::int64_t base = kx - g.pad;
      if (g.stride == 1) {
#pragma omp simd
        for (std::int64_t ox = r.lo; ox < r.hi; ++ox) {
          const T v = row[ox + base];
          const T m = yrow[ox];
          const T f = found[ox];
          const T d = dyrow[ox];
          const T old = drow[ox + base];
          // Arithmetic masks (1 or 0) instead of && and ?: on the gradient keep the loop branch-free.
          const T hit = v == m ? T{1} : T{0};
          const T take = hit * (T{1} - f);
          drow[ox + base] = old + take * d;
          found[ox] = f + take;
        }
      } else {
        for (std::int64_t ox = r.lo; ox < r.hi; ++ox) {
          const std::int64_t at = ox * g.stride + base;
          const T hit = row[at] == yrow[ox] ? T{1} : T{0};
          const T take = hit * (T{1} - found[ox]);
          drow[at] += take * dyrow[ox];
          found[ox] += take;
        }
      }
    }
  }
}

}  // namespace

Shape pool2d_output_shape(const Shape& input, const Pool2dParams& params) {
  const PoolGeometry g = geometry("pool2d_output_shape", input, params);
  return Shape{input[0], input[1], g.oh, g.ow};
}

template <Scalar T>
void max_pool2d_forward(const BasicTensor<T>& x, BasicTensor<T>& y, const Pool2dParams& params) {
  constexpr const char* kWhere = "max_pool2d_forward";
  detail::require_rank(kWhere, "input", x, 4);
  const PoolGeometry g = geometry(kWhere, x.shape(), params);
  require_output(kWhere, "output", y, x.shape(), g);
  const bool fast = fast_max2<T>(g);
#pragma omp parallel for schedule(static) if (parallel_over_planes(g))
  for (std::int64_t plane = 0; plane < g.planes; ++plane) {
    const T* xp = x.data() + plane * g.h * g.w;
    T* yp = y.data() + plane * g.oh * g.ow;
    if constexpr (std::is_same_v<T, float>) {
      if (fast) {
        detail::max_pool2_forward_plane(xp, yp, g.h, g.w);
        continue;
      }
    }
    if (g.row_kernels()) {
      for (std::int64_t oy = 0; oy < g.oh; ++oy) max_pool_row(g, xp, oy, yp + oy * g.ow);
      continue;
    }
    for (std::int64_t oy = 0; oy < g.oh; ++oy) {
      for (std::int64_t ox = 0; ox < g.ow; ++ox) {
        const Window win = window(g, oy, ox);
        T best = xp[win.y0 * g.w + win.x0];
        for (std::int64_t yy = win.y0; yy < win.y1; ++yy) {
          for (std::int64_t xx = win.x0; xx < win.x1; ++xx) best = std::max(best, xp[yy * g.w + xx]);
        }
        yp[oy * g.ow + ox] = best;
      }
    }
  }
}

template <Scalar T>
void max_pool2d_backward(const BasicTensor<T>& x, const BasicTensor<T>& y, const BasicTensor<T>& dy,
                         BasicTensor<T>& dx, const Pool2dParams& params, GradMode mode) {
  constexpr const char* kWhere = "max_pool2d_backward";
  detail::require_rank(kWhere, "input", x, 4);
  const PoolGeometry g = geometry(kWhere, x.shape(), params);
  require_output(kWhere, "output", y, x.shape(), g);
  require_output(kWhere, "output gradient", dy, x.shape(), g);
  detail::require_same_shape(kWhere, "input gradient", dx, x.shape());
  const bool fast = fast_max2<T>(g);
#pragma omp parallel for schedule(static) if (parallel_over_planes(g))
  for (std::int64_t plane = 0; plane < g.planes; ++plane) {
    const T* xp = x.data() + plane * g.h * g.w;
    const T* dyp = dy.data() + plane * g.oh * g.ow;
    T* dxp = dx.data() + plane * g.h * g.w;
    if constexpr (std::is_same_v<T, float>) {
      if (fast) {
        detail::max_pool2_backward_plane(xp, y.data() + plane * g.oh * g.ow, dyp, dxp, g.h, g.w,
                                         mode == GradMode::kAdd);
        continue;
      }
    }
    if (mode == GradMode::kWrite) std::fill(dxp, dxp + g.h * g.w, T{0});
    if (g.row_kernels()) {
      const T* yp = y.data() + plane * g.oh * g.ow;
      for (std::int64_t oy = 0; oy < g.oh; ++oy) {
        max_pool_row_backward(g, xp, yp + oy * g.ow, dyp + oy * g.ow, oy, dxp);
      }
      continue;
    }
    for (std::int64_t oy = 0; oy < g.oh; ++oy) {
      for (std::int64_t ox = 0; ox < g.ow; ++ox) dxp[argmax_in_window(g, xp, oy, ox)] += dyp[oy * g.ow + ox];
    }
  }
}

template <Scalar T>
void avg_pool2d_forward(const BasicTensor<T>& x, BasicTensor<T>& y, const Pool2dParams& params) {
  constexpr const char* kWhere = "avg_pool2d_forward";
  detail::require_rank(kWhere, "input", x, 4);
  const PoolGeometry g = geometry(kWhere, x.shape(), params);
  require_output(kWhere, "output", y, x.shape(), g);
  const bool fast = fast_avg3<T>(g);
#pragma omp parallel for schedule(static) if (parallel_over_planes(g))
  for (std::int64_t plane = 0; plane < g.planes; ++plane) {
    const T* xp = x.data() + plane * g.h * g.w;
    T* yp = y.data() + plane * g.oh * g.ow;
    if constexpr (std::is_same_v<T, float>) {
      if (fast) {
        detail::avg_pool3_forward_plane(xp, yp, g.h, g.w);
        continue;
      }
    }
    if (g.row_kernels()) {
      avg_pool_plane(g, xp, yp);
      continue;
    }
    for (std::int64_t oy = 0; oy < g.oh; ++oy) {
      for (std::int64_t ox = 0; ox < g.ow; ++ox) {
        const Window win = window(g, oy, ox);
        T sum{0};
        for (std::int64_t yy = win.y0; yy < win.y1; ++yy) {
          for (std::int64_t xx = win.x0; xx < win.x1; ++xx) sum += xp[yy * g.w + xx];
        }
        yp[oy * g.ow + ox] = sum / static_cast<T>(win.count());
      }
    }
  }
}

template <Scalar T>
void avg_pool2d_backward(const BasicTensor<T>& dy, BasicTensor<T>& dx, const Pool2dParams& params,
                         GradMode mode) {
  constexpr const char* kWhere = "avg_pool2d_backward";
  detail::require_rank(kWhere, "input gradient", dx, 4);
  const PoolGeometry g = geometry(kWhere, dx.shape(), params);
  require_output(kWhere, "output gradient", dy, dx.shape(), g);
  const bool fast = fast_avg3<T>(g);
#pragma omp parallel for schedule(static) if (parallel_over_planes(g))
  for (std::int64_t plane = 0; plane < g.planes; ++plane) {
    const T* dyp = dy.data() + plane * g.oh * g.ow;
    T* dxp = dx.data() + plane * g.h * g.w;
    if constexpr (std::is_same_v<T, float>) {
      if (fast) {
        detail::avg_pool3_backward_plane(dyp, dxp, g.h, g.w, mode == GradMode::kAdd);
        continue;
      }
    }
    if (mode == GradMode::kWrite) std::fill(dxp, dxp + g.h * g.w, T{0});
    if (g.row_kernels()) {
      avg_pool_plane_backward(g, dyp, dxp);
      continue;
    }
    for (std::int64_t oy = 0; oy < g.oh; ++oy) {
      for (std::int64_t ox = 0; ox < g.ow; ++ox) {
        const Window win = window(g, oy, ox);
        const T share = dyp[oy * g.ow + ox] / static_cast<T>(win.count());
        for (std::int64_t yy = win.y0; yy < win.y1; ++yy) {
          for (std::int64_t xx = win.x0; xx < win.x1; ++xx) dxp[yy * g.w + xx] += share;
        }
      }
    }
  }
}

namespace {

template <typename T>
std::int64_t global_pool_planes(const char* where, const BasicTensor<T>& x, const BasicTensor<T>& y) {
  detail::require_rank(where, "input", x, 4);
  const bool flat = y.rank() == 2 && y.dim(0) == x.dim(0) && y.dim(1) == x.dim(1);
  const bool square =
      y.rank() == 4 && y.dim(0) == x.dim(0) && y.dim(1) == x.dim(1) && y.dim(2) == 1 && y.dim(3) == 1;
  if (y.data() == nullptr || !(flat || square)) {
    detail::fail(where, "pooled tensor has shape " + y.shape().to_string() + ", expected [" +
                            std::to_string(x.dim(0)) + ", " + std::to_string(x.dim(1)) + "] or [" +
                            std::to_string(x.dim(0)) + ", " + std::to_string(x.dim(1)) +
                            ", 1, 1] for input " + x.shape().to_string());
  }
  if (x.dim(2) * x.dim(3) == 0) detail::fail(where, "input " + x.shape().to_string() + " has empty planes");
  return x.dim(0) * x.dim(1);
}

}  // namespace

template <Scalar T>
void global_avg_pool_forward(const BasicTensor<T>& x, BasicTensor<T>& y) {
  const std::int64_t planes = global_pool_planes("global_avg_pool_forward", x, y);
  const std::int64_t hw = x.dim(2) * x.dim(3);
  const T inv = T{1} / static_cast<T>(hw);
#pragma omp parallel for schedule(static) if (x.size() >= detail::kParallelThreshold)
  for (std::int64_t p = 0; p < planes; ++p) {
    const T* xp = x.data() + p * hw;
    T sum{0};
#pragma omp simd reduction(+ : sum)
    for (std::int64_t i = 0; i < hw; ++i) sum += xp[i];
    y[p] = sum * inv;
  }
}

template <Scalar T>
void global_avg_pool_backward(const BasicTensor<T>& dy, BasicTensor<T>& dx, GradMode mode) {
  const std::int64_t planes = global_pool_planes("global_avg_pool_backward", dx, dy);
  const std::int64_t hw = dx.dim(2) * dx.dim(3);
  const T inv = T{1} / static_cast<T>(hw);
#pragma omp parallel for schedule(static) if (dx.size() >= detail::kParallelThreshold)
  for (std::int64_t p = 0; p < planes; ++p) {
    T* dxp = dx.data() + p * hw;
    const T v = dy[p] * inv;
    if (mode == GradMode::kAdd) {
      for (std::int64_t i = 0; i < hw; ++i) dxp[i] += v;
    } else {
      std::fill(dxp, dxp + hw, v);
    }
  }
}

#define ALPHAX_INSTANTIATE_POOL(T)                                                                          \
  template void max_pool2d_forward<T>(const BasicTensor<T>&, BasicTensor<T>&, const Pool2dParams&);         \
  template void max_pool2d_backward<T>(const BasicTensor<T>&, const BasicTensor<T>&, const BasicTensor<T>&, \
                                       BasicTensor<T>&, const Pool2dParams&, GradMode);                     \
  template void avg_pool2d_forward<T>(const BasicTensor<T>&, BasicTensor<T>&, const Pool2dParams&);         \
  template void avg_pool2d_backward<T>(const BasicTensor<T>&, BasicTensor<T>&, const Pool2dParams&,         \
                                       GradMode);                                                           \
  template void global_avg_pool_forward<T>(const BasicTensor<T>&, BasicTensor<T>&);                         \
  template void global_avg_pool_backward<T>(const BasicTensor<T>&, BasicTensor<T>&, GradMode);
ALPHAX_INSTANTIATE_POOL(float)
ALPHAX_INSTANTIATE_POOL(double)
#undef ALPHAX_INSTANTIATE_POOL

}  // namespace alphax::tensor
