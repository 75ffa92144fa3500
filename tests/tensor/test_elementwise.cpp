#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "alphax/tensor/concat.hpp"
#include "alphax/tensor/elementwise.hpp"
#include "gradcheck.hpp"

namespace alphax::tensor {
namespace {

using testing::random_tensor;

TEST(Relu, ForwardClampsAndBackwardMatchesFiniteDifferences) {
  TensorD x = random_tensor<double>(Shape{3, 4, 5}, 1);
  TensorD y(x.shape());
  relu_forward(x, y);
  for (std::int64_t i = 0; i < x.size(); ++i) EXPECT_EQ(y[i], x[i] > 0 ? x[i] : 0.0);
  const TensorD r = random_tensor<double>(x.shape(), 2);
  TensorD dx(x.shape());
  relu_backward(y, r, dx);
  testing::expect_gradient("dx", x, dx, [&] {
    relu_forward(x, y);
    return testing::dot(y, r);
  });
}

TEST(Relu, InPlaceAndLargeTensorsUseTheSameRule) {
  Tensor x = random_tensor<float>(Shape{1 << 17}, 3);
  const Tensor original = x.clone();
  relu_forward(x, x);
  for (std::int64_t i = 0; i < x.size(); i += 997) EXPECT_EQ(x[i], original[i] > 0 ? original[i] : 0.0F);
  Tensor dx(x.shape());
  dx.fill(1.0F);
  relu_backward(x, original, dx, GradMode::kAdd);
  for (std::int64_t i = 0; i < x.size(); i += 997)
    EXPECT_EQ(dx[i], 1.0F + (original[i] > 0 ? original[i] : 0.0F));
}

TEST(Elementwise, AddAccumulateAxpyScaleCopy) {
  const TensorD a = random_tensor<double>(Shape{2, 3}, 4);
  const TensorD b = random_tensor<double>(Shape{6}, 5);  // same count, other shape: allowed
  TensorD y(Shape{2, 3});
  add(a, b, y);
  for (std::int64_t i = 0; i < 6; ++i) EXPECT_DOUBLE_EQ(y[i], a[i] + b[i]);
  accumulate(a, y);
  for (std::int64_t i = 0; i < 6; ++i) EXPECT_DOUBLE_EQ(y[i], 2 * a[i] + b[i]);
  axpy(-2.0, a, y);
  for (std::int64_t i = 0; i < 6; ++i) EXPECT_NEAR(y[i], b[i], 1e-15);
  scale(3.0, y);
  for (std::int64_t i = 0; i < 6; ++i) EXPECT_NEAR(y[i], 3 * b[i], 1e-15);
  copy(a, y);
  for (std::int64_t i = 0; i < 6; ++i) EXPECT_EQ(y[i], a[i]);
}

TEST(Elementwise, SizeMismatchNamesBothShapes) {
  const Tensor a(Shape{2, 3});
  const Tensor b(Shape{2, 4});
  Tensor y(Shape{2, 3});
  testing::expect_invalid_argument([&] { add(a, b, y); },
                                   "add: second operand has shape [2, 4] but first operand has shape [2, 3]");
  testing::expect_invalid_argument([&] { axpy(1.0F, b, y); },
                                   "axpy: y has shape [2, 3] but x has shape [2, 4]");
}

TEST(Elementwise, WorksOnViewsOfAFlatBuffer) {
  std::vector<float> params(10, 1.0F), grads(10, 0.5F);
  Tensor p = Tensor::view(params.data() + 2, Shape{2, 3});
  const Tensor g = Tensor::view(grads.data() + 2, Shape{6});
  axpy(-0.1F, g, p);
  EXPECT_FLOAT_EQ(params[1], 1.0F);
  EXPECT_FLOAT_EQ(params[2], 0.95F);
  EXPECT_FLOAT_EQ(params[7], 0.95F);
  EXPECT_FLOAT_EQ(params[8], 1.0F);
}

TEST(Concat, ForwardStacksChannelsAndBackwardSplitsThem) {
  TensorD a = random_tensor<double>(Shape{2, 1, 3, 2}, 6);
  TensorD b = random_tensor<double>(Shape{2, 3, 3, 2}, 7);
  TensorD y(Shape{2, 4, 3, 2});
  const std::array<const TensorD*, 2> parts{&a, &b};
  concat_channels_forward(parts, y);
  EXPECT_EQ(y(1, 0, 2, 1), a(1, 0, 2, 1));
  EXPECT_EQ(y(1, 2, 0, 1), b(1, 1, 0, 1));
  const TensorD r = random_tensor<double>(y.shape(), 8);
  TensorD da(a.shape()), db(b.shape());
  std::array<TensorD*, 2> grads{&da, &db};
  concat_channels_backward(r, grads);
  auto loss = [&] {
    concat_channels_forward(parts, y);
    return testing::dot(y, r);
  };
  testing::expect_gradient("da", a, da, loss);
  testing::expect_gradient("db", b, db, loss);
  concat_channels_backward(r, grads, GradMode::kAdd);
  EXPECT_DOUBLE_EQ(db(0, 2, 1, 1), 2 * r(0, 3, 1, 1));
}

TEST(Concat, ChannelTotalMismatchIsReported) {
  const Tensor a(Shape{2, 1, 3, 3});
  Tensor y(Shape{2, 3, 3, 3});
  const std::array<const Tensor*, 1> parts{&a};
  testing::expect_invalid_argument([&] { concat_channels_forward(parts, y); },
                                   "inputs have 1 channels in total, output [2, 3, 3, 3] has 3");
  Tensor bad(Shape{2, 2, 4, 3});
  const std::array<const Tensor*, 2> parts2{&a, &bad};
  testing::expect_invalid_argument([&] { concat_channels_forward(parts2, y); },
                                   "part 1 has shape [2, 2, 4, 3]");
}

}  // namespace
}  // namespace alphax::tensor
