#pragma once
/// \file
/// \brief Workspace: caller-owned scratch memory (im2col columns, per-thread partial gradients) that
/// ops reuse across calls so that a training step allocates nothing once it is warmed up.
#include <cstddef>
#include <memory>

#include "alphax/tensor/tensor.hpp"

namespace alphax::tensor {

/// \brief A growable, 64-byte aligned scratch buffer owned by the caller and lent to ops.
///
/// An op asks for the elements it needs with reserve(); the buffer reallocates only when it is too
/// small, so a workspace reserved up front (e.g. with conv2d_workspace_size) never allocates again.
/// Contents are unspecified between calls. Not thread-safe: one workspace per concurrent caller.
template <Scalar T>
class Workspace {
 public:
  /// \brief An empty workspace.
  Workspace() = default;
  /// \brief A workspace with room for `count` elements.
  explicit Workspace(std::size_t count) { reserve(count); }

  /// \brief Returns a pointer to at least `count` elements, growing the buffer if needed.
  T* reserve(std::size_t count) {
    if (count > capacity_) {
      storage_ = allocate_aligned<T>(count);
      capacity_ = count;
    }
    return storage_.get();
  }
  /// \brief Number of elements available without reallocating.
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

 private:
  std::unique_ptr<T[], AlignedDelete> storage_;
  std::size_t capacity_ = 0;
};

}  // namespace alphax::tensor
