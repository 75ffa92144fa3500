// The OpenMP element-wise kernels (used unless the Kokkos build replaces them).
#ifndef ALPHAX_HAVE_KOKKOS
#include <omp.h>

#include "check.hpp"
#include "elementwise_kernels.hpp"

namespace alphax::tensor::detail {

template <typename T>
void relu_kernel(const T* x, T* y, std::int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelThreshold)
  for (std::int64_t i = 0; i < n; ++i) {
    const T v = x[i];
    y[i] = v > T{0} ? v : T{0};
  }
}

// Operands are loaded into locals before the select so that the compiler if-converts and vectorises
// the loop (a conditional load is control flow; a branch per element mispredicts half the time).
template <typename T>
void relu_backward_kernel(const T* y, const T* dy, T* dx, std::int64_t n, bool accumulate) {
  if (accumulate) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelThreshold)
    for (std::int64_t i = 0; i < n; ++i) {
      const T d = dy[i];
      const T v = y[i];
      dx[i] += v > T{0} ? d : T{0};
    }
  } else {
#pragma omp parallel for simd schedule(static) if (n >= kParallelThreshold)
    for (std::int64_t i = 0; i < n; ++i) {
      const T d = dy[i];
      const T v = y[i];
      dx[i] = v > T{0} ? d : T{0};
    }
  }
}

template <typename T>
void add_kernel(const T* a, const T* b, T* y, std::int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelThreshold)
  for (std::int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

template <typename T>
void axpy_kernel(T alpha, const T* x, T* y, std::int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelThreshold)
  for (std::int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

template <typename T>
void scale_kernel(T alpha, T* y, std::int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelThreshold)
  for (std::int64_t i = 0; i < n; ++i) y[i] *= alpha;
}

#define ALPHAX_INSTANTIATE_KERNELS(T)                                                \
  template void relu_kernel<T>(const T*, T*, std::int64_t);                          \
  template void relu_backward_kernel<T>(const T*, const T*, T*, std::int64_t, bool); \
  template void add_kernel<T>(const T*, const T*, T*, std::int64_t);                 \
  template void axpy_kernel<T>(T, const T*, T*, std::int64_t);                       \
  template void scale_kernel<T>(T, T*, std::int64_t);
ALPHAX_INSTANTIATE_KERNELS(float)
ALPHAX_INSTANTIATE_KERNELS(double)
#undef ALPHAX_INSTANTIATE_KERNELS

}  // namespace alphax::tensor::detail
#endif
