#pragma once
// Private: the element-wise loops behind elementwise.hpp. OpenMP by default; with ALPHAX_HAVE_KOKKOS
// the same loops run as Kokkos::parallel_for on the host execution space (elementwise_kokkos.cpp).
#include <cstdint>

namespace alphax::tensor::detail {

template <typename T>
void relu_kernel(const T* x, T* y, std::int64_t n);
template <typename T>
void relu_backward_kernel(const T* y, const T* dy, T* dx, std::int64_t n, bool accumulate);
template <typename T>
void add_kernel(const T* a, const T* b, T* y, std::int64_t n);
template <typename T>
void axpy_kernel(T alpha, const T* x, T* y, std::int64_t n);
template <typename T>
void scale_kernel(T alpha, T* y, std::int64_t n);

}  // namespace alphax::tensor::detail
