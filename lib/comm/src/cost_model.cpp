#include "alphax/comm/cost_model.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

namespace alphax::comm {
namespace {

std::size_t max_block_bytes(Collective collective) {
  return collective == Collective::broadcast ? kMaxBroadcastBlockBytes : kMaxReduceBlockBytes;
}

std::size_t ceil_div(std::size_t a, std::size_t b) { return b == 0 ? 0 : (a + b - 1) / b; }

double log2_ceil(int ranks) {
  return static_cast<double>(std::bit_width(static_cast<unsigned>(std::max(ranks, 1) - 1)));
}

}  // namespace

std::size_t optimal_block_bytes(Collective collective, int ranks, std::size_t bytes, const LinkModel& link) {
  const std::size_t upper = max_block_bytes(collective);
  std::size_t block = kDefaultBlockBytes;
  if (link.alpha_s > 0.0 && link.beta_s_per_byte > 0.0 && ranks > 1 && bytes > 0) {
    const double ideal = std::sqrt(static_cast<double>(bytes) * link.alpha_s /
                                   (static_cast<double>(ranks - 1) * link.beta_s_per_byte));
    block = ideal >= static_cast<double>(upper) ? upper : static_cast<std::size_t>(ideal);
  }
  block = std::clamp(block, kMinBlockBytes, upper);
  return block / 64 * 64;
}

double predict_seconds(Collective collective, Algorithm algorithm, int ranks, std::size_t bytes,
                       std::size_t block_bytes, const LinkModel& link) {
  const double p = ranks;
  const double n = static_cast<double>(bytes);
  const double alpha = link.alpha_s;
  const double beta = link.beta_s_per_byte;
  if (ranks <= 1 || bytes == 0) return 0.0;
  const std::size_t block = std::max<std::size_t>(block_bytes, 1);
  const double b = static_cast<double>(std::min(block, bytes));
  const double blocks = static_cast<double>(ceil_div(bytes, block));
  switch (algorithm) {
    case Algorithm::lp:
      if (collective == Collective::allreduce) {
        const double streams = ranks == 2 ? 1.0 : 2.0;
        return (streams * blocks + 2.0 * p - 3.0) * (alpha + b * beta);
      }
      return (blocks + p - 2.0) * (alpha + b * beta);
    case Algorithm::ring: {
      if (collective != Collective::allreduce) return std::numeric_limits<double>::infinity();
      const double segments =
          std::max(1.0, static_cast<double>(ceil_div(bytes, static_cast<std::size_t>(p) * block)));
      return 2.0 * (p - 1.0) * segments * (alpha + n / (p * segments) * beta);
    }
    case Algorithm::mpi:
      return log2_ceil(ranks) * (alpha + n * beta);
    case Algorithm::automatic:
    case Algorithm::nccl:
      break;
  }
  return std::numeric_limits<double>::infinity();
}

Algorithm choose_algorithm(Collective collective, int ranks, std::size_t bytes, std::size_t lp_block_bytes,
                           std::size_t ring_block_bytes, const LinkModel& link) {
  if (ranks <= 1 || bytes == 0) return Algorithm::lp;
  Algorithm best = Algorithm::lp;
  double best_time = predict_seconds(collective, Algorithm::lp, ranks, bytes, lp_block_bytes, link);
  if (collective == Collective::allreduce) {
    const double ring = predict_seconds(collective, Algorithm::ring, ranks, bytes, ring_block_bytes, link);
    if (ring < best_time) {
      best = Algorithm::ring;
      best_time = ring;
    }
  }
  const double tree = predict_seconds(collective, Algorithm::mpi, ranks, bytes, lp_block_bytes, link);
  return tree * kTreeMargin < best_time ? Algorithm::mpi : best;
}

}  // namespace alphax::comm
