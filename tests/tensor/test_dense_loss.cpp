#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "alphax/tensor/dense.hpp"
#include "alphax/tensor/elementwise.hpp"
#include "alphax/tensor/loss.hpp"
#include "gradcheck.hpp"

namespace alphax::tensor {
namespace {

using testing::random_tensor;

TEST(Dense, ForwardMatchesReferenceLoops) {
  const TensorD x = random_tensor<double>(Shape{4, 3, 1, 1}, 1);  // [N, C, 1, 1] after global pooling
  const TensorD w = random_tensor<double>(Shape{5, 3}, 2);
  const TensorD b = random_tensor<double>(Shape{5}, 3);
  TensorD y(Shape{4, 5});
  dense_forward(x, w, &b, y);
  for (std::int64_t n = 0; n < 4; ++n)
    for (std::int64_t o = 0; o < 5; ++o) {
      double s = b[o];
      for (std::int64_t i = 0; i < 3; ++i) s += x[n * 3 + i] * w[o * 3 + i];
      EXPECT_NEAR(y[n * 5 + o], s, 1e-14);
    }
}

TEST(Dense, BackwardMatchesFiniteDifferences) {
  TensorD x = random_tensor<double>(Shape{6, 7}, 4);
  TensorD w = random_tensor<double>(Shape{3, 7}, 5);
  TensorD b = random_tensor<double>(Shape{3}, 6);
  const TensorD r = random_tensor<double>(Shape{6, 3}, 7);
  TensorD y(Shape{6, 3});
  TensorD dx(x.shape()), dw(w.shape()), db(b.shape());
  dense_backward(x, w, r, &dx, dw, &db);
  auto loss = [&] {
    dense_forward(x, w, &b, y);
    return testing::dot(y, r);
  };
  testing::expect_gradient("dx", x, dx, loss);
  testing::expect_gradient("dweight", w, dw, loss);
  testing::expect_gradient("dbias", b, db, loss);
  TensorD dw2 = dw.clone();
  dense_backward(x, w, r, nullptr, dw2, nullptr, GradMode::kAdd);
  for (std::int64_t i = 0; i < dw.size(); ++i) EXPECT_NEAR(dw2[i], 2 * dw[i], 1e-14);
}

TEST(Dense, LargeBatchSplitOverThreadsMatchesReference) {
  const Tensor x = random_tensor<float>(Shape{256, 128}, 8);
  const Tensor w = random_tensor<float>(Shape{64, 128}, 9);
  Tensor y(Shape{256, 64});
  dense_forward(x, w, nullptr, y);
  for (std::int64_t n = 0; n < 256; n += 37) {
    double s = 0;
    for (std::int64_t i = 0; i < 128; ++i) s += double{x[n * 128 + i]} * w[13 * 128 + i];
    EXPECT_NEAR(y[n * 64 + 13], s, 1e-4);
  }
}

TEST(Dense, FeatureMismatchIsReported) {
  const Tensor x(Shape{2, 4});
  const Tensor w(Shape{3, 5});
  Tensor y(Shape{2, 3});
  testing::expect_invalid_argument(
      [&] { dense_forward(x, w, nullptr, y); },
      "dense_forward: input has 4 features per sample (shape [2, 4]), weight [3, 5] expects 5");
}

TEST(SoftmaxCrossEntropy, UniformLogitsGiveLogOfClassCount) {
  TensorD logits(Shape{3, 10});
  logits.fill(0.7);
  const std::vector<std::int32_t> labels{0, 4, 9};
  EXPECT_NEAR(softmax_cross_entropy(logits, labels, nullptr), std::log(10.0), 1e-14);
}

TEST(SoftmaxCrossEntropy, GradientMatchesFiniteDifferencesAndRowsSumToZero) {
  TensorD logits = random_tensor<double>(Shape{4, 5}, 10);
  scale(3.0, logits);
  const std::vector<std::int32_t> labels{1, 0, 4, 2};
  TensorD grad(logits.shape());
  const double loss = softmax_cross_entropy(logits, labels, &grad);
  EXPECT_GT(loss, 0.0);
  testing::expect_gradient("dlogits", logits, grad,
                           [&] { return softmax_cross_entropy(logits, labels, nullptr); });
  for (std::int64_t r = 0; r < 4; ++r) {
    double s = 0;
    for (std::int64_t j = 0; j < 5; ++j) s += grad[r * 5 + j];
    EXPECT_NEAR(s, 0.0, 1e-15);
  }
}

TEST(SoftmaxCrossEntropy, HugeLogitsStayFinite) {
  Tensor logits(Shape{1, 3});
  logits[0] = 1000.0F;
  logits[1] = -1000.0F;
  const std::vector<std::int32_t> labels{1};
  EXPECT_NEAR(softmax_cross_entropy(logits, labels, nullptr), 2000.0F, 1e-2);
}

TEST(SoftmaxCrossEntropy, LabelOutOfRangeThrowsOutOfRange) {
  const Tensor logits(Shape{2, 3});
  const std::vector<std::int32_t> labels{0, 3};
  try {
    (void)softmax_cross_entropy(logits, labels, nullptr);
    ADD_FAILURE() << "expected std::out_of_range";
  } catch (const std::out_of_range& e) {
    EXPECT_NE(std::string(e.what()).find("label 3 of sample 1 is outside [0, 3)"), std::string::npos)
        << e.what();
  }
  const std::vector<std::int32_t> short_labels{0};
  testing::expect_invalid_argument([&] { (void)softmax_cross_entropy(logits, short_labels, nullptr); },
                                   "have 2 rows but 1 labels");
}

TEST(Accuracy, ArgmaxAndCountCorrect) {
  TensorD logits(Shape{3, 4});
  logits[2] = 1.0;      // row 0 -> 2
  logits[4 + 0] = 5.0;  // row 1 -> 0
  logits[8 + 3] = 2.0;  // row 2 -> 3
  std::array<std::int32_t, 3> out{};
  argmax_rows(logits, out);
  EXPECT_EQ(out, (std::array<std::int32_t, 3>{2, 0, 3}));
  const std::vector<std::int32_t> labels{2, 1, 3};
  EXPECT_EQ(count_correct(logits, labels), 2);
}

}  // namespace
}  // namespace alphax::tensor
