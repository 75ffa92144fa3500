#pragma once
// Element-wise combination of two blocks: dst[i] = a[i] op b[i] (dst may be a).
#include <cstddef>
#include <cstring>

#include "alphax/comm/types.hpp"

namespace alphax::comm::detail {

template <class T>
void combine_typed(T* dst, const T* a, const T* b, std::size_t count, ReduceOp op) {
  switch (op) {
    case ReduceOp::sum:
      for (std::size_t i = 0; i < count; ++i) dst[i] = a[i] + b[i];
      break;
    case ReduceOp::max:
      for (std::size_t i = 0; i < count; ++i) dst[i] = a[i] < b[i] ? b[i] : a[i];
      break;
    case ReduceOp::min:
      for (std::size_t i = 0; i < count; ++i) dst[i] = b[i] < a[i] ? b[i] : a[i];
      break;
  }
}

/// dst = a op b over `count` elements of `type`.
inline void combine(void* dst, const void* a, const void* b, std::size_t count, DataType type, ReduceOp op) {
  if (type == DataType::float32)
    combine_typed(static_cast<float*>(dst), static_cast<const float*>(a), static_cast<const float*>(b), count,
                  op);
  else
    combine_typed(static_cast<double*>(dst), static_cast<const double*>(a), static_cast<const double*>(b),
                  count, op);
}

}  // namespace alphax::comm::detail
