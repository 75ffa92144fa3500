#pragma once
/// \file
/// \brief Thread control for lib/tensor: OpenMP threads for the ops, BLAS kept single-threaded.
///
/// lib/tensor parallelises with OpenMP (over samples, channels or elements) and calls BLAS from
/// inside those parallel regions, so BLAS itself must run on one thread: Debian's OpenBLAS is the
/// pthread build and would otherwise oversubscribe the cores. Every op makes sure of this itself;
/// set_num_threads() is the one knob a caller needs.

#include <string>

namespace alphax::tensor {

/// \brief Sets the number of OpenMP threads lib/tensor ops use (n >= 1) and pins BLAS to one thread.
void set_num_threads(int n);

/// \brief The number of OpenMP threads lib/tensor ops will use.
[[nodiscard]] int num_threads() noexcept;

/// \brief One line describing the BLAS in use, e.g. "OpenBLAS 0.3.21 ... SkylakeX" (for logs and benchmarks).
[[nodiscard]] std::string blas_description();

/// \brief An OPENBLAS_CORETYPE that would run faster on this CPU, or "" when OpenBLAS already runs AVX-512
/// kernels.
///
/// Returns "SkylakeX" when the CPU has AVX-512F/BW/DQ/VL but OpenBLAS runs AVX2-or-older kernels,
/// e.g. because the environment sets OPENBLAS_CORETYPE=Haswell: SGEMM then runs at about half
/// speed (216 vs 468 GFLOP/s on two threads of the AMD EPYC development machine). OpenBLAS reads
/// OPENBLAS_CORETYPE once, when it is loaded, so a change only takes effect in a new process (a job
/// script export, or a launcher that re-executes itself); callers decide whether to override a
/// user's explicit setting.
[[nodiscard]] std::string recommended_openblas_coretype();

}  // namespace alphax::tensor
