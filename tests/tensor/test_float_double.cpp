// The float path must agree with the double path on a small network: stem conv -> BN+ReLU ->
// 3x3 conv (stride 2) -> BN -> avg pool -> add skip -> ReLU -> global pool -> dense -> softmax CE.
#include <gtest/gtest.h>

#include <vector>

#include "alphax/tensor/ops.hpp"
#include "gradcheck.hpp"

namespace alphax::tensor {
namespace {

template <Scalar T>
BasicTensor<T> converted(const TensorD& d) {
  BasicTensor<T> t(d.shape());
  for (std::int64_t i = 0; i < d.size(); ++i) t[i] = static_cast<T>(d[i]);
  return t;
}

/// Loss and every parameter gradient of the small network, in precision T.
template <Scalar T>
struct Network {
  BasicTensor<T> x, w1, g1, b1, w2, g2, b2, wd, bd;
  std::vector<std::int32_t> labels{1, 0, 2, 1};

  explicit Network(std::uint64_t seed)
      : x(converted<T>(testing::random_tensor<double>(Shape{4, 2, 8, 8}, seed))),
        w1(converted<T>(testing::random_tensor<double>(Shape{4, 2, 3, 3}, seed + 1))),
        g1(converted<T>(testing::random_tensor<double>(Shape{4}, seed + 2))),
        b1(converted<T>(testing::random_tensor<double>(Shape{4}, seed + 3))),
        w2(converted<T>(testing::random_tensor<double>(Shape{4, 4, 3, 3}, seed + 4))),
        g2(converted<T>(testing::random_tensor<double>(Shape{4}, seed + 5))),
        b2(converted<T>(testing::random_tensor<double>(Shape{4}, seed + 6))),
        wd(converted<T>(testing::random_tensor<double>(Shape{3, 4}, seed + 7))),
        bd(converted<T>(testing::random_tensor<double>(Shape{3}, seed + 8))) {}

  struct Result {
    T loss;
    BasicTensor<T> dw1, dg1, db1, dw2, dwd;
  };

  Result run() {
    Workspace<T> ws;
    const Shape s1{4, 4, 8, 8}, s2{4, 4, 4, 4};
    BasicTensor<T> c1(s1), a1(s1), c2(s2), n2(s2), skip(s2), sum(s2), act(s2), pooled(Shape{4, 4}),
        logits(Shape{4, 3});
    BasicTensor<T> rm1(Shape{4}), rv1(Shape{4}), sm1(Shape{4}), si1(Shape{4});
    BasicTensor<T> rm2(Shape{4}), rv2(Shape{4}), sm2(Shape{4}), si2(Shape{4});
    const BatchNormParams bn_relu{.activation = Activation::kRelu};
    const Pool2dParams pool{3, 2, 1};
    conv2d_forward(x, w1, nullptr, c1, {1, 1}, ws);
    batch_norm_forward(c1, a1, &g1, &b1, rm1, rv1, sm1, si1, bn_relu);
    conv2d_forward(a1, w2, nullptr, c2, {2, 1}, ws);
    batch_norm_forward(c2, n2, &g2, &b2, rm2, rv2, sm2, si2, {});
    avg_pool2d_forward(a1, skip, pool);
    add(n2, skip, sum);
    relu_forward(sum, act);
    global_avg_pool_forward(act, pooled);
    dense_forward(pooled, wd, &bd, logits);

    Result r{T{0},
             BasicTensor<T>(w1.shape()),
             BasicTensor<T>(Shape{4}),
             BasicTensor<T>(Shape{4}),
             BasicTensor<T>(w2.shape()),
             BasicTensor<T>(wd.shape())};
    BasicTensor<T> dlogits(logits.shape()), dpooled(pooled.shape()), dact(s2), dsum(s2), dc2(s2), da1(s1),
        dc1(s1);
    BasicTensor<T> dbd(Shape{3}), dg2(Shape{4}), db2(Shape{4});
    r.loss = softmax_cross_entropy(logits, labels, &dlogits);
    dense_backward(pooled, wd, dlogits, &dpooled, r.dwd, &dbd);
    global_avg_pool_backward(dpooled, dact);
    relu_backward(act, dact, dsum);
    batch_norm_backward(c2, n2, dsum, &g2, sm2, si2, dc2, &dg2, &db2, {});
    conv2d_backward(a1, w2, dc2, &da1, r.dw2, nullptr, {2, 1}, ws);
    avg_pool2d_backward(dsum, da1, pool, GradMode::kAdd);
    batch_norm_backward(c1, a1, da1, &g1, sm1, si1, dc1, &r.dg1, &r.db1, bn_relu);
    conv2d_backward(x, w1, dc1, nullptr, r.dw1, nullptr, {1, 1}, ws);
    return r;
  }
};

TEST(FloatDouble, NetworkLossAndGradientsAgree) {
  Network<float> f(100);
  Network<double> d(100);
  const auto rf = f.run();
  const auto rd = d.run();
  EXPECT_NEAR(rf.loss, rd.loss, 1e-5 * std::abs(rd.loss));
  EXPECT_LT(testing::max_relative_difference(rf.dw1, rd.dw1), 1e-4);
  EXPECT_LT(testing::max_relative_difference(rf.dg1, rd.dg1), 1e-4);
  EXPECT_LT(testing::max_relative_difference(rf.db1, rd.db1), 1e-4);
  EXPECT_LT(testing::max_relative_difference(rf.dw2, rd.dw2), 1e-4);
  EXPECT_LT(testing::max_relative_difference(rf.dwd, rd.dwd), 1e-4);
}

TEST(FloatDouble, NetworkGradientOfFirstConvMatchesFiniteDifferences) {
  Network<double> d(200);
  const auto r = d.run();
  testing::expect_gradient(
      "dw1", d.w1, r.dw1, [&] { return static_cast<double>(d.run().loss); }, 1e-5);
  testing::expect_gradient(
      "dgamma1", d.g1, r.dg1, [&] { return static_cast<double>(d.run().loss); }, 1e-5);
}

}  // namespace
}  // namespace alphax::tensor
