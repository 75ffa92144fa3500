#pragma once
// Private helpers shared by the op implementations: argument checks that throw with the op's name,
// and small loop utilities.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "alphax/tensor/tensor.hpp"
#include "direct_conv.hpp"

namespace alphax::tensor::detail {

/// \brief Throws std::invalid_argument("<where>: <message>").
[[noreturn]] inline void fail(const char* where, const std::string& message) {
  throw std::invalid_argument(std::string(where) + ": " + message);
}

/// \brief Requires `t` to have rank `rank` and at least one element.
template <Scalar T>
void require_rank(const char* where, const char* what, const BasicTensor<T>& t, int rank) {
  if (t.data() == nullptr) fail(where, std::string(what) + " is empty (no storage); allocate it first");
  if (t.rank() != rank) {
    fail(where, std::string(what) + " must have rank " + std::to_string(rank) + ", has shape " +
                    t.shape().to_string());
  }
}

/// \brief Requires `t` to be non-empty and to hold exactly `count` elements.
template <Scalar T>
void require_size(const char* where, const char* what, const BasicTensor<T>& t, std::int64_t count) {
  if (t.data() == nullptr) fail(where, std::string(what) + " is empty (no storage); allocate it first");
  if (t.size() != count) {
    fail(where, std::string(what) + " has " + std::to_string(t.size()) + " elements (shape " +
                    t.shape().to_string() + "), expected " + std::to_string(count));
  }
}

/// \brief Requires `t` to have exactly `expected` as shape.
template <Scalar T>
void require_same_shape(const char* where, const char* what, const BasicTensor<T>& t, const Shape& expected) {
  if (t.data() == nullptr) fail(where, std::string(what) + " is empty (no storage); allocate it first");
  require_shape(where, what, t.shape(), expected);
}

/// \brief Stores v into out according to mode (write or add).
template <typename T>
inline void store(T& out, T v, GradMode mode) noexcept {
  if (mode == GradMode::kAdd) {
    out += v;
  } else {
    out = v;
  }
}

/// \brief Rounds n up to a multiple of 16 elements (64 bytes for float) so per-thread slices stay aligned.
inline std::size_t round_up16(std::size_t n) noexcept { return (n + 15) / 16 * 16; }

/// \brief out = {mean, sum of squared deviations from the mean} of the n values at x (two passes,
/// in T with the results in double; the plane is in cache for the second pass).
template <typename T>
void plane_moments(const T* x, std::int64_t n, double* out) {
  // Float planes take the AVX-512 form where the CPU has it, on every path (convolutions of any
  // algorithm and plane_moments agree bit for bit): one add chain per accumulator is latency-bound.
  if constexpr (std::is_same_v<T, float>) {
    if (direct_conv_supported()) {
      plane_moments_avx512(x, n, out);
      return;
    }
  }
  T s{0};
#pragma omp simd reduction(+ : s)
  for (std::int64_t i = 0; i < n; ++i) s += x[i];
  const T mean = s / static_cast<T>(n);
  T m2{0};
#pragma omp simd reduction(+ : m2)
  for (std::int64_t i = 0; i < n; ++i) m2 += (x[i] - mean) * (x[i] - mean);
  out[0] = static_cast<double>(mean);
  out[1] = static_cast<double>(m2);
}

/// \brief Below this many elements an element-wise loop runs on one thread (fork/join costs more).
inline constexpr std::int64_t kParallelThreshold = 1 << 15;

}  // namespace alphax::tensor::detail
