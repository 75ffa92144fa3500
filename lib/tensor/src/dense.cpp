#include "alphax/tensor/dense.hpp"

#include <omp.h>

#include <string>

#include "blas.hpp"
#include "check.hpp"

namespace alphax::tensor {
namespace {

struct DenseGeometry {
  std::int64_t n, in, out;
};

template <typename T>
DenseGeometry geometry(const char* where, const BasicTensor<T>& x, const BasicTensor<T>& weight) {
  if (x.data() == nullptr || x.rank() < 1 || x.dim(0) == 0) {
    detail::fail(where, "input must be [N, ...] with N >= 1, has shape " + x.shape().to_string());
  }
  detail::require_rank(where, "weight", weight, 2);
  const std::int64_t n = x.dim(0);
  const std::int64_t in = x.size() / n;
  if (in != weight.dim(1)) {
    detail::fail(where, "input has " + std::to_string(in) + " features per sample (shape " +
                            x.shape().to_string() + "), weight " + weight.shape().to_string() + " expects " +
                            std::to_string(weight.dim(1)));
  }
  return {n, in, weight.dim(0)};
}

template <typename T>
void check_bias(const char* where, const char* what, const BasicTensor<T>* bias, std::int64_t out) {
  if (bias != nullptr) detail::require_same_shape(where, what, *bias, Shape{out});
}

}  // namespace

template <Scalar T>
void dense_forward(const BasicTensor<T>& x, const BasicTensor<T>& weight,
                   const std::type_identity_t<BasicTensor<T>>* bias, BasicTensor<T>& y) {
  constexpr const char* kWhere = "dense_forward";
  const DenseGeometry g = geometry(kWhere, x, weight);
  check_bias(kWhere, "bias", bias, g.out);
  detail::require_same_shape(kWhere, "output", y, Shape{g.n, g.out});
  // y [N, out] = x [N, in] * W^T [in, out]
  detail::parallel_gemm(false, true, g.n, g.out, g.in, T{1}, x.data(), g.in, weight.data(), g.in, T{0},
                        y.data(), g.out);
  if (bias != nullptr) {
    for (std::int64_t r = 0; r < g.n; ++r) {
      for (std::int64_t o = 0; o < g.out; ++o) y.data()[r * g.out + o] += (*bias)[o];
    }
  }
}

template <Scalar T>
void dense_backward(const BasicTensor<T>& x, const BasicTensor<T>& weight, const BasicTensor<T>& dy,
                    std::type_identity_t<BasicTensor<T>>* dx, BasicTensor<T>& dweight,
                    std::type_identity_t<BasicTensor<T>>* dbias, GradMode mode) {
  constexpr const char* kWhere = "dense_backward";
  const DenseGeometry g = geometry(kWhere, x, weight);
  detail::require_same_shape(kWhere, "output gradient", dy, Shape{g.n, g.out});
  detail::require_same_shape(kWhere, "weight gradient", dweight, weight.shape());
  check_bias(kWhere, "bias gradient", dbias, g.out);
  if (dx != nullptr) detail::require_size(kWhere, "input gradient", *dx, x.size());
  const T beta = mode == GradMode::kAdd ? T{1} : T{0};
  // dW [out, in] = dy^T [out, N] * x [N, in]
  detail::parallel_gemm(true, false, g.out, g.in, g.n, T{1}, dy.data(), g.out, x.data(), g.in, beta,
                        dweight.data(), g.in);
  if (dx != nullptr) {
    // dx [N, in] = dy [N, out] * W [out, in]
    detail::parallel_gemm(false, false, g.n, g.in, g.out, T{1}, dy.data(), g.out, weight.data(), g.in, beta,
                          dx->data(), g.in);
  }
  if (dbias != nullptr) {
    for (std::int64_t o = 0; o < g.out; ++o) {
      T sum{0};
      for (std::int64_t r = 0; r < g.n; ++r) sum += dy.data()[r * g.out + o];
      detail::store((*dbias)[o], sum, mode);
    }
  }
}

#define ALPHAX_INSTANTIATE_DENSE(T)                                                                    \
  template void dense_forward<T>(const BasicTensor<T>&, const BasicTensor<T>&, const BasicTensor<T>*,  \
                                 BasicTensor<T>&);                                                     \
  template void dense_backward<T>(const BasicTensor<T>&, const BasicTensor<T>&, const BasicTensor<T>&, \
                                  BasicTensor<T>*, BasicTensor<T>&, BasicTensor<T>*, GradMode);
ALPHAX_INSTANTIATE_DENSE(float)
ALPHAX_INSTANTIATE_DENSE(double)
#undef ALPHAX_INSTANTIATE_DENSE

}  // namespace alphax::tensor
