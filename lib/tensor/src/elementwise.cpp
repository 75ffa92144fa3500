#include "alphax/tensor/elementwise.hpp"

#include <omp.h>

#include <cstring>

#include "check.hpp"
#include "elementwise_kernels.hpp"

namespace alphax::tensor {
namespace {

template <typename T>
void require_same_count(const char* where, const char* what, const BasicTensor<T>& t,
                        const BasicTensor<T>& ref, const char* ref_name) {
  if (t.data() == nullptr || ref.data() == nullptr || t.size() != ref.size()) {
    detail::fail(where, std::string(what) + " has shape " + t.shape().to_string() + " but " + ref_name +
                            " has shape " + ref.shape().to_string() +
                            "; they need the same number of elements");
  }
}

}  // namespace

template <Scalar T>
void relu_forward(const BasicTensor<T>& x, BasicTensor<T>& y) {
  require_same_count("relu_forward", "output", y, x, "input");
  detail::relu_kernel(x.data(), y.data(), x.size());
}

template <Scalar T>
void relu_backward(const BasicTensor<T>& y, const BasicTensor<T>& dy, BasicTensor<T>& dx, GradMode mode) {
  require_same_count("relu_backward", "output gradient", dy, y, "output");
  require_same_count("relu_backward", "input gradient", dx, y, "output");
  detail::relu_backward_kernel(y.data(), dy.data(), dx.data(), y.size(), mode == GradMode::kAdd);
}

template <Scalar T>
void add(const BasicTensor<T>& a, const BasicTensor<T>& b, BasicTensor<T>& y) {
  require_same_count("add", "second operand", b, a, "first operand");
  require_same_count("add", "output", y, a, "first operand");
  detail::add_kernel(a.data(), b.data(), y.data(), a.size());
}

template <Scalar T>
void accumulate(const BasicTensor<T>& x, BasicTensor<T>& y) {
  require_same_count("accumulate", "destination", y, x, "source");
  detail::axpy_kernel(T{1}, x.data(), y.data(), x.size());
}

template <Scalar T>
void axpy(T alpha, const BasicTensor<T>& x, BasicTensor<T>& y) {
  require_same_count("axpy", "y", y, x, "x");
  detail::axpy_kernel(alpha, x.data(), y.data(), x.size());
}

template <Scalar T>
void scale(T alpha, BasicTensor<T>& y) {
  if (y.data() == nullptr) detail::fail("scale", "tensor is empty (no storage)");
  detail::scale_kernel(alpha, y.data(), y.size());
}

template <Scalar T>
void copy(const BasicTensor<T>& x, BasicTensor<T>& y) {
  require_same_count("copy", "destination", y, x, "source");
  if (x.data() != y.data()) std::memcpy(y.data(), x.data(), static_cast<std::size_t>(x.size()) * sizeof(T));
}

#define ALPHAX_INSTANTIATE_ELEMENTWISE(T)                                                                  \
  template void relu_forward<T>(const BasicTensor<T>&, BasicTensor<T>&);                                   \
  template void relu_backward<T>(const BasicTensor<T>&, const BasicTensor<T>&, BasicTensor<T>&, GradMode); \
  template void add<T>(const BasicTensor<T>&, const BasicTensor<T>&, BasicTensor<T>&);                     \
  template void accumulate<T>(const BasicTensor<T>&, BasicTensor<T>&);                                     \
  template void axpy<T>(T, const BasicTensor<T>&, BasicTensor<T>&);                                        \
  template void scale<T>(T, BasicTensor<T>&);                                                              \
  template void copy<T>(const BasicTensor<T>&, BasicTensor<T>&);
ALPHAX_INSTANTIATE_ELEMENTWISE(float)
ALPHAX_INSTANTIATE_ELEMENTWISE(double)
#undef ALPHAX_INSTANTIATE_ELEMENTWISE

}  // namespace alphax::tensor
