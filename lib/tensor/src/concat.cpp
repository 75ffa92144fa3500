#include "alphax/tensor/concat.hpp"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "check.hpp"

namespace alphax::tensor {
namespace {

/// Checks that the parts stack to y on dim 1; returns nothing, throws naming the offending part.
template <typename T, typename Part>
void check_parts(const char* where, std::span<Part* const> parts, const BasicTensor<T>& y,
                 const char* y_name) {
  detail::require_rank(where, y_name, y, 4);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i] == nullptr) continue;
    const std::string what = "part " + std::to_string(i);
    detail::require_rank(where, what.c_str(), *parts[i], 4);
    const Shape& s = parts[i]->shape();
    if (s[0] != y.dim(0) || s[2] != y.dim(2) || s[3] != y.dim(3)) {
      detail::fail(where, what + " has shape " + s.to_string() + ", which does not match " + y_name + " " +
                              y.shape().to_string() + " outside the channel dimension");
    }
  }
}

}  // namespace

template <Scalar T>
void concat_channels_forward(std::type_identity_t<std::span<const BasicTensor<T>* const>> inputs,
                             BasicTensor<T>& y) {
  constexpr const char* kWhere = "concat_channels_forward";
  check_parts<T, const BasicTensor<T>>(kWhere, inputs, y, "output");
  std::int64_t channels = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i] == nullptr) detail::fail(kWhere, "input " + std::to_string(i) + " is null");
    channels += inputs[i]->dim(1);
  }
  if (channels != y.dim(1)) {
    detail::fail(kWhere, "inputs have " + std::to_string(channels) + " channels in total, output " +
                             y.shape().to_string() + " has " + std::to_string(y.dim(1)));
  }
  const std::int64_t n = y.dim(0);
  const std::int64_t plane = y.dim(2) * y.dim(3);
#pragma omp parallel for schedule(static) if (y.size() >= detail::kParallelThreshold)
  for (std::int64_t s = 0; s < n; ++s) {
    T* out = y.data() + s * y.dim(1) * plane;
    for (const BasicTensor<T>* part : inputs) {
      const std::int64_t count = part->dim(1) * plane;
      std::memcpy(out, part->data() + s * count, static_cast<std::size_t>(count) * sizeof(T));
      out += count;
    }
  }
}

template <Scalar T>
void concat_channels_backward(const BasicTensor<T>& dy,
                              std::type_identity_t<std::span<BasicTensor<T>* const>> dinputs, GradMode mode) {
  constexpr const char* kWhere = "concat_channels_backward";
  check_parts<T, BasicTensor<T>>(kWhere, dinputs, dy, "output gradient");
  std::int64_t channels = 0;
  for (std::size_t i = 0; i < dinputs.size(); ++i) {
    if (dinputs[i] == nullptr) {
      detail::fail(kWhere,
                   "input gradient " + std::to_string(i) +
                       " is null; the channel split needs every part's shape (pass a scratch tensor)");
    }
    channels += dinputs[i]->dim(1);
  }
  if (channels != dy.dim(1)) {
    detail::fail(kWhere, "input gradients have " + std::to_string(channels) +
                             " channels in total, output gradient " + dy.shape().to_string() + " has " +
                             std::to_string(dy.dim(1)));
  }
  const std::int64_t n = dy.dim(0);
  const std::int64_t plane = dy.dim(2) * dy.dim(3);
#pragma omp parallel for schedule(static) if (dy.size() >= detail::kParallelThreshold)
  for (std::int64_t s = 0; s < n; ++s) {
    const T* in = dy.data() + s * dy.dim(1) * plane;
    for (BasicTensor<T>* part : dinputs) {
      const std::int64_t count = part->dim(1) * plane;
      T* out = part->data() + s * count;
      if (mode == GradMode::kAdd) {
        for (std::int64_t i = 0; i < count; ++i) out[i] += in[i];
      } else {
        std::memcpy(out, in, static_cast<std::size_t>(count) * sizeof(T));
      }
      in += count;
    }
  }
}

#define ALPHAX_INSTANTIATE_CONCAT(T)                                                                 \
  template void concat_channels_forward<T>(std::span<const BasicTensor<T>* const>, BasicTensor<T>&); \
  template void concat_channels_backward<T>(const BasicTensor<T>&, std::span<BasicTensor<T>* const>, \
                                            GradMode);
ALPHAX_INSTANTIATE_CONCAT(float)
ALPHAX_INSTANTIATE_CONCAT(double)
#undef ALPHAX_INSTANTIATE_CONCAT

}  // namespace alphax::tensor
