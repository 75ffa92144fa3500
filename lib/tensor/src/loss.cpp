#include "alphax/tensor/loss.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "check.hpp"

namespace alphax::tensor {
namespace {

template <typename T>
void check_logits(const char* where, const BasicTensor<T>& logits, std::size_t labels) {
  detail::require_rank(where, "logits", logits, 2);
  if (static_cast<std::size_t>(logits.dim(0)) != labels) {
    detail::fail(where, "logits " + logits.shape().to_string() + " have " + std::to_string(logits.dim(0)) +
                            " rows but " + std::to_string(labels) + " labels were given");
  }
  if (logits.dim(1) < 1) detail::fail(where, "logits " + logits.shape().to_string() + " have no classes");
}

void check_label(const char* where, std::int32_t label, std::int64_t row, std::int64_t classes) {
  if (label < 0 || label >= classes) {
    throw std::out_of_range(std::string(where) + ": label " + std::to_string(label) + " of sample " +
                            std::to_string(row) + " is outside [0, " + std::to_string(classes) +
                            "); check the data set's labels against the number of classes");
  }
}

}  // namespace

template <Scalar T>
T softmax_cross_entropy(const BasicTensor<T>& logits, std::span<const std::int32_t> labels,
                        std::type_identity_t<BasicTensor<T>>* dlogits) {
  constexpr const char* kWhere = "softmax_cross_entropy";
  check_logits(kWhere, logits, labels.size());
  const std::int64_t n = logits.dim(0);
  const std::int64_t k = logits.dim(1);
  if (dlogits != nullptr) detail::require_same_shape(kWhere, "logit gradient", *dlogits, logits.shape());
  for (std::int64_t r = 0; r < n; ++r) check_label(kWhere, labels[static_cast<std::size_t>(r)], r, k);
  double total = 0.0;
  const T inv_n = T{1} / static_cast<T>(n);
  for (std::int64_t r = 0; r < n; ++r) {
    const T* row = logits.data() + r * k;
    T max_logit = row[0];
    for (std::int64_t j = 1; j < k; ++j) max_logit = std::max(max_logit, row[j]);
    double sum = 0.0;
    for (std::int64_t j = 0; j < k; ++j) sum += std::exp(static_cast<double>(row[j] - max_logit));
    const double log_sum = std::log(sum);
    const std::int32_t label = labels[static_cast<std::size_t>(r)];
    total += log_sum - static_cast<double>(row[label] - max_logit);
    if (dlogits != nullptr) {
      T* grad = dlogits->data() + r * k;
      for (std::int64_t j = 0; j < k; ++j) {
        const double p = std::exp(static_cast<double>(row[j] - max_logit) - log_sum);
        grad[j] = static_cast<T>(p) * inv_n;
      }
      grad[label] -= inv_n;
    }
  }
  return static_cast<T>(total / static_cast<double>(n));
}

template <Scalar T>
void argmax_rows(const BasicTensor<T>& logits, std::span<std::int32_t> out) {
  constexpr const char* kWhere = "argmax_rows";
  check_logits(kWhere, logits, out.size());
  const std::int64_t k = logits.dim(1);
  for (std::int64_t r = 0; r < logits.dim(0); ++r) {
    const T* row = logits.data() + r * k;
    std::int64_t best = 0;
    for (std::int64_t j = 1; j < k; ++j) {
      if (row[j] > row[best]) best = j;
    }
    out[static_cast<std::size_t>(r)] = static_cast<std::int32_t>(best);
  }
}

template <Scalar T>
std::int64_t count_correct(const BasicTensor<T>& logits, std::span<const std::int32_t> labels) {
  constexpr const char* kWhere = "count_correct";
  check_logits(kWhere, logits, labels.size());
  const std::int64_t k = logits.dim(1);
  std::int64_t correct = 0;
  for (std::int64_t r = 0; r < logits.dim(0); ++r) {
    const T* row = logits.data() + r * k;
    std::int64_t best = 0;
    for (std::int64_t j = 1; j < k; ++j) {
      if (row[j] > row[best]) best = j;
    }
    if (best == labels[static_cast<std::size_t>(r)]) ++correct;
  }
  return correct;
}

#define ALPHAX_INSTANTIATE_LOSS(T)                                                          \
  template T softmax_cross_entropy<T>(const BasicTensor<T>&, std::span<const std::int32_t>, \
                                      BasicTensor<T>*);                                     \
  template void argmax_rows<T>(const BasicTensor<T>&, std::span<std::int32_t>);             \
  template std::int64_t count_correct<T>(const BasicTensor<T>&, std::span<const std::int32_t>);
ALPHAX_INSTANTIATE_LOSS(float)
ALPHAX_INSTANTIATE_LOSS(double)
#undef ALPHAX_INSTANTIATE_LOSS

}  // namespace alphax::tensor
