#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "alphax/tensor/batch_norm.hpp"
#include "alphax/tensor/threading.hpp"
#include "gradcheck.hpp"

namespace alphax::tensor {
namespace {

using testing::random_tensor;

/// The per-channel tensors of one batch-norm layer.
struct BnState {
  explicit BnState(std::int64_t c)
      : gamma(random_tensor<double>(Shape{c}, 31)),
        beta(random_tensor<double>(Shape{c}, 32)),
        running_mean(Shape{c}),
        running_var(Shape{c}),
        saved_mean(Shape{c}),
        saved_invstd(Shape{c}) {
    running_var.fill(1.0);
  }
  TensorD gamma, beta, running_mean, running_var, saved_mean, saved_invstd;
};

TEST(BatchNorm, TrainingOutputHasZeroMeanUnitVariancePerChannel) {
  const TensorD x = random_tensor<double>(Shape{4, 3, 5, 5}, 1);
  BnState s(3);
  TensorD y(x.shape());
  batch_norm_forward(x, y, nullptr, nullptr, s.running_mean, s.running_var, s.saved_mean, s.saved_invstd,
                     {.training = true, .momentum = 0.1, .eps = 1e-12});
  for (std::int64_t c = 0; c < 3; ++c) {
    double sum = 0, sq = 0;
    for (std::int64_t n = 0; n < 4; ++n)
      for (std::int64_t i = 0; i < 25; ++i) {
        const double v = y(n, c, i / 5, i % 5);
        sum += v;
        sq += v * v;
      }
    EXPECT_NEAR(sum / 100, 0.0, 1e-12);
    EXPECT_NEAR(sq / 100, 1.0, 1e-9);
  }
}

TEST(BatchNorm, TrainingUpdatesRunningStatisticsWithMomentumAndUnbiasedVariance) {
  const TensorD x = random_tensor<double>(Shape{2, 2, 3, 3}, 2);
  BnState s(2);
  s.running_mean.fill(0.5);
  s.running_var.fill(2.0);
  TensorD y(x.shape());
  batch_norm_forward(x, y, &s.gamma, &s.beta, s.running_mean, s.running_var, s.saved_mean, s.saved_invstd,
                     {.training = true, .momentum = 0.25, .eps = 1e-5});
  for (std::int64_t c = 0; c < 2; ++c) {
    double mean = 0;
    for (std::int64_t n = 0; n < 2; ++n)
      for (std::int64_t i = 0; i < 9; ++i) mean += x(n, c, i / 3, i % 3);
    mean /= 18;
    double var = 0;
    for (std::int64_t n = 0; n < 2; ++n)
      for (std::int64_t i = 0; i < 9; ++i)
        var += (x(n, c, i / 3, i % 3) - mean) * (x(n, c, i / 3, i % 3) - mean);
    EXPECT_NEAR(s.running_mean[c], 0.75 * 0.5 + 0.25 * mean, 1e-12);
    EXPECT_NEAR(s.running_var[c], 0.75 * 2.0 + 0.25 * var / 17, 1e-12);
    EXPECT_NEAR(s.saved_mean[c], mean, 1e-12);
    EXPECT_NEAR(s.saved_invstd[c], 1.0 / std::sqrt(var / 18 + 1e-5), 1e-9);
  }
}

TEST(BatchNorm, InferenceUsesRunningStatisticsAndLeavesThemUnchanged) {
  const TensorD x = random_tensor<double>(Shape{2, 2, 2, 2}, 3);
  BnState s(2);
  s.running_mean[0] = 0.3;
  s.running_mean[1] = -0.2;
  s.running_var[0] = 4.0;
  s.running_var[1] = 0.25;
  TensorD y(x.shape());
  batch_norm_forward(x, y, &s.gamma, &s.beta, s.running_mean, s.running_var, s.saved_mean, s.saved_invstd,
                     {.training = false, .momentum = 0.1, .eps = 1e-5});
  EXPECT_EQ(s.running_mean[0], 0.3);
  EXPECT_EQ(s.running_var[1], 0.25);
  for (std::int64_t i = 0; i < x.size(); ++i) {
    const std::int64_t c = (i / 4) % 2;
    const double expected =
        s.gamma[c] * (x[i] - s.running_mean[c]) / std::sqrt(s.running_var[c] + 1e-5) + s.beta[c];
    EXPECT_NEAR(y[i], expected, 1e-12);
  }
}

TEST(BatchNorm, FusedReluClampsNegativeOutputs) {
  const TensorD x = random_tensor<double>(Shape{3, 2, 4, 4}, 4);
  BnState s(2);
  TensorD plain(x.shape()), fused(x.shape());
  batch_norm_forward(x, plain, &s.gamma, &s.beta, s.running_mean, s.running_var, s.saved_mean, s.saved_invstd,
                     {});
  batch_norm_forward(x, fused, &s.gamma, &s.beta, s.running_mean, s.running_var, s.saved_mean, s.saved_invstd,
                     {.activation = Activation::kRelu});
  for (std::int64_t i = 0; i < x.size(); ++i) EXPECT_DOUBLE_EQ(fused[i], std::max(0.0, plain[i]));
}

/// (training, fused relu, affine, rank 4)
using BnCase = std::tuple<bool, bool, bool, bool>;
class BatchNormGradient : public ::testing::TestWithParam<BnCase> {};

TEST_P(BatchNormGradient, BackwardMatchesFiniteDifferences) {
  const auto [training, relu, affine, rank4] = GetParam();
  const Shape shape = rank4 ? Shape{3, 2, 3, 4} : Shape{5, 3};
  const std::int64_t c = shape[1];
  TensorD x = random_tensor<double>(shape, 5);
  BnState s(c);
  s.running_mean = random_tensor<double>(Shape{c}, 6);
  s.running_var.fill(0.7);
  const TensorD r = random_tensor<double>(shape, 7);
  const BatchNormParams params{.training = training,
                               .momentum = 0.1,
                               .eps = 1e-5,
                               .activation = relu ? Activation::kRelu : Activation::kNone};
  TensorD* gamma = affine ? &s.gamma : nullptr;
  TensorD* beta = affine ? &s.beta : nullptr;
  TensorD y(shape);
  auto loss = [&] {
    TensorD rm = s.running_mean.clone(), rv = s.running_var.clone(), sm(Shape{c}), si(Shape{c});
    batch_norm_forward(x, y, gamma, beta, rm, rv, sm, si, params);
    return testing::dot(y, r);
  };
  TensorD rm = s.running_mean.clone(), rv = s.running_var.clone();
  batch_norm_forward(x, y, gamma, beta, rm, rv, s.saved_mean, s.saved_invstd, params);
  TensorD dx(shape), dgamma(Shape{c}), dbeta(Shape{c});
  batch_norm_backward(x, y, r, gamma, s.saved_mean, s.saved_invstd, dx, &dgamma, &dbeta, params);
  testing::expect_gradient("dx", x, dx, loss);
  if (affine) {
    testing::expect_gradient("dgamma", s.gamma, dgamma, loss);
    testing::expect_gradient("dbeta", s.beta, dbeta, loss);
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, BatchNormGradient,
                         ::testing::Combine(::testing::Bool(), ::testing::Bool(), ::testing::Bool(),
                                            ::testing::Bool()));

TEST(BatchNorm, AddModeAccumulates) {
  const TensorD x = random_tensor<double>(Shape{2, 2, 3, 3}, 8);
  BnState s(2);
  TensorD y(x.shape());
  batch_norm_forward(x, y, &s.gamma, &s.beta, s.running_mean, s.running_var, s.saved_mean, s.saved_invstd,
                     {});
  const TensorD r = random_tensor<double>(x.shape(), 9);
  TensorD dx(x.shape()), dg(Shape{2}), db(Shape{2});
  batch_norm_backward(x, y, r, &s.gamma, s.saved_mean, s.saved_invstd, dx, &dg, &db, {});
  TensorD dx2(x.shape()), dg2(Shape{2}), db2(Shape{2});
  dx2.fill(1.0);
  dg2.fill(1.0);
  db2.fill(1.0);
  batch_norm_backward(x, y, r, &s.gamma, s.saved_mean, s.saved_invstd, dx2, &dg2, &db2, {}, GradMode::kAdd);
  for (std::int64_t i = 0; i < dx.size(); ++i) EXPECT_NEAR(dx2[i], dx[i] + 1.0, 1e-12);
  EXPECT_NEAR(dg2[1], dg[1] + 1.0, 1e-12);
  EXPECT_NEAR(db2[0], db[0] + 1.0, 1e-12);
}

// Large enough (> 32K elements) for the parallel loops; 5 channels so that planes and channels split
// unevenly over the threads. Forward with and without plane moments, backward and backward_map, with
// and without the fused ReLU.
TEST(BatchNorm, ResultsAreBitwiseTheSameForAnyThreadCount) {
  const Shape shape{9, 5, 28, 28};
  const std::int64_t c = shape[1];
  const Tensor x = random_tensor<float>(shape, 41);
  const Tensor r = random_tensor<float>(shape, 42);
  const Tensor gamma = random_tensor<float>(Shape{c}, 43);
  const Tensor beta = random_tensor<float>(Shape{c}, 44);
  const int before = num_threads();
  auto run = [&](int threads, bool relu, bool use_moments) {
    set_num_threads(threads);
    const BatchNormParams params{.activation = relu ? Activation::kRelu : Activation::kNone};
    Tensor rm(Shape{c}), rv(Shape{c}), sm(Shape{c}), si(Shape{c}), y(shape);
    rv.fill(1.0f);
    TensorD moments(plane_moments_shape(shape));
    if (use_moments) plane_moments(x, moments);
    batch_norm_forward(x, y, &gamma, &beta, rm, rv, sm, si, params, use_moments ? &moments : nullptr);
    Tensor dx(shape), dg(Shape{c}), db(Shape{c}), map(Shape{c, 4}), dg2(Shape{c}), db2(Shape{c});
    batch_norm_backward(x, y, r, &gamma, sm, si, dx, &dg, &db, params);
    batch_norm_backward_map(x, y, r, &gamma, sm, si, map, &dg2, &db2, params);
    std::vector<Tensor> out;
    for (Tensor* t : {&y, &rm, &rv, &dx, &dg, &db, &map, &dg2, &db2}) out.push_back(std::move(*t));
    return out;
  };
  for (const bool relu : {false, true}) {
    for (const bool use_moments : {false, true}) {
      const auto one = run(1, relu, use_moments);
      for (const int threads : {2, 5}) {
        const auto many = run(threads, relu, use_moments);
        for (std::size_t t = 0; t < one.size(); ++t) {
          for (std::int64_t i = 0; i < one[t].size(); ++i) {
            ASSERT_TRUE(one[t][i] == many[t][i]) << "output " << t << " [" << i << "], " << threads
                                                   << " threads, relu " << relu << ", moments " << use_moments;
          }
        }
      }
    }
  }
  set_num_threads(before);
}

TEST(BatchNorm, ChannelVectorOfWrongLengthIsNamed) {
  const Tensor x(Shape{2, 4, 3, 3});
  Tensor y(x.shape()), gamma(Shape{3}), rm(Shape{4}), rv(Shape{4}), sm(Shape{4}), si(Shape{4});
  testing::expect_invalid_argument([&] { batch_norm_forward(x, y, &gamma, nullptr, rm, rv, sm, si, {}); },
                                   "batch_norm_forward: gamma has shape [3], expected [4]");
}

TEST(BatchNorm, PlaneMomentsAreMeanAndCentredSumOfSquaresOfEachPlane) {
  const TensorD x = random_tensor<double>(Shape{3, 2, 4, 5}, 41);
  TensorD m(plane_moments_shape(x.shape()));
  plane_moments(x, m);
  for (std::int64_t n = 0; n < 3; ++n)
    for (std::int64_t c = 0; c < 2; ++c) {
      double mean = 0;
      for (std::int64_t i = 0; i < 20; ++i) mean += x(n, c, i / 5, i % 5);
      mean /= 20;
      double m2 = 0;
      for (std::int64_t i = 0; i < 20; ++i)
        m2 += (x(n, c, i / 5, i % 5) - mean) * (x(n, c, i / 5, i % 5) - mean);
      EXPECT_NEAR(m[(n * 2 + c) * 2], mean, 1e-14);
      EXPECT_NEAR(m[(n * 2 + c) * 2 + 1], m2, 1e-12);
    }
}

// Float planes (the AVX-512 form where the CPU has it): every tail length around the 16- and
// 64-element blocks, and a mean (3) larger than the spread.
TEST(BatchNorm, PlaneMomentsOfFloatPlanesMatchDoubleReference) {
  for (const std::int64_t hw : {1, 5, 7, 14, 16, 17, 28}) {
    for (const std::int64_t w : {std::int64_t{1}, hw, hw + 3}) {
      Tensor x = random_tensor<float>(Shape{2, 3, hw, w}, 60 + hw);
      for (std::int64_t i = 0; i < x.size(); ++i) x[i] = 3.0f + x[i];
      TensorD m(plane_moments_shape(x.shape()));
      plane_moments(x, m);
      const std::int64_t plane = hw * w;
      for (std::int64_t p = 0; p < 6; ++p) {
        double mean = 0;
        for (std::int64_t i = 0; i < plane; ++i) mean += x[p * plane + i];
        mean /= static_cast<double>(plane);
        double m2 = 0;
        for (std::int64_t i = 0; i < plane; ++i) m2 += (x[p * plane + i] - mean) * (x[p * plane + i] - mean);
        EXPECT_NEAR(m[2 * p], mean, 1e-6 * std::abs(mean)) << hw << "x" << w << " plane " << p;
        EXPECT_NEAR(m[2 * p + 1], m2, 1e-5 * m2 + 1e-6) << hw << "x" << w << " plane " << p;
      }
    }
  }
}

template <Scalar T>
void expect_moments_give_the_same_batch_norm(double tolerance) {
  // A large mean (10) and small spread: the case where a one-pass sum of squares would lose digits.
  BasicTensor<T> x = random_tensor<T>(Shape{7, 3, 6, 6}, 42);
  for (std::int64_t i = 0; i < x.size(); ++i) x[i] = T{10} + x[i] / T{8};
  TensorD m(plane_moments_shape(x.shape()));
  plane_moments(x, m);
  const BnState s64(3);
  auto state = [&](const TensorD& t) {
    BasicTensor<T> r(t.shape());
    for (std::int64_t i = 0; i < t.size(); ++i) r[i] = static_cast<T>(t[i]);
    return r;
  };
  const BasicTensor<T> gamma = state(s64.gamma), beta = state(s64.beta);
  BasicTensor<T> rm1 = state(s64.running_mean), rv1 = state(s64.running_var), sm1(Shape{3}), si1(Shape{3});
  BasicTensor<T> rm2 = state(s64.running_mean), rv2 = state(s64.running_var), sm2(Shape{3}), si2(Shape{3});
  BasicTensor<T> y1(x.shape()), y2(x.shape());
  batch_norm_forward(x, y1, &gamma, &beta, rm1, rv1, sm1, si1, {});
  batch_norm_forward(x, y2, &gamma, &beta, rm2, rv2, sm2, si2, {}, &m);
  EXPECT_LT(testing::max_relative_difference(y1, y2), tolerance);
  EXPECT_LT(testing::max_relative_difference(rm1, rm2), tolerance);
  EXPECT_LT(testing::max_relative_difference(rv1, rv2), tolerance);
  EXPECT_LT(testing::max_relative_difference(si1, si2), tolerance);
}

TEST(BatchNorm, StatisticsFromPlaneMomentsMatchTwoPassesInDouble) {
  expect_moments_give_the_same_batch_norm<double>(1e-10);
}

TEST(BatchNorm, StatisticsFromPlaneMomentsMatchTwoPassesInFloat) {
  expect_moments_give_the_same_batch_norm<float>(1e-4);
}

TEST(BatchNorm, MomentsOfAnotherShapeAreRejected) {
  const Tensor x(Shape{2, 3, 4, 4});
  Tensor y(x.shape()), rm(Shape{3}), rv(Shape{3}), sm(Shape{3}), si(Shape{3});
  const TensorD m(Shape{2, 4, 2});
  testing::expect_invalid_argument(
      [&] { batch_norm_forward(x, y, nullptr, nullptr, rm, rv, sm, si, {}, &m); },
      "batch_norm_forward: moments has shape [2, 4, 2], expected [2, 3, 2]");
}

}  // namespace
}  // namespace alphax::tensor
