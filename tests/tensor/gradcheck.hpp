#pragma once
// Test helpers for lib/tensor: seeded random tensors and central finite differences in float64.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>

#include "alphax/tensor/tensor.hpp"

namespace alphax::tensor::testing {

/// A tensor of uniform draws in [-1, 1) from a fixed seed.
template <Scalar T>
BasicTensor<T> random_tensor(const Shape& shape, std::uint64_t seed) {
  BasicTensor<T> t(shape);
  std::mt19937_64 rng(seed);
  fill_uniform(t, T{-1}, T{1}, rng);
  return t;
}

/// sum(a * b): the scalar loss L = <output, R> whose gradient w.r.t. the output is R.
inline double dot(const TensorD& a, const TensorD& b) {
  double s = 0.0;
  for (std::int64_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

/// Checks `analytic` against the central difference (L(p + h) - L(p - h)) / 2h for every element
/// of `param`, where `loss` recomputes L from the current contents of `param`.
template <typename Loss>
void expect_gradient(const std::string& name, TensorD& param, const TensorD& analytic, Loss&& loss,
                     double tolerance = 1e-6) {
  ASSERT_EQ(param.size(), analytic.size()) << name;
  constexpr double kStep = 1e-6;
  int failures = 0;
  for (std::int64_t i = 0; i < param.size() && failures < 5; ++i) {
    const double saved = param[i];
    param[i] = saved + kStep;
    const double plus = loss();
    param[i] = saved - kStep;
    const double minus = loss();
    param[i] = saved;
    const double numeric = (plus - minus) / (2 * kStep);
    const double scale = std::max(1.0, std::abs(numeric));
    if (std::abs(analytic[i] - numeric) > tolerance * scale) {
      ++failures;
      ADD_FAILURE() << name << "[" << i << "]: analytic " << analytic[i] << " vs finite difference "
                    << numeric;
    }
  }
}

/// Largest |a - b| / max(1, |b|) over all elements.
template <Scalar A, Scalar B>
double max_relative_difference(const BasicTensor<A>& a, const BasicTensor<B>& b) {
  double worst = 0.0;
  for (std::int64_t i = 0; i < a.size(); ++i) {
    const double d = std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    worst = std::max(worst, d / std::max(1.0, std::abs(static_cast<double>(b[i]))));
  }
  return worst;
}

/// Runs `fn` and expects std::invalid_argument whose message contains `fragment`.
template <typename Fn>
void expect_invalid_argument(Fn&& fn, const std::string& fragment) {
  try {
    fn();
    ADD_FAILURE() << "expected std::invalid_argument containing \"" << fragment << "\"";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
        << "message \"" << e.what() << "\" lacks \"" << fragment << "\"";
  }
}

}  // namespace alphax::tensor::testing
