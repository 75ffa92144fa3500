#pragma once
// Private: batch norm whose batch statistics are summed over a data-parallel group (synchronised
// batch norm), so G replicas with shards of a global batch normalise exactly like one replica with
// the whole batch. The group sum is a callback (the Network's batch-norm reducer).
#include <functional>
#include <span>
#include <vector>

#include "alphax/tensor/tensor.hpp"

namespace alphax::train {

// Sums a small buffer of doubles over the group in place (allreduce, sum).
using BatchStatReducer = std::function<void(std::span<double>)>;

// One batch-norm layer's synchronised path: per-channel sums of x and x^2 are reduced in forward,
// sums of dy and dy*xhat in backward. Shapes as in lib/tensor's batch_norm_forward.
class SyncBatchNorm {
 public:
  // Training-mode forward with group statistics; writes y (ReLU fused when `relu`), the statistics
  // used (saved_mean, saved_invstd) and updates the running statistics (unbiased variance).
  void forward(const tensor::Tensor& x, tensor::Tensor& y, const tensor::Tensor& gamma, const tensor::Tensor& beta,
               tensor::Tensor& running_mean, tensor::Tensor& running_var, tensor::Tensor& saved_mean,
               tensor::Tensor& saved_invstd, double momentum, double eps, bool relu, const BatchStatReducer& reduce);

  // Gradients of forward(): dx (written or added per `mode`), and the LOCAL contributions to
  // dgamma, dbeta (added; the group's gradient allreduce sums them).
  void backward(const tensor::Tensor& x, const tensor::Tensor& y, const tensor::Tensor& dy,
                const tensor::Tensor& gamma, const tensor::Tensor& saved_mean, const tensor::Tensor& saved_invstd,
                tensor::Tensor& dx, tensor::Tensor& dgamma, tensor::Tensor& dbeta, bool relu, tensor::GradMode mode,
                const BatchStatReducer& reduce);

 private:
  std::vector<double> sums_;
  double count_ = 0;  // samples x pixels of the global batch, per channel
};

}  // namespace alphax::train
