// Op-level timings of lib/tensor at the shapes of the training benchmark (batch 128, 2 threads):
// where does a training step spend its time? Run: build/<dir>/bench/tensor/bench_tensor_ops
// (OMP_NUM_THREADS=2). Each benchmark reports items/s = images/s through that one op.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "alphax/tensor/ops.hpp"

namespace {

using namespace alphax::tensor;

constexpr std::int64_t kBatch = 128;

Tensor random_tensor(const Shape& shape, std::uint64_t seed) {
  Tensor t(shape);
  std::mt19937_64 rng(seed);
  fill_uniform(t, -1.0F, 1.0F, rng);
  return t;
}

/// Args: cin, cout, hw, kernel, stride, algorithm (0 kAuto, 1 kGemm, 2 kDirect, 3 kWinograd).
void conv_args(benchmark::internal::Benchmark* b) {
  const std::vector<std::vector<std::int64_t>> shapes = {
      {16, 16, 28, 3, 1}, {16, 16, 28, 1, 1}, {1, 16, 28, 3, 1},  {16, 32, 28, 3, 2}, {32, 64, 14, 3, 2},
      {32, 32, 14, 3, 1}, {64, 64, 7, 3, 1},  {3, 32, 32, 3, 1},  {32, 64, 16, 3, 1}, {1, 32, 28, 3, 1},
      {32, 64, 14, 3, 1}, {64, 128, 7, 3, 1}, {16, 32, 14, 1, 1}, {32, 64, 7, 1, 1}};
  for (const auto& shape : shapes) {
    const Shape input{1, shape[0], shape[2], shape[2]};
    const Shape weight{shape[1], shape[0], shape[3], shape[3]};
    const Conv2dParams params{shape[4], shape[3] / 2};
    for (std::int64_t algorithm : {1, 2, 3}) {
      if ((algorithm == 2 && !conv2d_direct_available(input, weight, params)) ||
          (algorithm == 3 && !conv2d_winograd_available(input, weight, params))) {
        continue;
      }
      auto args = shape;
      args.push_back(algorithm);
      b->Args(args);
    }
  }
  b->ArgNames({"cin", "cout", "hw", "k", "stride", "alg"});
  b->ComputeStatistics("min",
                       [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); });
}

struct ConvFixture {
  explicit ConvFixture(const benchmark::State& state)
      : params{state.range(4), state.range(3) / 2, static_cast<ConvAlgorithm>(state.range(5))},
        x(random_tensor(Shape{kBatch, state.range(0), state.range(2), state.range(2)}, 1)),
        w(random_tensor(Shape{state.range(1), state.range(0), state.range(3), state.range(3)}, 2)),
        y(conv2d_output_shape(x.shape(), w.shape(), params)),
        dx(x.shape()),
        dw(w.shape()),
        workspace(conv2d_workspace_size(x.shape(), w.shape(), params, num_threads())) {}
  Conv2dParams params;
  Tensor x, w, y, dx, dw;
  Workspace<float> workspace;
  [[nodiscard]] double flops() const {
    return static_cast<double>(conv2d_forward_flops(x.shape(), w.shape(), params));
  }
};

void BM_Conv2dForward(benchmark::State& state) {
  ConvFixture f(state);
  for (auto _ : state) {
    conv2d_forward(f.x, f.w, nullptr, f.y, f.params, f.workspace);
    benchmark::DoNotOptimize(f.y.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["GFLOP/s"] =
      benchmark::Counter(f.flops() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Conv2dForward)->Apply(conv_args)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Conv2dBackward(benchmark::State& state) {
  ConvFixture f(state);
  for (auto _ : state) {
    conv2d_backward(f.x, f.w, f.y, &f.dx, f.dw, nullptr, f.params, f.workspace);
    benchmark::DoNotOptimize(f.dx.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2 * f.flops() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Conv2dBackward)->Apply(conv_args)->Unit(benchmark::kMillisecond)->UseRealTime();

/// Args: channels, hw, fused relu.
struct BnFixture {
  explicit BnFixture(const benchmark::State& state)
      : x(random_tensor(Shape{kBatch, state.range(0), state.range(1), state.range(1)}, 3)),
        y(x.shape()),
        dx(x.shape()),
        gamma(Shape{state.range(0)}),
        beta(Shape{state.range(0)}),
        rm(Shape{state.range(0)}),
        rv(Shape{state.range(0)}),
        sm(Shape{state.range(0)}),
        si(Shape{state.range(0)}),
        dgamma(Shape{state.range(0)}),
        dbeta(Shape{state.range(0)}) {
    gamma.fill(1.0F);
    rv.fill(1.0F);
    params.activation = state.range(2) != 0 ? Activation::kRelu : Activation::kNone;
  }
  Tensor x, y, dx, gamma, beta, rm, rv, sm, si, dgamma, dbeta;
  BatchNormParams params;
};

void BM_BatchNormForward(benchmark::State& state) {
  BnFixture f(state);
  for (auto _ : state) {
    batch_norm_forward(f.x, f.y, &f.gamma, &f.beta, f.rm, f.rv, f.sm, f.si, f.params);
    benchmark::DoNotOptimize(f.y.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_BatchNormForward)->Args({16, 28, 0})->Args({16, 28, 1})->Args({64, 7, 0})->UseRealTime();

void BM_BatchNormBackward(benchmark::State& state) {
  BnFixture f(state);
  batch_norm_forward(f.x, f.y, &f.gamma, &f.beta, f.rm, f.rv, f.sm, f.si, f.params);
  for (auto _ : state) {
    batch_norm_backward(f.x, f.y, f.x, &f.gamma, f.sm, f.si, f.dx, &f.dgamma, &f.dbeta, f.params);
    benchmark::DoNotOptimize(f.dx.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_BatchNormBackward)->Args({16, 28, 0})->Args({16, 28, 1})->Args({64, 7, 0})->UseRealTime();

void BM_ReluForwardBackward(benchmark::State& state) {
  const Tensor x = random_tensor(Shape{kBatch, 16, 28, 28}, 4);
  Tensor y(x.shape()), dx(x.shape());
  for (auto _ : state) {
    relu_forward(x, y);
    relu_backward(y, x, dx);
    benchmark::DoNotOptimize(dx.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_ReluForwardBackward)->UseRealTime();

void BM_AddAccumulate(benchmark::State& state) {
  const Tensor a = random_tensor(Shape{kBatch, 16, 28, 28}, 5);
  const Tensor b = random_tensor(Shape{kBatch, 16, 28, 28}, 6);
  Tensor y(a.shape());
  for (auto _ : state) {
    add(a, b, y);
    accumulate(a, y);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_AddAccumulate)->UseRealTime();

/// Args: stride, max (1) or average (0).
void BM_Pool3x3ForwardBackward(benchmark::State& state) {
  const Pool2dParams p{3, state.range(0), 1};
  const Tensor x = random_tensor(Shape{kBatch, 16, 28, 28}, 7);
  Tensor y(pool2d_output_shape(x.shape(), p)), dx(x.shape());
  for (auto _ : state) {
    if (state.range(1) != 0) {
      max_pool2d_forward(x, y, p);
      max_pool2d_backward(x, y, y, dx, p);
    } else {
      avg_pool2d_forward(x, y, p);
      avg_pool2d_backward(y, dx, p);
    }
    benchmark::DoNotOptimize(dx.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_Pool3x3ForwardBackward)->Args({1, 0})->Args({2, 0})->Args({1, 1})->Args({2, 1})->UseRealTime();

/// 2x2 stride-2 pooling: the plain CNN's max pooling at its two sizes and the NAS-Bench-201 residual
/// block's average pooling. Args: channels, height = width, max (1) or average (0).
void BM_Pool2x2ForwardBackward(benchmark::State& state) {
  const Pool2dParams p{2, 2, 0};
  const Tensor x = random_tensor(Shape{kBatch, state.range(0), state.range(1), state.range(1)}, 7);
  Tensor y(pool2d_output_shape(x.shape(), p)), dx(x.shape());
  for (auto _ : state) {
    if (state.range(2) != 0) {
      max_pool2d_forward(x, y, p);
      max_pool2d_backward(x, y, y, dx, p);
    } else {
      avg_pool2d_forward(x, y, p);
      avg_pool2d_backward(y, dx, p);
    }
    benchmark::DoNotOptimize(dx.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_Pool2x2ForwardBackward)->Args({32, 28, 1})->Args({64, 14, 1})->Args({16, 28, 0})->UseRealTime();

void BM_DenseForwardBackward(benchmark::State& state) {
  const Tensor x = random_tensor(Shape{kBatch, state.range(0)}, 8);
  const Tensor w = random_tensor(Shape{10, state.range(0)}, 9);
  const Tensor b(Shape{10});
  Tensor y(Shape{kBatch, 10}), dx(x.shape()), dw(w.shape()), db(Shape{10});
  for (auto _ : state) {
    dense_forward(x, w, &b, y);
    dense_backward(x, w, y, &dx, dw, &db);
    benchmark::DoNotOptimize(dx.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_DenseForwardBackward)->Arg(64)->Arg(4096)->UseRealTime();

void BM_Sgemm(benchmark::State& state) {
  // Reference point: one large single-call GEMM through lib/tensor's dense layer (threads split rows).
  const std::int64_t n = state.range(0);
  const Tensor a = random_tensor(Shape{n, n}, 10);
  const Tensor b = random_tensor(Shape{n, n}, 11);
  Tensor c(Shape{n, n});
  for (auto _ : state) {
    dense_forward(a, b, nullptr, c);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n * n * n * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Sgemm)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
