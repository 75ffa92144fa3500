#pragma once
/// \file
/// \brief Thread control for lib/tensor: OpenMP threads for the ops, BLAS kept single-threaded.
///
/// lib/tensor parallelises with OpenMP (over samples, channels or elements) and calls BLAS from
/// inside those parallel regions, so BLAS itself must run on one thread: Debian's OpenBLAS is the
/// pthread build and would otherwise oversubscribe the cores. Every op makes sure of this itself;
/// set_num_threads() is the one knob a caller needs.

namespace alphax::tensor {

/// \brief Sets the number of OpenMP threads lib/tensor ops use (n >= 1) and pins BLAS to one thread.
void set_num_threads(int n);

/// \brief The number of OpenMP threads lib/tensor ops will use.
[[nodiscard]] int num_threads() noexcept;

}  // namespace alphax::tensor
