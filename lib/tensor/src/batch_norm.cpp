#include "alphax/tensor/batch_norm.hpp"

#include <omp.h>

#include <cmath>
#include <string>
#include <vector>

#include "bn_grad.hpp"
#include "check.hpp"

namespace alphax::tensor {
namespace {

/// Channel layout of a batch-norm input: N blocks of C planes of `plane` elements each.
struct BnGeometry {
  std::int64_t n, c, plane;
  [[nodiscard]] std::int64_t count() const { return n * plane; }  // elements per channel
};

template <typename T>
BnGeometry geometry(const char* where, const BasicTensor<T>& x) {
  if (x.data() == nullptr) detail::fail(where, "input is empty (no storage); allocate it first");
  if (x.rank() != 4 && x.rank() != 2) {
    detail::fail(where, "input must be [N, C, H, W] or [N, C], has shape " + x.shape().to_string());
  }
  const std::int64_t plane = x.rank() == 4 ? x.dim(2) * x.dim(3) : 1;
  if (x.dim(0) * plane == 0)
    detail::fail(where, "input " + x.shape().to_string() + " has no element per channel");
  return {x.dim(0), x.dim(1), plane};
}

template <typename T>
void require_channel_vector(const char* where, const char* what, const BasicTensor<T>* t, std::int64_t c) {
  if (t != nullptr) detail::require_same_shape(where, what, *t, Shape{c});
}

/// Mean and variance of channel c from two passes over x (stable when the mean dominates the spread).
template <typename T>
void channel_stats_from_x(const BnGeometry& g, const T* x, std::int64_t c, double& mean, double& var) {
  double sum = 0.0;
  for (std::int64_t n = 0; n < g.n; ++n) {
    const T* xp = x + (n * g.c + c) * g.plane;
    T s{0};
#pragma omp simd reduction(+ : s)
    for (std::int64_t i = 0; i < g.plane; ++i) s += xp[i];
    sum += s;
  }
  mean = sum / static_cast<double>(g.count());
  double centred = 0.0;
  const T mu = static_cast<T>(mean);
  for (std::int64_t n = 0; n < g.n; ++n) {
    const T* xp = x + (n * g.c + c) * g.plane;
    T acc{0};
#pragma omp simd reduction(+ : acc)
    for (std::int64_t i = 0; i < g.plane; ++i) acc += (xp[i] - mu) * (xp[i] - mu);
    centred += acc;
  }
  var = centred / static_cast<double>(g.count());
}

/// Mean and variance of channel c combined from per-plane moments, in sample order.
void channel_stats_from_moments(const BnGeometry& g, const double* moments, std::int64_t c, double& mean,
                                double& var) {
  double count = 0.0, mu = 0.0, m2 = 0.0;
  const auto plane = static_cast<double>(g.plane);
  for (std::int64_t n = 0; n < g.n; ++n) {
    const double* m = moments + (n * g.c + c) * 2;
    const double total = count + plane;
    const double delta = m[0] - mu;
    mu += delta * plane / total;
    m2 += m[1] + delta * delta * count * plane / total;
    count = total;
  }
  mean = mu;
  var = m2 / count;
}

}  // namespace

Shape plane_moments_shape(const Shape& x) {
  if (x.rank() != 4)
    detail::fail("plane_moments_shape", "input must be [N, C, H, W], has shape " + x.to_string());
  return Shape{x[0], x[1], 2};
}

template <Scalar T>
void plane_moments(const BasicTensor<T>& x, TensorD& moments) {
  constexpr const char* kWhere = "plane_moments";
  detail::require_rank(kWhere, "input", x, 4);
  detail::require_same_shape(kWhere, "moments", moments, plane_moments_shape(x.shape()));
  const std::int64_t planes = x.dim(0) * x.dim(1);
  const std::int64_t plane = x.dim(2) * x.dim(3);
#pragma omp parallel for schedule(static) if (x.size() >= detail::kParallelThreshold)
  for (std::int64_t p = 0; p < planes; ++p)
    detail::plane_moments(x.data() + p * plane, plane, moments.data() + 2 * p);
}

template <Scalar T>
void batch_norm_forward(const BasicTensor<T>& x, BasicTensor<T>& y,
                        const std::type_identity_t<BasicTensor<T>>* gamma,
                        const std::type_identity_t<BasicTensor<T>>* beta, BasicTensor<T>& running_mean,
                        BasicTensor<T>& running_var, BasicTensor<T>& saved_mean, BasicTensor<T>& saved_invstd,
                        const BatchNormParams& params, const TensorD* moments) {
  constexpr const char* kWhere = "batch_norm_forward";
  const BnGeometry g = geometry(kWhere, x);
  detail::require_same_shape(kWhere, "output", y, x.shape());
  require_channel_vector(kWhere, "gamma", gamma, g.c);
  require_channel_vector(kWhere, "beta", beta, g.c);
  require_channel_vector(kWhere, "running_mean", &running_mean, g.c);
  require_channel_vector(kWhere, "running_var", &running_var, g.c);
  require_channel_vector(kWhere, "saved_mean", &saved_mean, g.c);
  require_channel_vector(kWhere, "saved_invstd", &saved_invstd, g.c);
  if (params.eps <= 0.0) detail::fail(kWhere, "eps must be > 0, got " + std::to_string(params.eps));
  if (params.momentum < 0.0 || params.momentum > 1.0) {
    detail::fail(kWhere, "momentum must lie in [0, 1], got " + std::to_string(params.momentum));
  }
  if (moments != nullptr) {
    if (x.rank() != 4)
      detail::fail(kWhere, "moments need an input [N, C, H, W], got " + x.shape().to_string());
    detail::require_same_shape(kWhere, "moments", *moments, plane_moments_shape(x.shape()));
  }
  const bool relu = params.activation == Activation::kRelu;
  const std::int64_t m = g.count();
  const bool parallel = g.c > 1 && x.size() >= detail::kParallelThreshold;
  // y = a[c] * x + b[c]: the statistics per channel first, then one pass over the planes in memory
  // order (each thread streams one contiguous range; a channel's planes lie a sample apart, and at
  // 7x7 to 28x28 they are too short for the hardware prefetcher to ramp up on).
  std::vector<T> scale(static_cast<std::size_t>(2 * g.c));
#pragma omp parallel if (parallel)
  {
#pragma omp for schedule(static)
    for (std::int64_t c = 0; c < g.c; ++c) {
      double mean = 0.0;
      double invstd = 0.0;
      if (params.training) {
        double var = 0.0;
        if (moments != nullptr) {
          channel_stats_from_moments(g, moments->data(), c, mean, var);
        } else {
          channel_stats_from_x(g, x.data(), c, mean, var);
        }
        invstd = 1.0 / std::sqrt(var + params.eps);
        const double unbiased = m > 1 ? var * static_cast<double>(m) / static_cast<double>(m - 1) : var;
        running_mean[c] = static_cast<T>((1.0 - params.momentum) * running_mean[c] + params.momentum * mean);
        running_var[c] = static_cast<T>((1.0 - params.momentum) * running_var[c] + params.momentum * unbiased);
      } else {
        mean = running_mean[c];
        invstd = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + params.eps);
      }
      saved_mean[c] = static_cast<T>(mean);
      saved_invstd[c] = static_cast<T>(invstd);
      const T gm = gamma != nullptr ? (*gamma)[c] : T{1};
      const T bt = beta != nullptr ? (*beta)[c] : T{0};
      const T a = gm * static_cast<T>(invstd);
      scale[static_cast<std::size_t>(2 * c)] = a;
      scale[static_cast<std::size_t>(2 * c + 1)] = bt - static_cast<T>(mean) * a;
    }
#pragma omp for schedule(static)
    for (std::int64_t p = 0; p < g.n * g.c; ++p) {
      const T a = scale[static_cast<std::size_t>(2 * (p % g.c))];
      const T b = scale[static_cast<std::size_t>(2 * (p % g.c) + 1)];
      const T* xp = x.data() + p * g.plane;
      T* yp = y.data() + p * g.plane;
      if (relu) {
#pragma omp simd
        for (std::int64_t i = 0; i < g.plane; ++i) {
          const T v = a * xp[i] + b;
          yp[i] = v > T{0} ? v : T{0};
        }
      } else {
#pragma omp simd
        for (std::int64_t i = 0; i < g.plane; ++i) yp[i] = a * xp[i] + b;
      }
    }
  }
}

namespace {

/// Sums over one plane of the (masked) output gradient d and of d * (x - mean), in float: sums[0], sums[1].
template <typename T>
void plane_grad_sums(std::int64_t plane, const T* xp, const T* yp, const T* dyp, T mean, bool relu, T* sums) {
  T s{0};
  T sx{0};
  if (relu) {
#pragma omp simd reduction(+ : s, sx)
    for (std::int64_t i = 0; i < plane; ++i) {
      const T g_out = dyp[i];
      const T out = yp[i];
      const T d = out > T{0} ? g_out : T{0};  // loads first: a conditional load blocks vectorisation
      s += d;
      sx += d * (xp[i] - mean);
    }
  } else {
#pragma omp simd reduction(+ : s, sx)
    for (std::int64_t i = 0; i < plane; ++i) {
      s += dyp[i];
      sx += dyp[i] * (xp[i] - mean);
    }
  }
  sums[0] = s;
  sums[1] = sx;
}

/// Pass 1 of the backward pass, channel c, from the plane sums (plane_grad_sums) of its N planes,
/// `stride` values apart and added in sample order: dgamma, dbeta and the map {k, mean_dy, mean, coef}
/// of dx = k * (d - mean_dy - (x - mean) * coef) (training: dx = gamma*invstd * (dy - mean(dy) - x_hat *
/// mean(dy*x_hat)); inference: gamma*invstd*dy).
template <typename T>
void channel_grad_map(const BnGeometry& g, std::int64_t c, const T* sums, std::int64_t stride, const T* gamma,
                      T mean, T invstd, bool training, T* dgamma, T* dbeta, GradMode mode, T* map) {
  double sum_dy = 0.0;
  double sum_dy_xhat = 0.0;
  for (std::int64_t n = 0; n < g.n; ++n) {
    sum_dy += sums[n * stride];
    sum_dy_xhat += sums[n * stride + 1];
  }
  sum_dy_xhat *= invstd;
  if (dgamma != nullptr) detail::store(dgamma[c], static_cast<T>(sum_dy_xhat), mode);
  if (dbeta != nullptr) detail::store(dbeta[c], static_cast<T>(sum_dy), mode);
  const T gm = gamma != nullptr ? gamma[c] : T{1};
  const double m = static_cast<double>(g.count());
  map[0] = gm * invstd;
  map[1] = training ? static_cast<T>(sum_dy / m) : T{0};
  map[2] = mean;
  map[3] = training ? static_cast<T>(sum_dy_xhat / m) * invstd : T{0};
}

/// Pass 1 of the backward pass for every channel: the plane sums in memory order (contiguous ranges per
/// thread, as in batch_norm_forward), then each channel's map from its planes' sums in sample order (the
/// same sums, in the same order, as a pass per channel). map: [C][4].
template <typename T>
void grad_map(const BnGeometry& g, const T* x, const T* y, const T* dy, const T* gamma, const T* saved_mean,
              const T* saved_invstd, bool relu, bool training, T* dgamma, T* dbeta, GradMode mode, T* map) {
  std::vector<T> sums(static_cast<std::size_t>(2 * g.n * g.c));
  const bool parallel = g.c > 1 && g.count() * g.c >= detail::kParallelThreshold;
#pragma omp parallel if (parallel)
  {
#pragma omp for schedule(static)
    for (std::int64_t p = 0; p < g.n * g.c; ++p) {
      const std::int64_t off = p * g.plane;
      plane_grad_sums(g.plane, x + off, relu ? y + off : nullptr, dy + off, saved_mean[p % g.c], relu,
                      sums.data() + 2 * p);
    }
#pragma omp for schedule(static)
    for (std::int64_t c = 0; c < g.c; ++c) {
      channel_grad_map(g, c, sums.data() + 2 * c, 2 * g.c, gamma, saved_mean[c], saved_invstd[c], training,
                       dgamma, dbeta, mode, map + 4 * c);
    }
  }
}

template <typename T>
BnGeometry check_backward(const char* where, const BasicTensor<T>& x, const BasicTensor<T>& y,
                          const BasicTensor<T>& dy, const BasicTensor<T>* gamma,
                          const BasicTensor<T>& saved_mean, const BasicTensor<T>& saved_invstd,
                          const BasicTensor<T>* dgamma, const BasicTensor<T>* dbeta, bool relu) {
  const BnGeometry g = geometry(where, x);
  if (relu) detail::require_same_shape(where, "output", y, x.shape());
  detail::require_same_shape(where, "output gradient", dy, x.shape());
  require_channel_vector(where, "gamma", gamma, g.c);
  require_channel_vector(where, "saved_mean", &saved_mean, g.c);
  require_channel_vector(where, "saved_invstd", &saved_invstd, g.c);
  require_channel_vector(where, "gamma gradient", dgamma, g.c);
  require_channel_vector(where, "beta gradient", dbeta, g.c);
  return g;
}

}  // namespace

template <Scalar T>
void batch_norm_backward(const BasicTensor<T>& x, const BasicTensor<T>& y, const BasicTensor<T>& dy,
                         const std::type_identity_t<BasicTensor<T>>* gamma, const BasicTensor<T>& saved_mean,
                         const BasicTensor<T>& saved_invstd, BasicTensor<T>& dx,
                         std::type_identity_t<BasicTensor<T>>* dgamma,
                         std::type_identity_t<BasicTensor<T>>* dbeta, const BatchNormParams& params,
                         GradMode mode) {
  constexpr const char* kWhere = "batch_norm_backward";
  const bool relu = params.activation == Activation::kRelu;
  const BnGeometry g = check_backward(kWhere, x, y, dy, gamma, saved_mean, saved_invstd, dgamma, dbeta, relu);
  detail::require_same_shape(kWhere, "input gradient", dx, x.shape());
  std::vector<T> map(static_cast<std::size_t>(4 * g.c));
  grad_map(g, x.data(), y.data(), dy.data(), gamma != nullptr ? gamma->data() : nullptr, saved_mean.data(),
           saved_invstd.data(), relu, params.training, dgamma != nullptr ? dgamma->data() : nullptr,
           dbeta != nullptr ? dbeta->data() : nullptr, mode, map.data());
  const bool parallel = g.c > 1 && x.size() >= detail::kParallelThreshold;
#pragma omp parallel if (parallel)
  detail::bn_grad_planes(x.data(), relu ? y.data() : nullptr, dy.data(), map.data(), dx.data(), g.n * g.c,
                         g.c, g.plane, mode == GradMode::kAdd);
}

template <Scalar T>
void batch_norm_backward_map(const BasicTensor<T>& x, const BasicTensor<T>& y, const BasicTensor<T>& dy,
                             const std::type_identity_t<BasicTensor<T>>* gamma,
                             const BasicTensor<T>& saved_mean, const BasicTensor<T>& saved_invstd,
                             BasicTensor<T>& map, std::type_identity_t<BasicTensor<T>>* dgamma,
                             std::type_identity_t<BasicTensor<T>>* dbeta, const BatchNormParams& params,
                             GradMode mode) {
  constexpr const char* kWhere = "batch_norm_backward_map";
  const bool relu = params.activation == Activation::kRelu;
  const BnGeometry g = check_backward(kWhere, x, y, dy, gamma, saved_mean, saved_invstd, dgamma, dbeta, relu);
  detail::require_same_shape(kWhere, "map", map, Shape{g.c, 4});
  grad_map(g, x.data(), y.data(), dy.data(), gamma != nullptr ? gamma->data() : nullptr, saved_mean.data(),
           saved_invstd.data(), relu, params.training, dgamma != nullptr ? dgamma->data() : nullptr,
           dbeta != nullptr ? dbeta->data() : nullptr, mode, map.data());
}

#define ALPHAX_INSTANTIATE_BN(T)                                                                             \
  template void plane_moments<T>(const BasicTensor<T>&, TensorD&);                                           \
  template void batch_norm_forward<T>(                                                                       \
      const BasicTensor<T>&, BasicTensor<T>&, const BasicTensor<T>*, const BasicTensor<T>*, BasicTensor<T>&, \
      BasicTensor<T>&, BasicTensor<T>&, BasicTensor<T>&, const BatchNormParams&, const TensorD*);            \
  template void batch_norm_backward<T>(const BasicTensor<T>&, const BasicTensor<T>&, const BasicTensor<T>&,  \
                                       const BasicTensor<T>*, const BasicTensor<T>&, const BasicTensor<T>&,  \
                                       BasicTensor<T>&, BasicTensor<T>*, BasicTensor<T>*,                    \
                                       const BatchNormParams&, GradMode);                                    \
  template void batch_norm_backward_map<T>(                                                                  \
      const BasicTensor<T>&, const BasicTensor<T>&, const BasicTensor<T>&, const BasicTensor<T>*,            \
      const BasicTensor<T>&, const BasicTensor<T>&, BasicTensor<T>&, BasicTensor<T>*, BasicTensor<T>*,       \
      const BatchNormParams&, GradMode);
ALPHAX_INSTANTIATE_BN(float)
ALPHAX_INSTANTIATE_BN(double)
#undef ALPHAX_INSTANTIATE_BN

}  // namespace alphax::tensor
