// The element-wise kernels as Kokkos::parallel_for on the default host execution space (built
// when ALPHAX_ENABLE_KOKKOS is ON; replaces elementwise_openmp.cpp). Kokkos is initialised on
// first use if the application has not done so, and finalised at exit in that case.
#ifdef ALPHAX_HAVE_KOKKOS
#include <Kokkos_Core.hpp>

#include <cstdlib>
#include <mutex>

#include "elementwise_kernels.hpp"

namespace alphax::tensor::detail {
namespace {

using HostSpace = Kokkos::DefaultHostExecutionSpace;

void ensure_kokkos_initialized() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (!Kokkos::is_initialized()) {
      Kokkos::initialize();
      std::atexit([] {
        if (Kokkos::is_initialized()) Kokkos::finalize();
      });
    }
  });
}

template <typename Body>
void for_each_index(std::int64_t n, const char* label, const Body& body) {
  ensure_kokkos_initialized();
  Kokkos::parallel_for(label, Kokkos::RangePolicy<HostSpace, Kokkos::IndexType<std::int64_t>>(0, n), body);
  HostSpace().fence();
}

}  // namespace

template <typename T>
void relu_kernel(const T* x, T* y, std::int64_t n) {
  for_each_index(n, "alphax::relu", [=](std::int64_t i) {
    const T v = x[i];
    y[i] = v > T{0} ? v : T{0};
  });
}

template <typename T>
void relu_backward_kernel(const T* y, const T* dy, T* dx, std::int64_t n, bool accumulate) {
  for_each_index(n, "alphax::relu_backward", [=](std::int64_t i) {
    const T d = dy[i];
    const T v = y[i];
    const T g = v > T{0} ? d : T{0};
    dx[i] = accumulate ? dx[i] + g : g;
  });
}

template <typename T>
void add_kernel(const T* a, const T* b, T* y, std::int64_t n) {
  for_each_index(n, "alphax::add", [=](std::int64_t i) { y[i] = a[i] + b[i]; });
}

template <typename T>
void axpy_kernel(T alpha, const T* x, T* y, std::int64_t n) {
  for_each_index(n, "alphax::axpy", [=](std::int64_t i) { y[i] += alpha * x[i]; });
}

template <typename T>
void scale_kernel(T alpha, T* y, std::int64_t n) {
  for_each_index(n, "alphax::scale", [=](std::int64_t i) { y[i] *= alpha; });
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
