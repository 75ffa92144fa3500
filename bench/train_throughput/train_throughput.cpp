// Training-step throughput of an alphax network on random data: prints one line
// "alphax <net> images_per_second <x>" per repeat. Used by run.sh against pytorch_step.py.
//   alphax_train_throughput --net nb201|plain [--batch 128] [--threads 2] [--steps 20] [--warmup 3]
//                           [--repeats 1] [--channels C] [--seed 1]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "alphax/tensor/ops.hpp"
#include "alphax/train/network.hpp"
#include "alphax/train/optimizer.hpp"

namespace {

constexpr const char* kCell =
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";

struct Options {
  std::string net = "nb201";
  std::int64_t batch = 128;
  int threads = 2;
  int steps = 20;
  int warmup = 3;
  int repeats = 1;
  int channels = 0;  // 0: 16 for nb201, 32 for plain
  std::uint64_t seed = 1;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument("train_throughput: option " + a + " needs a value");
    const std::string v = argv[++i];
    if (a == "--net")
      o.net = v;
    else if (a == "--batch")
      o.batch = std::stoll(v);
    else if (a == "--threads")
      o.threads = std::stoi(v);
    else if (a == "--steps")
      o.steps = std::stoi(v);
    else if (a == "--warmup")
      o.warmup = std::stoi(v);
    else if (a == "--repeats")
      o.repeats = std::stoi(v);
    else if (a == "--channels")
      o.channels = std::stoi(v);
    else if (a == "--seed")
      o.seed = std::stoull(v);
    else
      throw std::invalid_argument("train_throughput: unknown option " + a);
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) try {
  using namespace alphax;
  const Options o = parse(argc, argv);
  tensor::set_num_threads(o.threads);
  train::NetworkSpec spec;
  spec.skeleton = o.net;
  if (o.net == "nb201") spec.cell = train::parse_nb201_cell(kCell);
  spec.channels = o.channels > 0 ? o.channels : (o.net == "nb201" ? 16 : 32);
  spec.cells_per_stage = 1;
  train::Network net(spec);
  net.initialize(o.seed);
  train::OptimizerConfig oc;
  oc.lr = 0.01;
  train::Sgd sgd(oc);

  std::mt19937_64 rng(o.seed);
  tensor::Tensor x(tensor::Shape{o.batch, 1, 28, 28});
  tensor::fill_normal(x, 0.0f, 1.0f, rng);
  std::vector<std::int32_t> labels(static_cast<std::size_t>(o.batch));
  for (auto& l : labels) l = static_cast<std::int32_t>(rng() % 10);
  tensor::Tensor dlogits(tensor::Shape{o.batch, 10});

  auto step = [&](std::int64_t it) {
    const auto& logits = net.forward(x, true);
    const float loss = tensor::softmax_cross_entropy(logits, std::span<const std::int32_t>(labels), &dlogits);
    net.backward(dlogits);
    sgd.step(net.parameters().values(), net.parameters().grads(), train::StepInfo{0.01, loss, it, 0});
  };
  for (int i = 0; i < o.warmup; ++i) step(i);
  for (int r = 0; r < o.repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < o.steps; ++i) step(i);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("alphax %s images_per_second %.1f\n", o.net.c_str(),
                static_cast<double>(o.batch * o.steps) / s);
    std::fflush(stdout);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s\n", e.what());
  return 1;
}
