#include "alphax/tensor/conv2d.hpp"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "blas.hpp"
#include "check.hpp"

namespace alphax::tensor {
namespace {

/// The sizes of one convolution, derived once from the shapes.
struct ConvGeometry {
  std::int64_t n, cin, h, w;  // input
  std::int64_t cout, kh, kw;  // weight
  std::int64_t oh, ow;        // output
  std::int64_t stride, pad;
  [[nodiscard]] std::int64_t k() const { return cin * kh * kw; }       // GEMM inner dimension
  [[nodiscard]] std::int64_t p() const { return oh * ow; }             // output pixels per sample
  [[nodiscard]] bool direct() const { return kh == 1 && kw == 1 && stride == 1 && pad == 0; }
};

ConvGeometry geometry(const char* where, const Shape& input, const Shape& weight, const Conv2dParams& params) {
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
  ConvGeometry g{input[0], input[1], input[2], input[3], weight[0], weight[2], weight[3], 0, 0,
                 params.stride, params.padding};
  const std::int64_t span_h = g.h + 2 * g.pad - g.kh;
  const std::int64_t span_w = g.w + 2 * g.pad - g.kw;
  if (span_h < 0 || span_w < 0) {
    detail::fail(where, "kernel " + std::to_string(g.kh) + "x" + std::to_string(g.kw) + " is larger than the padded input " +
                            std::to_string(g.h + 2 * g.pad) + "x" + std::to_string(g.w + 2 * g.pad) +
                            "; use more padding or a smaller kernel");
  }
  g.oh = span_h / g.stride + 1;
  g.ow = span_w / g.stride + 1;
  return g;
}

/// Per-thread slice of the workspace: [columns K*P][dweight partial Cout*K][dbias partial Cout].
struct ThreadSlices {
  std::size_t col, dweight, dbias;
  [[nodiscard]] std::size_t total() const { return col + dweight + dbias; }
};

ThreadSlices slices(const ConvGeometry& g) {
  const std::size_t col = g.direct() ? 0 : detail::round_up16(static_cast<std::size_t>(g.k() * g.p()));
  return {col, detail::round_up16(static_cast<std::size_t>(g.cout * g.k())),
          detail::round_up16(static_cast<std::size_t>(g.cout))};
}

int thread_count(const ConvGeometry& g) {
  return static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(omp_get_max_threads(), g.n)));
}

/// Unfolds one sample x [Cin, H, W] into col [Cin*KH*KW, OH*OW] (zero where the window is padding).
template <typename T>
void im2col(const ConvGeometry& g, const T* x, T* col) {
  const std::int64_t p = g.p();
  for (std::int64_t c = 0; c < g.cin; ++c) {
    const T* xc = x + c * g.h * g.w;
    for (std::int64_t ky = 0; ky < g.kh; ++ky) {
      for (std::int64_t kx = 0; kx < g.kw; ++kx) {
        T* row = col + ((c * g.kh + ky) * g.kw + kx) * p;
        // Output columns whose input column iw = ow*stride - pad + kx lies inside [0, W).
        const std::int64_t lo = std::clamp<std::int64_t>((g.pad - kx + g.stride - 1) / g.stride, 0, g.ow);
        const std::int64_t hi = std::clamp<std::int64_t>((g.w + g.pad - kx + g.stride - 1) / g.stride, lo, g.ow);
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
            std::copy(xc + base + lo, xc + base + hi, out + lo);
          } else {
            for (std::int64_t ox = lo; ox < hi; ++ox) out[ox] = xc[base + ox * g.stride];
          }
          std::fill(out + hi, out + g.ow, T{0});
        }
      }
    }
  }
}

/// Folds col [Cin*KH*KW, OH*OW] back onto dx [Cin, H, W], adding (the adjoint of im2col).
template <typename T>
void col2im_add(const ConvGeometry& g, const T* col, T* dx) {
  const std::int64_t p = g.p();
  for (std::int64_t c = 0; c < g.cin; ++c) {
    T* dxc = dx + c * g.h * g.w;
    for (std::int64_t ky = 0; ky < g.kh; ++ky) {
      for (std::int64_t kx = 0; kx < g.kw; ++kx) {
        const T* row = col + ((c * g.kh + ky) * g.kw + kx) * p;
        const std::int64_t lo = std::clamp<std::int64_t>((g.pad - kx + g.stride - 1) / g.stride, 0, g.ow);
        const std::int64_t hi = std::clamp<std::int64_t>((g.w + g.pad - kx + g.stride - 1) / g.stride, lo, g.ow);
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

template <typename T>
void check_bias(const char* where, const char* what, const BasicTensor<T>* bias, std::int64_t cout) {
  if (bias != nullptr) detail::require_same_shape(where, what, *bias, Shape{cout});
}

}  // namespace

Shape conv2d_output_shape(const Shape& input, const Shape& weight, const Conv2dParams& params) {
  const ConvGeometry g = geometry("conv2d_output_shape", input, weight, params);
  return Shape{g.n, g.cout, g.oh, g.ow};
}

std::size_t conv2d_workspace_size(const Shape& input, const Shape& weight, const Conv2dParams& params,
                                  int threads) {
  const ConvGeometry g = geometry("conv2d_workspace_size", input, weight, params);
  const auto used = static_cast<std::size_t>(std::max<std::int64_t>(1, std::min<std::int64_t>(threads, g.n)));
  return used * slices(g).total();
}

std::int64_t conv2d_forward_flops(const Shape& input, const Shape& weight, const Conv2dParams& params) {
  const ConvGeometry g = geometry("conv2d_forward_flops", input, weight, params);
  return 2 * g.n * g.cout * g.k() * g.p();
}

template <Scalar T>
void conv2d_forward(const BasicTensor<T>& x, const BasicTensor<T>& weight,
                    const std::type_identity_t<BasicTensor<T>>* bias, BasicTensor<T>& y,
                    const Conv2dParams& params, Workspace<T>& workspace) {
  constexpr const char* kWhere = "conv2d_forward";
  detail::require_rank(kWhere, "input", x, 4);
  detail::require_rank(kWhere, "weight", weight, 4);
  const ConvGeometry g = geometry(kWhere, x.shape(), weight.shape(), params);
  check_bias(kWhere, "bias", bias, g.cout);
  detail::require_same_shape(kWhere, "output", y, Shape{g.n, g.cout, g.oh, g.ow});
  detail::ensure_blas_single_threaded();

  const int threads = thread_count(g);
  const ThreadSlices s = slices(g);
  T* ws = workspace.reserve(static_cast<std::size_t>(threads) * s.total());
  const std::int64_t k = g.k();
  const std::int64_t p = g.p();
  const T* b = bias != nullptr ? bias->data() : nullptr;
#pragma omp parallel num_threads(threads)
  {
    T* col = ws + static_cast<std::size_t>(omp_get_thread_num()) * s.total();
#pragma omp for schedule(static)
    for (std::int64_t n = 0; n < g.n; ++n) {
      const T* xn = x.data() + n * g.cin * g.h * g.w;
      T* yn = y.data() + n * g.cout * p;
      const T* cols = xn;
      if (!g.direct()) {
        im2col(g, xn, col);
        cols = col;
      }
      detail::gemm(false, false, g.cout, p, k, T{1}, weight.data(), k, cols, p, T{0}, yn, p);
      if (b != nullptr) {
        for (std::int64_t co = 0; co < g.cout; ++co) {
          T* row = yn + co * p;
          const T bias_value = b[co];
          for (std::int64_t i = 0; i < p; ++i) row[i] += bias_value;
        }
      }
    }
  }
}

template <Scalar T>
void conv2d_backward(const BasicTensor<T>& x, const BasicTensor<T>& weight, const BasicTensor<T>& dy,
                     std::type_identity_t<BasicTensor<T>>* dx, BasicTensor<T>& dweight,
                     std::type_identity_t<BasicTensor<T>>* dbias, const Conv2dParams& params,
                     Workspace<T>& workspace, GradMode mode) {
  constexpr const char* kWhere = "conv2d_backward";
  detail::require_rank(kWhere, "input", x, 4);
  detail::require_rank(kWhere, "weight", weight, 4);
  const ConvGeometry g = geometry(kWhere, x.shape(), weight.shape(), params);
  detail::require_same_shape(kWhere, "output gradient", dy, Shape{g.n, g.cout, g.oh, g.ow});
  detail::require_same_shape(kWhere, "weight gradient", dweight, weight.shape());
  if (dx != nullptr) detail::require_same_shape(kWhere, "input gradient", *dx, x.shape());
  check_bias(kWhere, "bias gradient", dbias, g.cout);
  detail::ensure_blas_single_threaded();

  const int threads = thread_count(g);
  const ThreadSlices s = slices(g);
  T* ws = workspace.reserve(static_cast<std::size_t>(threads) * s.total());
  const std::int64_t k = g.k();
  const std::int64_t p = g.p();
  const std::int64_t in_size = g.cin * g.h * g.w;
#pragma omp parallel num_threads(threads)
  {
    T* col = ws + static_cast<std::size_t>(omp_get_thread_num()) * s.total();
    T* dw_part = col + s.col;
    T* db_part = dw_part + s.dweight;
    std::fill(dw_part, dw_part + g.cout * k, T{0});
    std::fill(db_part, db_part + g.cout, T{0});
#pragma omp for schedule(static)
    for (std::int64_t n = 0; n < g.n; ++n) {
      const T* xn = x.data() + n * in_size;
      const T* dyn = dy.data() + n * g.cout * p;
      const T* cols = xn;
      if (!g.direct()) {
        im2col(g, xn, col);
        cols = col;
      }
      // dW += dy_n [Cout, P] * cols^T [P, K]
      detail::gemm(false, true, g.cout, k, p, T{1}, dyn, p, cols, p, T{1}, dw_part, k);
      if (dbias != nullptr) {
        for (std::int64_t co = 0; co < g.cout; ++co) {
          const T* row = dyn + co * p;
          T sum{0};
          for (std::int64_t i = 0; i < p; ++i) sum += row[i];
          db_part[co] += sum;
        }
      }
      if (dx != nullptr) {
        T* dxn = dx->data() + n * in_size;
        if (g.direct()) {
          // dx_n = W^T [Cin, Cout] * dy_n [Cout, P]
          detail::gemm(true, false, k, p, g.cout, T{1}, weight.data(), k, dyn, p,
                       mode == GradMode::kAdd ? T{1} : T{0}, dxn, p);
        } else {
          detail::gemm(true, false, k, p, g.cout, T{1}, weight.data(), k, dyn, p, T{0}, col, p);
          if (mode == GradMode::kWrite) std::fill(dxn, dxn + in_size, T{0});
          col2im_add(g, col, dxn);
        }
      }
    }
    // Reduce the per-thread partial gradients, each thread owning a block of the weights.
#pragma omp barrier
    const std::int64_t count = g.cout * k;
    const int nt = omp_get_num_threads();
    const int t = omp_get_thread_num();
    const std::int64_t begin = count * t / nt;
    const std::int64_t end = count * (t + 1) / nt;
    for (std::int64_t i = begin; i < end; ++i) {
      T sum{0};
      for (int u = 0; u < nt; ++u) sum += ws[static_cast<std::size_t>(u) * s.total() + s.col + static_cast<std::size_t>(i)];
      detail::store(dweight.data()[i], sum, mode);
    }
    if (dbias != nullptr) {
#pragma omp single
      for (std::int64_t co = 0; co < g.cout; ++co) {
        T sum{0};
        for (int u = 0; u < nt; ++u) {
          sum += ws[static_cast<std::size_t>(u) * s.total() + s.col + s.dweight + static_cast<std::size_t>(co)];
        }
        detail::store(dbias->data()[co], sum, mode);
      }
    }
  }
}

#define ALPHAX_INSTANTIATE_CONV2D(T)                                                                      \
  template void conv2d_forward<T>(const BasicTensor<T>&, const BasicTensor<T>&, const BasicTensor<T>*,      \
                                  BasicTensor<T>&, const Conv2dParams&, Workspace<T>&);                    \
  template void conv2d_backward<T>(const BasicTensor<T>&, const BasicTensor<T>&, const BasicTensor<T>&,     \
                                   BasicTensor<T>*, BasicTensor<T>&, BasicTensor<T>*, const Conv2dParams&, \
                                   Workspace<T>&, GradMode);
ALPHAX_INSTANTIATE_CONV2D(float)
ALPHAX_INSTANTIATE_CONV2D(double)
#undef ALPHAX_INSTANTIATE_CONV2D

}  // namespace alphax::tensor
