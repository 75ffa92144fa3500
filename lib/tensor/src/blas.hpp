#pragma once
// Private: float/double dispatch to CBLAS (row-major), and the rule that BLAS runs on one thread
// because lib/tensor calls it from inside its own OpenMP regions.
#include <cblas.h>

#include <cstdint>

namespace alphax::tensor::detail {

/// \brief Makes BLAS single-threaded once per process (idempotent, thread-safe).
void ensure_blas_single_threaded();

/// \brief C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, row-major.
inline void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                 const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                 std::int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda),
              b, static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

/// \brief C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, row-major.
inline void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
                 const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta, double* c,
                 std::int64_t ldc) {
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda),
              b, static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

/// \brief gemm with the M rows of C split over the OpenMP threads (each block one single-threaded
/// BLAS call). Must not be called from inside a parallel region.
template <typename T>
void parallel_gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
                   const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
                   std::int64_t ldc);

}  // namespace alphax::tensor::detail
