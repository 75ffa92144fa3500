#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "alphax/tensor/batch_norm.hpp"
#include "alphax/tensor/conv2d.hpp"
#include "alphax/tensor/threading.hpp"
#include "gradcheck.hpp"

namespace alphax::tensor {
namespace {

using testing::random_tensor;

/// Direct seven-loop convolution, the reference for conv2d_forward.
TensorD reference_conv(const TensorD& x, const TensorD& w, const TensorD* bias, std::int64_t stride,
                       std::int64_t pad) {
  const std::int64_t n = x.dim(0), cin = x.dim(1), h = x.dim(2), wd = x.dim(3);
  const std::int64_t cout = w.dim(0), kh = w.dim(2), kw = w.dim(3);
  const std::int64_t oh = (h + 2 * pad - kh) / stride + 1, ow = (wd + 2 * pad - kw) / stride + 1;
  TensorD y(Shape{n, cout, oh, ow});
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t co = 0; co < cout; ++co)
      for (std::int64_t oy = 0; oy < oh; ++oy)
        for (std::int64_t ox = 0; ox < ow; ++ox) {
          double s = bias != nullptr ? (*bias)[co] : 0.0;
          for (std::int64_t ci = 0; ci < cin; ++ci)
            for (std::int64_t ky = 0; ky < kh; ++ky)
              for (std::int64_t kx = 0; kx < kw; ++kx) {
                const std::int64_t iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                if (iy >= 0 && iy < h && ix >= 0 && ix < wd) s += x(b, ci, iy, ix) * w(co, ci, ky, kx);
              }
          y(b, co, oy, ox) = s;
        }
  return y;
}

/// (kernel h, kernel w, stride, padding, input h, input w)
using ConvCase = std::tuple<int, int, int, int, int, int>;

class Conv2dCases : public ::testing::TestWithParam<ConvCase> {
 protected:
  [[nodiscard]] Shape input_shape() const {
    return Shape{3, 2, std::get<4>(GetParam()), std::get<5>(GetParam())};
  }
  [[nodiscard]] Shape weight_shape() const {
    return Shape{4, 2, std::get<0>(GetParam()), std::get<1>(GetParam())};
  }
  [[nodiscard]] Conv2dParams params() const { return {std::get<2>(GetParam()), std::get<3>(GetParam())}; }
};

TEST_P(Conv2dCases, ForwardMatchesReferenceLoops) {
  const TensorD x = random_tensor<double>(input_shape(), 1);
  const TensorD w = random_tensor<double>(weight_shape(), 2);
  const TensorD b = random_tensor<double>(Shape{4}, 3);
  TensorD y(conv2d_output_shape(x.shape(), w.shape(), params()));
  Workspace<double> ws;
  conv2d_forward(x, w, &b, y, params(), ws);
  const TensorD expected = reference_conv(x, w, &b, params().stride, params().padding);
  ASSERT_EQ(y.shape(), expected.shape());
  EXPECT_LT(testing::max_relative_difference(y, expected), 1e-12);
}

TEST_P(Conv2dCases, BackwardMatchesFiniteDifferences) {
  TensorD x = random_tensor<double>(input_shape(), 4);
  TensorD w = random_tensor<double>(weight_shape(), 5);
  TensorD b = random_tensor<double>(Shape{4}, 6);
  const Shape out = conv2d_output_shape(x.shape(), w.shape(), params());
  const TensorD r = random_tensor<double>(out, 7);
  Workspace<double> ws;
  TensorD y(out);
  auto loss = [&] {
    conv2d_forward(x, w, &b, y, params(), ws);
    return testing::dot(y, r);
  };
  TensorD dx(x.shape()), dw(w.shape()), db(b.shape());
  conv2d_backward(x, w, r, &dx, dw, &db, params(), ws);
  testing::expect_gradient("dx", x, dx, loss);
  testing::expect_gradient("dweight", w, dw, loss);
  testing::expect_gradient("dbias", b, db, loss);
}

TEST_P(Conv2dCases, AddModeAccumulatesIntoExistingGradients) {
  const TensorD x = random_tensor<double>(input_shape(), 8);
  const TensorD w = random_tensor<double>(weight_shape(), 9);
  const TensorD r = random_tensor<double>(conv2d_output_shape(x.shape(), w.shape(), params()), 10);
  Workspace<double> ws;
  TensorD dx(x.shape()), dw(w.shape()), db(Shape{4});
  conv2d_backward(x, w, r, &dx, dw, &db, params(), ws);
  TensorD dx2 = random_tensor<double>(x.shape(), 11), dw2 = random_tensor<double>(w.shape(), 12),
          db2 = random_tensor<double>(Shape{4}, 13);
  const TensorD dx0 = dx2.clone(), dw0 = dw2.clone(), db0 = db2.clone();
  conv2d_backward(x, w, r, &dx2, dw2, &db2, params(), ws, GradMode::kAdd);
  for (std::int64_t i = 0; i < dx.size(); ++i) EXPECT_NEAR(dx2[i], dx0[i] + dx[i], 1e-12);
  for (std::int64_t i = 0; i < dw.size(); ++i) EXPECT_NEAR(dw2[i], dw0[i] + dw[i], 1e-12);
  for (std::int64_t i = 0; i < db.size(); ++i) EXPECT_NEAR(db2[i], db0[i] + db[i], 1e-12);
}

TensorD relu_of(const TensorD& x) {
  TensorD r = x.clone();
  for (std::int64_t i = 0; i < r.size(); ++i) r[i] = r[i] > 0.0 ? r[i] : 0.0;
  return r;
}

TEST_P(Conv2dCases, FusedInputReluIsConvolutionOfReluAndItsGradient) {
  TensorD x = random_tensor<double>(input_shape(), 14);
  TensorD w = random_tensor<double>(weight_shape(), 15);
  Conv2dParams p = params();
  p.input_activation = Activation::kRelu;
  const Shape out = conv2d_output_shape(x.shape(), w.shape(), p);
  Workspace<double> ws;
  TensorD y(out);
  conv2d_forward(x, w, nullptr, y, p, ws);
  EXPECT_LT(testing::max_relative_difference(y, reference_conv(relu_of(x), w, nullptr, p.stride, p.padding)),
            1e-12);
  const TensorD r = random_tensor<double>(out, 16);
  auto loss = [&] {
    conv2d_forward(x, w, nullptr, y, p, ws);
    return testing::dot(y, r);
  };
  TensorD dx = random_tensor<double>(x.shape(), 17), dw(w.shape());
  const TensorD dx0 = dx.clone();
  conv2d_backward(x, w, r, &dx, dw, nullptr, p, ws, GradMode::kAdd);
  for (std::int64_t i = 0; i < dx.size(); ++i) dx[i] -= dx0[i];
  testing::expect_gradient("dx", x, dx, loss);
  testing::expect_gradient("dweight", w, dw, loss);
}

INSTANTIATE_TEST_SUITE_P(
    KernelsStridesPaddings, Conv2dCases,
    ::testing::Values(ConvCase{3, 3, 1, 1, 6, 5}, ConvCase{3, 3, 2, 1, 7, 6}, ConvCase{1, 1, 1, 0, 4, 5},
                      ConvCase{1, 1, 2, 0, 5, 5}, ConvCase{5, 5, 1, 2, 6, 6}, ConvCase{3, 3, 1, 0, 5, 6},
                      ConvCase{1, 3, 1, 1, 4, 5}, ConvCase{3, 3, 3, 2, 8, 7}, ConvCase{2, 2, 2, 0, 6, 6},
                      // wide enough (output width >= 14) for padded-width columns
                      ConvCase{3, 3, 1, 1, 5, 16}, ConvCase{5, 5, 1, 2, 4, 15}, ConvCase{3, 3, 1, 0, 4, 17},
                      ConvCase{1, 3, 1, 1, 3, 14}, ConvCase{1, 1, 1, 0, 3, 20}));

TEST(Conv2d, ChannelMismatchNamesBothCounts) {
  const Tensor x(Shape{2, 3, 8, 8});
  const Tensor w(Shape{4, 1, 3, 3});
  Tensor y(Shape{2, 4, 8, 8});
  Workspace<float> ws;
  testing::expect_invalid_argument(
      [&] {
        conv2d_forward(x, w, nullptr, y, {1, 1}, ws);
      },
      "conv2d_forward: input has 3 channels, weight expects 1");
}

TEST(Conv2d, WrongOutputShapeIsReported) {
  const Tensor x(Shape{2, 3, 8, 8});
  const Tensor w(Shape{4, 3, 3, 3});
  Tensor y(Shape{2, 4, 6, 6});
  Workspace<float> ws;
  testing::expect_invalid_argument(
      [&] {
        conv2d_forward(x, w, nullptr, y, {1, 1}, ws);
      },
      "output has shape [2, 4, 6, 6], expected [2, 4, 8, 8]");
}

TEST(Conv2d, KernelLargerThanInputIsRejected) {
  testing::expect_invalid_argument(
      [] {
        (void)conv2d_output_shape(Shape{1, 1, 2, 2}, Shape{1, 1, 5, 5}, {1, 0});
      },
      "larger than the padded input");
  testing::expect_invalid_argument(
      [] {
        (void)conv2d_output_shape(Shape{1, 1, 8, 8}, Shape{1, 1, 3, 3}, {0, 0});
      },
      "stride must be >= 1");
}

TEST(Conv2d, PresizedWorkspaceIsNotReallocated) {
  const Shape in{8, 4, 10, 10};
  const Shape wshape{6, 4, 3, 3};
  const Conv2dParams p{1, 1};
  Workspace<float> ws(conv2d_workspace_size(in, wshape, p, num_threads()));
  const std::size_t capacity = ws.capacity();
  const float* buffer = ws.reserve(1);
  const Tensor x = random_tensor<float>(in, 1);
  const Tensor w = random_tensor<float>(wshape, 2);
  Tensor y(conv2d_output_shape(in, wshape, p));
  Tensor dx(in), dw(wshape);
  conv2d_forward(x, w, nullptr, y, p, ws);
  conv2d_backward(x, w, y, &dx, dw, nullptr, p, ws);
  EXPECT_EQ(ws.capacity(), capacity);
  EXPECT_EQ(ws.reserve(1), buffer);
}

TEST(Conv2d, FlopCountIsTwiceTheMultiplyAdds) {
  EXPECT_EQ(conv2d_forward_flops(Shape{2, 3, 8, 8}, Shape{4, 3, 3, 3}, {1, 1}), 2LL * 2 * 4 * 27 * 64);
}

/// (algorithm, stride): shapes large enough (> 1M multiply-adds) to run on several threads.
class Conv2dThreads : public ::testing::TestWithParam<std::tuple<ConvAlgorithm, int>> {};

TEST_P(Conv2dThreads, ResultIsBitwiseTheSameForAnyThreadCount) {
  const auto [algorithm, stride] = GetParam();
  const Conv2dParams p{stride, 1, algorithm, stride == 1 ? Activation::kRelu : Activation::kNone};
  const Shape in = stride == 1 ? Shape{21, 32, 9, 9} : Shape{37, 8, 17, 17};
  const Shape ws_shape = stride == 1 ? Shape{32, 32, 3, 3} : Shape{12, 8, 3, 3};
  const Tensor x = random_tensor<float>(in, 21);
  const Tensor w = random_tensor<float>(ws_shape, 22);
  const Shape out = conv2d_output_shape(in, ws_shape, p);
  const Tensor r = random_tensor<float>(out, 23);
  if (algorithm == ConvAlgorithm::kDirect && !conv2d_direct_available(x.shape(), w.shape(), p)) {
    GTEST_SKIP() << "no AVX-512F";
  }
  if (algorithm == ConvAlgorithm::kWinograd && !conv2d_winograd_available(x.shape(), w.shape(), p)) {
    GTEST_SKIP() << "kWinograd needs stride 1 and AVX-512F";
  }
  const int before = num_threads();
  auto run = [&](int threads) {
    set_num_threads(threads);
    Workspace<float> ws;
    Tensor y(out), dx(x.shape()), dw(w.shape()), db(Shape{w.dim(0)});
    conv2d_forward(x, w, nullptr, y, p, ws);
    conv2d_backward(x, w, r, &dx, dw, &db, p, ws);
    return std::tuple{std::move(y), std::move(dx), std::move(dw), std::move(db)};
  };
  const auto [y1, dx1, dw1, db1] = run(1);
  const auto [y2, dx2, dw2, db2] = run(2);
  const auto [y5, dx5, dw5, db5] = run(5);
  set_num_threads(before);
  for (std::int64_t i = 0; i < y1.size(); ++i)
    ASSERT_TRUE(y1[i] == y2[i] && y1[i] == y5[i]) << "y[" << i << "]";
  for (std::int64_t i = 0; i < dx1.size(); ++i)
    ASSERT_TRUE(dx1[i] == dx2[i] && dx1[i] == dx5[i]) << "dx[" << i << "]";
  for (std::int64_t i = 0; i < dw1.size(); ++i)
    ASSERT_TRUE(dw1[i] == dw2[i] && dw1[i] == dw5[i]) << "dw[" << i << "]";
  for (std::int64_t i = 0; i < db1.size(); ++i)
    ASSERT_TRUE(db1[i] == db2[i] && db1[i] == db5[i]) << "db[" << i << "]";
}

INSTANTIATE_TEST_SUITE_P(AlgorithmsAndStrides, Conv2dThreads,
                         ::testing::Combine(::testing::Values(ConvAlgorithm::kGemm, ConvAlgorithm::kDirect,
                                                              ConvAlgorithm::kWinograd, ConvAlgorithm::kAuto),
                                            ::testing::Values(1, 2)));

}  // namespace
}  // namespace alphax::tensor

namespace alphax::tensor {
namespace {

/// (N, Cin, Cout, H, W, kernel h, kernel w, padding, stride): float convolutions the direct kernels
/// cover, with channel counts that leave partial register blocks and widths that leave partial vectors.
using DirectCase = std::tuple<int, int, int, int, int, int, int, int, int>;

class Conv2dDirect : public ::testing::TestWithParam<DirectCase> {
 protected:
  void SetUp() override {
    if (!conv2d_direct_available(input_shape(), weight_shape(), params(ConvAlgorithm::kDirect))) {
      GTEST_SKIP() << "this CPU has no AVX-512F: ConvAlgorithm::kDirect does not apply";
    }
  }
  [[nodiscard]] Shape input_shape() const {
    const auto& [n, cin, cout, h, w, kh, kw, pad, stride] = GetParam();
    return Shape{n, cin, h, w};
  }
  [[nodiscard]] Shape weight_shape() const {
    const auto& [n, cin, cout, h, w, kh, kw, pad, stride] = GetParam();
    return Shape{cout, cin, kh, kw};
  }
  [[nodiscard]] Conv2dParams params(ConvAlgorithm algorithm) const {
    return {std::get<8>(GetParam()), std::get<7>(GetParam()), algorithm};
  }
};

TensorD to_double(const Tensor& t) {
  TensorD d(t.shape());
  for (std::int64_t i = 0; i < t.size(); ++i) d[i] = t[i];
  return d;
}

// The checks every fast float algorithm (kDirect, kWinograd) passes; `seed` and the next ones draw the
// tensors. The weight and bias gradients always come from the direct kernels (tolerance 5e-5).
constexpr double kDirectTolerance = 5e-5;  // float sums of up to a thousand products

void expect_forward_matches_reference(const Shape& input, const Shape& weight, const Conv2dParams& p,
                                      std::uint64_t seed, double tolerance) {
  const Tensor x = random_tensor<float>(input, seed);
  const Tensor w = random_tensor<float>(weight, seed + 1);
  const Tensor b = random_tensor<float>(Shape{weight[0]}, seed + 2);
  Tensor y(conv2d_output_shape(x.shape(), w.shape(), p));
  Workspace<float> ws;
  conv2d_forward(x, w, &b, y, p, ws);
  const TensorD bd = to_double(b);
  const TensorD expected = reference_conv(to_double(x), to_double(w), &bd, p.stride, p.padding);
  EXPECT_LT(testing::max_relative_difference(y, expected), tolerance);
}

void expect_backward_matches_double_path(const Shape& input, const Shape& weight, const Conv2dParams& p,
                                         std::uint64_t seed, double dx_tolerance) {
  const Tensor x = random_tensor<float>(input, seed);
  const Tensor w = random_tensor<float>(weight, seed + 1);
  const Shape out = conv2d_output_shape(x.shape(), w.shape(), p);
  const Tensor dy = random_tensor<float>(out, seed + 2);
  Workspace<float> ws;
  Tensor dx(x.shape()), dw(w.shape()), db(Shape{w.dim(0)});
  conv2d_backward(x, w, dy, &dx, dw, &db, p, ws);
  Conv2dParams pd = p;
  pd.algorithm = ConvAlgorithm::kGemm;
  Workspace<double> wsd;
  TensorD dxd(x.shape()), dwd(w.shape()), dbd(Shape{w.dim(0)});
  conv2d_backward(to_double(x), to_double(w), to_double(dy), &dxd, dwd, &dbd, pd, wsd);
  EXPECT_LT(testing::max_relative_difference(dx, dxd), dx_tolerance);
  EXPECT_LT(testing::max_relative_difference(dw, dwd), kDirectTolerance);
  EXPECT_LT(testing::max_relative_difference(db, dbd), kDirectTolerance);
}

/// With the fused input ReLU, forward and backward (dx accumulated into a random dx) against the double
/// GEMM path.
void expect_fused_relu_and_add_mode_match_double_path(const Shape& input, const Shape& weight, Conv2dParams p,
                                                      std::uint64_t seed, double tolerance) {
  p.input_activation = Activation::kRelu;
  const Tensor x = random_tensor<float>(input, seed);
  const Tensor w = random_tensor<float>(weight, seed + 1);
  const Shape out = conv2d_output_shape(x.shape(), w.shape(), p);
  const Tensor dy = random_tensor<float>(out, seed + 2);
  Workspace<float> ws;
  Tensor y(out), dw(w.shape());
  Tensor dx = random_tensor<float>(x.shape(), seed + 3);
  const Tensor dx0 = dx.clone();
  conv2d_forward(x, w, nullptr, y, p, ws);
  conv2d_backward(x, w, dy, &dx, dw, nullptr, p, ws, GradMode::kAdd);
  Conv2dParams pd = p;
  pd.algorithm = ConvAlgorithm::kGemm;
  Workspace<double> wsd;
  TensorD yd(out), dwd(w.shape());
  TensorD dxd = to_double(dx0);
  conv2d_forward(to_double(x), to_double(w), nullptr, yd, pd, wsd);
  conv2d_backward(to_double(x), to_double(w), to_double(dy), &dxd, dwd, nullptr, pd, wsd, GradMode::kAdd);
  EXPECT_LT(testing::max_relative_difference(y, yd), tolerance);
  EXPECT_LT(testing::max_relative_difference(dx, dxd), tolerance);
  EXPECT_LT(testing::max_relative_difference(dw, dwd), kDirectTolerance);
}

TEST_P(Conv2dDirect, ForwardMatchesReferenceLoops) {
  expect_forward_matches_reference(input_shape(), weight_shape(), params(ConvAlgorithm::kDirect), 31,
                                   kDirectTolerance);
}

TEST_P(Conv2dDirect, BackwardMatchesTheGradientCheckedDoublePath) {
  expect_backward_matches_double_path(input_shape(), weight_shape(), params(ConvAlgorithm::kDirect), 34,
                                      kDirectTolerance);
}

TEST_P(Conv2dDirect, FusedInputReluMatchesTheDoublePath) {
  expect_fused_relu_and_add_mode_match_double_path(input_shape(), weight_shape(),
                                                   params(ConvAlgorithm::kDirect), 45, kDirectTolerance);
}

TEST_P(Conv2dDirect, AddModeAccumulatesIntoExistingGradients) {
  const Tensor x = random_tensor<float>(input_shape(), 37);
  const Tensor w = random_tensor<float>(weight_shape(), 38);
  const Tensor dy =
      random_tensor<float>(conv2d_output_shape(x.shape(), w.shape(), params(ConvAlgorithm::kDirect)), 39);
  Workspace<float> ws;
  Tensor dx(x.shape()), dw(w.shape());
  conv2d_backward(x, w, dy, &dx, dw, nullptr, params(ConvAlgorithm::kDirect), ws);
  Tensor dx2 = random_tensor<float>(x.shape(), 40), dw2 = random_tensor<float>(w.shape(), 41);
  const Tensor dx0 = dx2.clone(), dw0 = dw2.clone();
  conv2d_backward(x, w, dy, &dx2, dw2, nullptr, params(ConvAlgorithm::kDirect), ws, GradMode::kAdd);
  for (std::int64_t i = 0; i < dx.size(); ++i) EXPECT_NEAR(dx2[i], dx0[i] + dx[i], 1e-5);
  for (std::int64_t i = 0; i < dw.size(); ++i) EXPECT_NEAR(dw2[i], dw0[i] + dw[i], 1e-5);
}

INSTANTIATE_TEST_SUITE_P(
    ShapesAndBlocks, Conv2dDirect,
    ::testing::Values(DirectCase{3, 2, 4, 6, 5, 3, 3, 1, 1}, DirectCase{2, 3, 11, 9, 17, 3, 3, 1, 1},
                      DirectCase{20, 5, 9, 7, 7, 3, 3, 1, 1}, DirectCase{2, 4, 3, 5, 6, 5, 5, 2, 1},
                      DirectCase{3, 3, 5, 6, 6, 3, 3, 0, 1}, DirectCase{2, 6, 7, 4, 9, 1, 3, 0, 1},
                      DirectCase{4, 7, 13, 5, 5, 1, 1, 0, 1}, DirectCase{2, 1, 16, 28, 28, 3, 3, 1, 1},
                      DirectCase{17, 16, 16, 8, 8, 3, 3, 1, 1},
                      // channels-last kernels: whole vectors of output channels
                      DirectCase{3, 16, 32, 7, 9, 3, 3, 1, 1}, DirectCase{2, 32, 48, 5, 8, 3, 3, 1, 1},
                      DirectCase{2, 32, 80, 6, 15, 3, 3, 1, 1}, DirectCase{3, 32, 32, 5, 5, 1, 1, 0, 1},
                      DirectCase{18, 64, 64, 3, 3, 3, 3, 1, 1},
                      // strides > 1: phase planes forward, dx by one stride-1 convolution per phase
                      DirectCase{3, 2, 5, 7, 6, 3, 3, 1, 2}, DirectCase{2, 16, 32, 8, 9, 3, 3, 1, 2},
                      DirectCase{2, 3, 4, 10, 11, 5, 5, 2, 3}, DirectCase{2, 4, 6, 6, 6, 2, 2, 0, 2},
                      // dx phases on the channels-last kernels; 1x1 (phases without taps); stride 4
                      // (16 phases, the most that run direct) and stride 5 (dx by GEMM)
                      DirectCase{2, 32, 16, 9, 10, 3, 3, 1, 2}, DirectCase{3, 5, 7, 7, 8, 1, 1, 0, 2},
                      DirectCase{2, 3, 5, 13, 14, 5, 5, 2, 4}, DirectCase{2, 3, 4, 12, 11, 5, 5, 1, 5}));

TEST(Conv2d, DirectAlgorithmRefusesWhatItCannotRun) {
  const Tensor x(Shape{2, 3, 8, 8});
  const Tensor w(Shape{4, 3, 3, 3});
  Tensor y(Shape{2, 4, 12, 12});
  Workspace<float> ws;
  testing::expect_invalid_argument(
      [&] {
        conv2d_forward(x, w, nullptr, y, {1, 3, ConvAlgorithm::kDirect}, ws);
      },
      "conv2d_forward: ConvAlgorithm::kDirect needs float tensors, padding < kernel size");
  const Tensor w9(Shape{4, 3, 9, 9});
  Tensor y9(Shape{2, 4, 8, 8});
  testing::expect_invalid_argument(
      [&] {
        conv2d_forward(x, w9, nullptr, y9, {1, 4, ConvAlgorithm::kDirect}, ws);
      },
      "at most 64 kernel taps");
  const TensorD xd(Shape{2, 3, 8, 8});
  const TensorD wd(Shape{4, 3, 3, 3});
  TensorD yd(Shape{2, 4, 8, 8});
  Workspace<double> wsd;
  testing::expect_invalid_argument(
      [&] {
        conv2d_forward(xd, wd, nullptr, yd, {1, 1, ConvAlgorithm::kDirect}, wsd);
      },
      "ConvAlgorithm::kDirect needs float tensors");
}

class Conv2dMoments : public ::testing::TestWithParam<ConvAlgorithm> {};

TEST_P(Conv2dMoments, ForwardWritesThePlaneMomentsOfItsOutput) {
  // Large enough to run on several threads and, for kGemm, in chunks of samples.
  const Tensor x = random_tensor<float>(Shape{19, 16, 10, 10}, 51);
  const Tensor w = random_tensor<float>(Shape{32, 16, 3, 3}, 52);
  const Conv2dParams p{1, 1, GetParam()};
  if (GetParam() == ConvAlgorithm::kDirect && !conv2d_direct_available(x.shape(), w.shape(), p)) {
    GTEST_SKIP() << "no AVX-512F";
  }
  if (GetParam() == ConvAlgorithm::kWinograd && !conv2d_winograd_available(x.shape(), w.shape(), p)) {
    GTEST_SKIP() << "no AVX-512F";
  }
  Tensor y(conv2d_output_shape(x.shape(), w.shape(), p));
  TensorD from_conv(plane_moments_shape(y.shape())), from_y(plane_moments_shape(y.shape()));
  Workspace<float> ws;
  conv2d_forward(x, w, nullptr, y, p, ws, &from_conv);
  plane_moments(y, from_y);
  for (std::int64_t i = 0; i < from_y.size(); ++i) ASSERT_EQ(from_conv[i], from_y[i]) << i;
}

INSTANTIATE_TEST_SUITE_P(Algorithms, Conv2dMoments,
                         ::testing::Values(ConvAlgorithm::kGemm, ConvAlgorithm::kDirect,
                                           ConvAlgorithm::kWinograd));

}  // namespace
}  // namespace alphax::tensor

namespace alphax::tensor {
namespace {

/// (N, Cin, Cout, H, W, padding): stride-1 3x3 float convolutions for Winograd F(2x2, 3x3), with odd
/// sizes (partial output tiles), rows of more than one 15-tile segment, channel counts that leave
/// partial register blocks, several samples per group and groups that span chunks.
using WinogradCase = std::tuple<int, int, int, int, int, int>;

/// Winograd's transforms add a few rounding steps per output (input transform: sums of up to 4
/// inputs; kernel transform: sums of up to 9 weights times 1/4; output transform: a sum of 9 of the
/// 16 products), so its float error is a small multiple of the direct sum's (F(2x2, 3x3) is the
/// mildest Winograd tile; larger tiles grow it much faster). Measured on these cases: at most 6.5e-6
/// relative (Cin = 64), so the direct kernels' 5e-5 still holds with an 8x margin.
constexpr double kWinogradTolerance = 5e-5;

class Conv2dWinograd : public ::testing::TestWithParam<WinogradCase> {
 protected:
  void SetUp() override {
    if (!conv2d_winograd_available(input_shape(), weight_shape(), params())) {
      GTEST_SKIP() << "this CPU has no AVX-512F: ConvAlgorithm::kWinograd does not apply";
    }
  }
  [[nodiscard]] Shape input_shape() const {
    const auto& [n, cin, cout, h, w, pad] = GetParam();
    return Shape{n, cin, h, w};
  }
  [[nodiscard]] Shape weight_shape() const {
    const auto& [n, cin, cout, h, w, pad] = GetParam();
    return Shape{cout, cin, 3, 3};
  }
  [[nodiscard]] Conv2dParams params(ConvAlgorithm algorithm = ConvAlgorithm::kWinograd) const {
    return {1, std::get<5>(GetParam()), algorithm};
  }
};

TEST_P(Conv2dWinograd, ForwardMatchesReferenceLoops) {
  expect_forward_matches_reference(input_shape(), weight_shape(), params(), 61, kWinogradTolerance);
}

TEST_P(Conv2dWinograd, BackwardMatchesTheGradientCheckedDoublePath) {
  expect_backward_matches_double_path(input_shape(), weight_shape(), params(), 64, kWinogradTolerance);
}

TEST_P(Conv2dWinograd, DxIsTheFiniteDifferenceOfTheForwardPass) {
  // L(x) = sum(r * conv(x, w)) is linear in x, so a central difference with a step of 1 is exact up
  // to rounding: it checks Winograd's dx against Winograd's own forward pass through the public op.
  const Tensor x = random_tensor<float>(input_shape(), 67);
  const Tensor w = random_tensor<float>(weight_shape(), 68);
  const Shape out = conv2d_output_shape(x.shape(), w.shape(), params());
  const Tensor r = random_tensor<float>(out, 69);
  Workspace<float> ws;
  Tensor dx(x.shape()), dw(w.shape());
  conv2d_backward(x, w, r, &dx, dw, nullptr, params(), ws);
  auto loss = [&](const Tensor& input) {
    Tensor y(out);
    conv2d_forward(input, w, nullptr, y, params(), ws);
    double s = 0.0;
    for (std::int64_t i = 0; i < y.size(); ++i) s += static_cast<double>(y[i]) * r[i];
    return s;
  };
  Tensor probe = x.clone();
  for (std::int64_t i = 0; i < x.size(); i += std::max<std::int64_t>(1, x.size() / 13)) {
    const float keep = probe[i];
    probe[i] = keep + 1.0f;
    const double up = loss(probe);
    probe[i] = keep - 1.0f;
    const double down = loss(probe);
    probe[i] = keep;
    // Only the outputs of the (at most 4) tiles that read x[i] differ between up and down; the others
    // are bitwise equal and cancel (up to double rounding), so the difference carries the float
    // rounding of a few dozen outputs per output channel.
    EXPECT_NEAR((up - down) / 2.0, dx[i], 1e-4 * (1.0 + std::abs(dx[i]))) << "x[" << i << "]";
  }
}

TEST_P(Conv2dWinograd, FusedInputReluAndAddModeMatchTheDoublePath) {
  expect_fused_relu_and_add_mode_match_double_path(input_shape(), weight_shape(), params(), 70,
                                                   kWinogradTolerance);
}

INSTANTIATE_TEST_SUITE_P(ShapesAndBlocks, Conv2dWinograd,
                         ::testing::Values(WinogradCase{3, 2, 4, 6, 5, 1}, WinogradCase{2, 3, 11, 9, 17, 1},
                                           WinogradCase{5, 16, 16, 8, 8, 1}, WinogradCase{2, 5, 9, 7, 7, 0},
                                           WinogradCase{2, 4, 6, 6, 6, 2}, WinogradCase{2, 3, 17, 33, 35, 1},
                                           WinogradCase{7, 32, 16, 14, 14, 1},
                                           WinogradCase{20, 16, 32, 7, 7, 1},
                                           WinogradCase{3, 1, 16, 28, 28, 1},
                                           WinogradCase{2, 64, 64, 5, 4, 1}, WinogradCase{2, 3, 5, 1, 1, 2},
                                           WinogradCase{3, 8, 24, 3, 30, 1}));

TEST(Conv2d, WinogradAlgorithmRefusesWhatItCannotRun) {
  const Tensor x(Shape{2, 3, 8, 8});
  Workspace<float> ws;
  const Tensor w5(Shape{4, 3, 5, 5});
  Tensor y5(Shape{2, 4, 8, 8});
  testing::expect_invalid_argument(
      [&] {
        conv2d_forward(x, w5, nullptr, y5, {1, 2, ConvAlgorithm::kWinograd}, ws);
      },
      "conv2d_forward: ConvAlgorithm::kWinograd needs float tensors, a 3x3 kernel, stride 1");
  const Tensor w(Shape{4, 3, 3, 3});
  Tensor y2(Shape{2, 4, 4, 4});
  Tensor dw(w.shape());
  testing::expect_invalid_argument(
      [&] {
        conv2d_backward(x, w, y2, nullptr, dw, nullptr, {2, 1, ConvAlgorithm::kWinograd}, ws);
      },
      "conv2d_backward: ConvAlgorithm::kWinograd");
  const TensorD xd(Shape{2, 3, 8, 8});
  const TensorD wd(Shape{4, 3, 3, 3});
  TensorD yd(Shape{2, 4, 8, 8});
  Workspace<double> wsd;
  testing::expect_invalid_argument(
      [&] {
        conv2d_forward(xd, wd, nullptr, yd, {1, 1, ConvAlgorithm::kWinograd}, wsd);
      },
      "ConvAlgorithm::kWinograd needs float tensors");
}

}  // namespace
}  // namespace alphax::tensor

namespace alphax::tensor {
namespace {

/// (algorithm, stride, cin, cout, kernel, batch norm's fused ReLU, the convolution's input ReLU,
/// kAdd into dx): a convolution followed by batch norm.
using BnGradCase = std::tuple<ConvAlgorithm, int, int, int, int, bool, bool, bool>;

class Conv2dBatchNormGrad : public ::testing::TestWithParam<BnGradCase> {};

template <Scalar T>
void expect_bitwise_equal(const BasicTensor<T>& a, const BasicTensor<T>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::int64_t i = 0; i < a.size(); ++i) ASSERT_TRUE(a[i] == b[i]) << what << "[" << i << "]";
}

/// conv2d_backward(dy, BatchNormGrad from batch_norm_backward_map) against batch_norm_backward then
/// conv2d_backward on its dx: every gradient bit for bit, on the direct kernels (where the map is
/// applied per sample inside the convolution) and on the paths that form the whole gradient first.
template <Scalar T>
void check_batch_norm_grad(const BnGradCase& c) {
  const auto [algorithm, stride, cin, cout, kernel, bn_relu, input_relu, add] = c;
  const Conv2dParams p{stride, kernel / 2, algorithm, input_relu ? Activation::kRelu : Activation::kNone};
  const BasicTensor<T> x = random_tensor<T>(Shape{5, cin, 9, 10}, 81);
  const BasicTensor<T> w = random_tensor<T>(Shape{cout, cin, kernel, kernel}, 82);
  const Shape out = conv2d_output_shape(x.shape(), w.shape(), p);
  Workspace<T> ws;
  BasicTensor<T> conv(out), y(out);
  conv2d_forward(x, w, nullptr, conv, p, ws);
  const BasicTensor<T> gamma = random_tensor<T>(Shape{cout}, 83);
  const BasicTensor<T> beta = random_tensor<T>(Shape{cout}, 84);
  BasicTensor<T> rmean(Shape{cout}), rvar(Shape{cout}), smean(Shape{cout}), sinv(Shape{cout});
  const BatchNormParams bp{.activation = bn_relu ? Activation::kRelu : Activation::kNone};
  batch_norm_forward(conv, y, &gamma, &beta, rmean, rvar, smean, sinv, bp);
  const BasicTensor<T> dy = random_tensor<T>(out, 85);
  const GradMode mode = add ? GradMode::kAdd : GradMode::kWrite;

  BasicTensor<T> dc(out), dg(Shape{cout}), db(Shape{cout}), dw(w.shape());
  BasicTensor<T> dx = random_tensor<T>(x.shape(), 86);
  batch_norm_backward(conv, y, dy, &gamma, smean, sinv, dc, &dg, &db, bp);
  conv2d_backward(x, w, dc, &dx, dw, nullptr, p, ws, mode);

  BasicTensor<T> map(Shape{cout, 4}), dg2(Shape{cout}), db2(Shape{cout}), dw2(w.shape());
  BasicTensor<T> dx2 = random_tensor<T>(x.shape(), 86);
  batch_norm_backward_map(conv, y, dy, &gamma, smean, sinv, map, &dg2, &db2, bp);
  const BatchNormGrad<T> bn{&map, &conv, bn_relu ? &y : nullptr};
  conv2d_backward(x, w, dy, &dx2, dw2, nullptr, p, ws, mode, &bn);

  expect_bitwise_equal(dg2, dg, "dgamma");
  expect_bitwise_equal(db2, db, "dbeta");
  expect_bitwise_equal(dw2, dw, "dweight");
  expect_bitwise_equal(dx2, dx, "dx");
}

TEST_P(Conv2dBatchNormGrad, EqualsBatchNormBackwardThenConvolutionBackwardBitwise) {
  const auto c = GetParam();
  const auto [algorithm, stride, cin, cout, kernel, bn_relu, input_relu, add] = c;
  const Conv2dParams p{stride, kernel / 2, algorithm};
  const Shape in{5, cin, 9, 10}, wshape{cout, cin, kernel, kernel};
  if ((algorithm == ConvAlgorithm::kDirect && !conv2d_direct_available(in, wshape, p)) ||
      (algorithm == ConvAlgorithm::kWinograd && !conv2d_winograd_available(in, wshape, p))) {
    GTEST_SKIP() << "no AVX-512F";
  }
  check_batch_norm_grad<float>(c);
  if (algorithm == ConvAlgorithm::kGemm) check_batch_norm_grad<double>(c);
}

INSTANTIATE_TEST_SUITE_P(
    PathsAndMasks, Conv2dBatchNormGrad,
    ::testing::Values(
        // direct kernels, map applied per sample: wide (< 32 outputs), channels-last, strided (phase dx)
        BnGradCase{ConvAlgorithm::kDirect, 1, 16, 16, 3, false, true, false},
        BnGradCase{ConvAlgorithm::kDirect, 1, 16, 32, 3, true, false, true},
        BnGradCase{ConvAlgorithm::kDirect, 2, 16, 32, 3, false, true, true},
        BnGradCase{ConvAlgorithm::kAuto, 1, 3, 5, 3, true, true, false},
        // the whole output gradient formed first: GEMM (float and double), 1x1 under kAuto, Winograd
        BnGradCase{ConvAlgorithm::kGemm, 1, 4, 6, 3, true, false, true},
        BnGradCase{ConvAlgorithm::kGemm, 2, 4, 6, 3, false, true, false},
        BnGradCase{ConvAlgorithm::kAuto, 1, 8, 8, 1, false, false, false},
        BnGradCase{ConvAlgorithm::kWinograd, 1, 16, 16, 3, false, true, false}));

TEST(Conv2d, BatchNormGradRejectsABiasGradientAndWrongShapes) {
  const Tensor x = random_tensor<float>(Shape{2, 3, 6, 6}, 91);
  const Tensor w = random_tensor<float>(Shape{4, 3, 3, 3}, 92);
  const Tensor dy = random_tensor<float>(Shape{2, 4, 6, 6}, 93);
  Tensor dw(w.shape()), db(Shape{4});
  Tensor map(Shape{4, 4});
  Workspace<float> ws;
  const BatchNormGrad<float> bn{&map, &dy, nullptr};
  testing::expect_invalid_argument(
      [&] {
        conv2d_backward(x, w, dy, nullptr, dw, &db, {1, 1}, ws, GradMode::kWrite, &bn);
      },
      "conv2d_backward: a bias gradient with BatchNormGrad is not supported");
  const Tensor wrong_map(Shape{3, 4});
  const BatchNormGrad<float> bad{&wrong_map, &dy, nullptr};
  testing::expect_invalid_argument(
      [&] {
        conv2d_backward(x, w, dy, nullptr, dw, nullptr, {1, 1}, ws, GradMode::kWrite, &bad);
      },
      "batch-norm map");
}

}  // namespace
}  // namespace alphax::tensor
