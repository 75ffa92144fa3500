#include "sync_batch_norm.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

namespace alphax::train {
namespace {

struct Layout {
  std::int64_t batch = 0;
  std::int64_t channels = 0;
  std::int64_t pixels = 1;  // H * W (1 for rank-2 inputs)
};

Layout layout_of(const tensor::Tensor& x) {
  if (x.rank() != 2 && x.rank() != 4) {
    throw std::invalid_argument("SyncBatchNorm: x must be [N, C] or [N, C, H, W], got " + x.shape().to_string());
  }
  Layout l;
  l.batch = x.dim(0);
  l.channels = x.dim(1);
  if (x.rank() == 4) l.pixels = x.dim(2) * x.dim(3);
  return l;
}

}  // namespace

void SyncBatchNorm::forward(const tensor::Tensor& x, tensor::Tensor& y, const tensor::Tensor& gamma,
                            const tensor::Tensor& beta, tensor::Tensor& running_mean, tensor::Tensor& running_var,
                            tensor::Tensor& saved_mean, tensor::Tensor& saved_invstd, double momentum, double eps,
                            bool relu, const BatchStatReducer& reduce) {
  const Layout l = layout_of(x);
  const std::int64_t c_count = l.channels;
  sums_.assign(static_cast<std::size_t>(2 * c_count + 1), 0.0);
  const float* xs = x.data();
  double* sums = sums_.data();
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < c_count; ++c) {
    double s = 0, ss = 0;
    for (std::int64_t n = 0; n < l.batch; ++n) {
      const float* row = xs + (n * c_count + c) * l.pixels;
      for (std::int64_t i = 0; i < l.pixels; ++i) {
        const double v = row[i];
        s += v;
        ss += v * v;
      }
    }
    sums[c] = s;
    sums[c_count + c] = ss;
  }
  sums_[static_cast<std::size_t>(2 * c_count)] = static_cast<double>(l.batch * l.pixels);
  reduce(sums_);
  count_ = sums_[static_cast<std::size_t>(2 * c_count)];
  if (count_ < 1) throw std::logic_error("SyncBatchNorm::forward: the group batch is empty");

  float* ys = y.data();
  const float* g = gamma.data();
  const float* b = beta.data();
  float* rm = running_mean.data();
  float* rv = running_var.data();
  float* sm = saved_mean.data();
  float* si = saved_invstd.data();
  const double count = count_;
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < c_count; ++c) {
    const double mean = sums[c] / count;
    const double var = std::max(0.0, sums[c_count + c] / count - mean * mean);
    const double invstd = 1.0 / std::sqrt(var + eps);
    sm[c] = static_cast<float>(mean);
    si[c] = static_cast<float>(invstd);
    const double unbiased = count > 1 ? var * count / (count - 1) : var;
    rm[c] = static_cast<float>((1 - momentum) * rm[c] + momentum * mean);
    rv[c] = static_cast<float>((1 - momentum) * rv[c] + momentum * unbiased);
    const float scale = static_cast<float>(g[c] * invstd);
    const float shift = static_cast<float>(b[c] - g[c] * invstd * mean);
    for (std::int64_t n = 0; n < l.batch; ++n) {
      const std::int64_t base = (n * c_count + c) * l.pixels;
      for (std::int64_t i = 0; i < l.pixels; ++i) {
        const float v = scale * xs[base + i] + shift;
        ys[base + i] = relu ? std::max(v, 0.0f) : v;
      }
    }
  }
}

void SyncBatchNorm::backward(const tensor::Tensor& x, const tensor::Tensor& y, const tensor::Tensor& dy,
                             const tensor::Tensor& gamma, const tensor::Tensor& saved_mean,
                             const tensor::Tensor& saved_invstd, tensor::Tensor& dx, tensor::Tensor& dgamma,
                             tensor::Tensor& dbeta, bool relu, tensor::GradMode mode, const BatchStatReducer& reduce) {
  const Layout l = layout_of(x);
  const std::int64_t c_count = l.channels;
  sums_.assign(static_cast<std::size_t>(2 * c_count), 0.0);
  const float* xs = x.data();
  const float* ys = y.data();
  const float* dys = dy.data();
  const float* sm = saved_mean.data();
  const float* si = saved_invstd.data();
  double* sums = sums_.data();
  float* dg = dgamma.data();
  float* db = dbeta.data();
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < c_count; ++c) {
    double sdy = 0, sdyx = 0;
    for (std::int64_t n = 0; n < l.batch; ++n) {
      const std::int64_t base = (n * c_count + c) * l.pixels;
      for (std::int64_t i = 0; i < l.pixels; ++i) {
        const double d = (relu && !(ys[base + i] > 0.0f)) ? 0.0 : static_cast<double>(dys[base + i]);
        sdy += d;
        sdyx += d * (static_cast<double>(xs[base + i]) - sm[c]) * si[c];
      }
    }
    sums[c] = sdy;
    sums[c_count + c] = sdyx;
    dg[c] += static_cast<float>(sdyx);  // local contributions; the gradient allreduce sums them
    db[c] += static_cast<float>(sdy);
  }
  reduce(sums_);
  const float* g = gamma.data();
  float* dxs = dx.data();
  const double count = count_;
  const bool add = mode == tensor::GradMode::kAdd;
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < c_count; ++c) {
    const double mean_dy = sums[c] / count;
    const double mean_dyx = sums[c_count + c] / count;
    const double k = static_cast<double>(g[c]) * si[c];
    for (std::int64_t n = 0; n < l.batch; ++n) {
      const std::int64_t base = (n * c_count + c) * l.pixels;
      for (std::int64_t i = 0; i < l.pixels; ++i) {
        const double d = (relu && !(ys[base + i] > 0.0f)) ? 0.0 : static_cast<double>(dys[base + i]);
        const double xhat = (static_cast<double>(xs[base + i]) - sm[c]) * si[c];
        const auto v = static_cast<float>(k * (d - mean_dy - xhat * mean_dyx));
        dxs[base + i] = add ? dxs[base + i] + v : v;
      }
    }
  }
}

}  // namespace alphax::train
