#pragma once
/// \file
/// \brief Softmax cross-entropy loss (mean over the batch) and classification accuracy helpers.
#include <cstdint>
#include <span>
#include <type_traits>

#include "alphax/tensor/tensor.hpp"

namespace alphax::tensor {

/// \brief Mean over the batch of -log softmax(logits)[label]; logits [N, K], labels N values in [0, K).
///
/// When dlogits is not null it receives d(loss)/d(logits) = (softmax - onehot) / N (overwritten).
/// Throws std::invalid_argument on a size mismatch and std::out_of_range on a label outside [0, K).
template <Scalar T>
T softmax_cross_entropy(const BasicTensor<T>& logits, std::span<const std::int32_t> labels,
                        std::type_identity_t<BasicTensor<T>>* dlogits);

/// \brief out[n] = index of the largest logit of row n (first one on ties); out has N entries.
template <Scalar T>
void argmax_rows(const BasicTensor<T>& logits, std::span<std::int32_t> out);

/// \brief Number of rows whose argmax equals the label.
template <Scalar T>
std::int64_t count_correct(const BasicTensor<T>& logits, std::span<const std::int32_t> labels);

}  // namespace alphax::tensor
