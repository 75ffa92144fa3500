#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <tuple>
#include <utility>

#include "alphax/tensor/pooling.hpp"
#include "gradcheck.hpp"

namespace alphax::tensor {
namespace {

using testing::random_tensor;

/// Reference pooling with explicit window loops; average excludes padding from the count.
TensorD reference_pool(const TensorD& x, const Pool2dParams& p, bool max) {
  const std::int64_t oh = (x.dim(2) + 2 * p.padding - p.kernel) / p.stride + 1;
  const std::int64_t ow = (x.dim(3) + 2 * p.padding - p.kernel) / p.stride + 1;
  TensorD y(Shape{x.dim(0), x.dim(1), oh, ow});
  for (std::int64_t n = 0; n < x.dim(0); ++n)
    for (std::int64_t c = 0; c < x.dim(1); ++c)
      for (std::int64_t oy = 0; oy < oh; ++oy)
        for (std::int64_t ox = 0; ox < ow; ++ox) {
          double acc = max ? -std::numeric_limits<double>::infinity() : 0.0;
          int count = 0;
          for (std::int64_t ky = 0; ky < p.kernel; ++ky)
            for (std::int64_t kx = 0; kx < p.kernel; ++kx) {
              const std::int64_t iy = oy * p.stride - p.padding + ky, ix = ox * p.stride - p.padding + kx;
              if (iy < 0 || iy >= x.dim(2) || ix < 0 || ix >= x.dim(3)) continue;
              acc = max ? std::max(acc, x(n, c, iy, ix)) : acc + x(n, c, iy, ix);
              ++count;
            }
          y(n, c, oy, ox) = max ? acc : acc / count;
        }
  return y;
}

/// (kernel, stride, padding, max pooling)
using PoolCase = std::tuple<int, int, int, bool>;
class PoolCases : public ::testing::TestWithParam<PoolCase> {
 protected:
  [[nodiscard]] Pool2dParams params() const {
    return {std::get<0>(GetParam()), std::get<1>(GetParam()), std::get<2>(GetParam())};
  }
  [[nodiscard]] bool is_max() const { return std::get<3>(GetParam()); }
};

TEST_P(PoolCases, ForwardMatchesReferenceLoops) {
  const TensorD x = random_tensor<double>(Shape{2, 3, 7, 6}, 1);
  TensorD y(pool2d_output_shape(x.shape(), params()));
  if (is_max()) {
    max_pool2d_forward(x, y, params());
  } else {
    avg_pool2d_forward(x, y, params());
  }
  const TensorD expected = reference_pool(x, params(), is_max());
  ASSERT_EQ(y.shape(), expected.shape());
  EXPECT_LT(testing::max_relative_difference(y, expected), 1e-14);
}

TEST_P(PoolCases, BackwardMatchesFiniteDifferences) {
  TensorD x = random_tensor<double>(Shape{2, 2, 6, 5}, 2);
  const Shape out = pool2d_output_shape(x.shape(), params());
  const TensorD r = random_tensor<double>(out, 3);
  TensorD y(out);
  auto forward = [&] {
    if (is_max()) {
      max_pool2d_forward(x, y, params());
    } else {
      avg_pool2d_forward(x, y, params());
    }
  };
  auto loss = [&] {
    forward();
    return testing::dot(y, r);
  };
  forward();
  TensorD dx(x.shape());
  dx.fill(5.0);  // kWrite must overwrite
  if (is_max()) {
    max_pool2d_backward(x, y, r, dx, params());
  } else {
    avg_pool2d_backward(r, dx, params());
  }
  testing::expect_gradient("dx", x, dx, loss);
}

INSTANTIATE_TEST_SUITE_P(WindowsStridesPaddings, PoolCases,
                         ::testing::Combine(::testing::Values(3), ::testing::Values(1, 2),
                                            ::testing::Values(0, 1), ::testing::Bool()));
INSTANTIATE_TEST_SUITE_P(TwoByTwo, PoolCases,
                         ::testing::Values(PoolCase{2, 2, 0, true}, PoolCase{2, 2, 0, false}));

TEST(AvgPool, CornerOfPaddedWindowAveragesOnlyRealPixels) {
  TensorD x(Shape{1, 1, 3, 3});
  for (std::int64_t i = 0; i < 9; ++i) x[i] = static_cast<double>(i);
  TensorD y(Shape{1, 1, 3, 3});
  avg_pool2d_forward(x, y, {3, 1, 1});
  EXPECT_DOUBLE_EQ(y(0, 0, 0, 0), (0.0 + 1 + 3 + 4) / 4);  // count_include_pad=False
  EXPECT_DOUBLE_EQ(y(0, 0, 1, 1), 4.0);
  EXPECT_DOUBLE_EQ(y(0, 0, 0, 1), (0.0 + 1 + 2 + 3 + 4 + 5) / 6);
}

TEST(MaxPool, AllNegativeWindowIgnoresPadding) {
  TensorD x(Shape{1, 1, 2, 2});
  x.fill(-3.0);
  TensorD y(Shape{1, 1, 2, 2});
  max_pool2d_forward(x, y, {3, 1, 1});
  EXPECT_DOUBLE_EQ(y[0], -3.0);
}

TEST(AddMode, PoolBackwardAccumulates) {
  const TensorD x = random_tensor<double>(Shape{1, 2, 5, 5}, 4);
  const TensorD dy = random_tensor<double>(Shape{1, 2, 3, 3}, 5);
  TensorD y(Shape{1, 2, 3, 3});
  max_pool2d_forward(x, y, {3, 2, 1});
  TensorD once(x.shape()), twice(x.shape());
  max_pool2d_backward(x, y, dy, once, {3, 2, 1});
  max_pool2d_backward(x, y, dy, twice, {3, 2, 1});
  max_pool2d_backward(x, y, dy, twice, {3, 2, 1}, GradMode::kAdd);
  for (std::int64_t i = 0; i < x.size(); ++i) EXPECT_DOUBLE_EQ(twice[i], 2 * once[i]);
  avg_pool2d_backward(dy, once, {3, 2, 1});
  avg_pool2d_backward(dy, twice, {3, 2, 1});
  avg_pool2d_backward(dy, twice, {3, 2, 1}, GradMode::kAdd);
  for (std::int64_t i = 0; i < x.size(); ++i) EXPECT_NEAR(twice[i], 2 * once[i], 1e-14);
}

TEST(GlobalAvgPool, ForwardAveragesEachPlaneAndBackwardMatchesFiniteDifferences) {
  TensorD x = random_tensor<double>(Shape{2, 3, 4, 5}, 6);
  TensorD y(Shape{2, 3});
  global_avg_pool_forward(x, y);
  double expected = 0;
  for (std::int64_t i = 0; i < 20; ++i) expected += x[20 + i];
  EXPECT_NEAR(y[1], expected / 20, 1e-14);
  const TensorD r = random_tensor<double>(Shape{2, 3}, 7);
  TensorD dx(x.shape());
  global_avg_pool_backward(r, dx);
  testing::expect_gradient("dx", x, dx, [&] {
    global_avg_pool_forward(x, y);
    return testing::dot(y, r);
  });
  TensorD y4(Shape{2, 3, 1, 1});
  global_avg_pool_forward(x, y);
  global_avg_pool_forward(x, y4);
  EXPECT_DOUBLE_EQ(y4[5], y[5]);
}

TEST(GlobalAvgPool, WrongPooledShapeIsReported) {
  const Tensor x(Shape{2, 3, 4, 4});
  Tensor y(Shape{2, 4});
  testing::expect_invalid_argument(
      [&] { global_avg_pool_forward(x, y); },
      "global_avg_pool_forward: pooled tensor has shape [2, 4], expected [2, 3]");
}

TEST(Pool2d, PaddingNotSmallerThanKernelIsRejected) {
  testing::expect_invalid_argument(
      [] {
        (void)pool2d_output_shape(Shape{1, 1, 5, 5}, {3, 1, 3});
      },
      "padding must lie in [0, kernel)");
}

/// (average 3x3 stride 1 padding 1 (true) or max 2x2 stride 2 (false), H, W): float shapes the AVX-512
/// plane kernels take (where present) against the double generic path.
using FastPoolCase = std::tuple<bool, int, int>;

class FastPool : public ::testing::TestWithParam<FastPoolCase> {
 protected:
  [[nodiscard]] bool avg() const { return std::get<0>(GetParam()); }
  [[nodiscard]] Pool2dParams params() const { return avg() ? Pool2dParams{3, 1, 1} : Pool2dParams{2, 2, 0}; }
  [[nodiscard]] Shape shape() const { return Shape{2, 3, std::get<1>(GetParam()), std::get<2>(GetParam())}; }
};

TensorD widen(const Tensor& t) {
  TensorD d(t.shape());
  for (std::int64_t i = 0; i < t.size(); ++i) d[i] = t[i];
  return d;
}

TEST_P(FastPool, FloatForwardAndBackwardMatchTheDoublePath) {
  const Tensor x = random_tensor<float>(shape(), 61);
  const Shape out = pool2d_output_shape(x.shape(), params());
  const Tensor dy = random_tensor<float>(out, 62);
  Tensor y(out), dx = random_tensor<float>(x.shape(), 63);
  const Tensor dx0 = dx.clone();
  TensorD yd(out), dxd = widen(dx0);
  if (avg()) {
    avg_pool2d_forward(x, y, params());
    avg_pool2d_forward(widen(x), yd, params());
    avg_pool2d_backward(dy, dx, params(), GradMode::kAdd);
    avg_pool2d_backward(widen(dy), dxd, params(), GradMode::kAdd);
  } else {
    max_pool2d_forward(x, y, params());
    max_pool2d_forward(widen(x), yd, params());
    max_pool2d_backward(x, y, dy, dx, params(), GradMode::kAdd);
    max_pool2d_backward(widen(x), yd, widen(dy), dxd, params(), GradMode::kAdd);
  }
  EXPECT_LT(testing::max_relative_difference(y, yd), 1e-6);
  EXPECT_LT(testing::max_relative_difference(dx, dxd), 1e-6);
  // kWrite overwrites every element, including inputs outside all windows.
  Tensor dxw(x.shape());
  dxw.fill(7.0f);
  TensorD dxwd(x.shape());
  if (avg()) {
    avg_pool2d_backward(dy, dxw, params());
    avg_pool2d_backward(widen(dy), dxwd, params());
  } else {
    max_pool2d_backward(x, y, dy, dxw, params());
    max_pool2d_backward(widen(x), yd, widen(dy), dxwd, params());
  }
  EXPECT_LT(testing::max_relative_difference(dxw, dxwd), 1e-6);
}

TEST(Pool2d, TiedMaximumOf2x2WindowsSendsTheGradientToTheFirstInputOfTheWindow) {
  const Pool2dParams p{2, 2, 0};
  for (const auto& [h, w] : {std::pair{2, 2}, std::pair{7, 17}, std::pair{28, 28}, std::pair{5, 33}}) {
    Tensor x(Shape{2, 3, h, w});
    x.fill(1.0f);
    const Shape out = pool2d_output_shape(x.shape(), p);
    Tensor y(out), dx(x.shape()), dy(out);
    dy.fill(1.0f);
    max_pool2d_forward(x, y, p);
    max_pool2d_backward(x, y, dy, dx, p);
    for (std::int64_t plane = 0; plane < 6; ++plane) {
      for (std::int64_t i = 0; i < h * w; ++i) {
        const std::int64_t r = i / w, c = i % w;
        const bool first = r % 2 == 0 && c % 2 == 0 && r / 2 < out[2] && c / 2 < out[3];
        ASSERT_EQ(dx[plane * h * w + i], first ? 1.0f : 0.0f)
            << h << "x" << w << " plane " << plane << " row " << r << " col " << c;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, FastPool,
                         ::testing::Combine(::testing::Bool(), ::testing::Values(2, 3, 7, 28),
                                            ::testing::Values(2, 5, 16, 17, 28, 33)));

}  // namespace
}  // namespace alphax::tensor
