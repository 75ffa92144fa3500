#include "alphax/tensor/threading.hpp"

#include <omp.h>

#include <mutex>
#include <stdexcept>
#include <string>

#include "blas.hpp"
#include "check.hpp"

namespace alphax::tensor {
namespace detail {

void ensure_blas_single_threaded() {
  static std::once_flag once;
  std::call_once(once, [] {
#if defined(OPENBLAS_VERSION)
    openblas_set_num_threads(1);
#endif
  });
}

template <typename T>
void parallel_gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
                   const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
                   std::int64_t ldc) {
  ensure_blas_single_threaded();
  const std::int64_t flops = m * n * k;
  const int threads = (flops < (1 << 18) || m < 2) ? 1 : omp_get_max_threads();
#pragma omp parallel num_threads(threads)
  {
    const std::int64_t parts = omp_get_num_threads();
    const std::int64_t t = omp_get_thread_num();
    const std::int64_t begin = m * t / parts;
    const std::int64_t end = m * (t + 1) / parts;
    if (end > begin) {
      const T* a_block = trans_a ? a + begin : a + begin * lda;
      gemm(trans_a, trans_b, end - begin, n, k, alpha, a_block, lda, b, ldb, beta, c + begin * ldc, ldc);
    }
  }
}

template void parallel_gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, float, const float*,
                                   std::int64_t, const float*, std::int64_t, float, float*, std::int64_t);
template void parallel_gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, double,
                                    const double*, std::int64_t, const double*, std::int64_t, double, double*,
                                    std::int64_t);

}  // namespace detail

void set_num_threads(int n) {
  if (n < 1) {
    throw std::invalid_argument("alphax::tensor::set_num_threads: thread count must be >= 1, got " +
                                std::to_string(n));
  }
  omp_set_num_threads(n);
  detail::ensure_blas_single_threaded();
}

int num_threads() noexcept { return omp_get_max_threads(); }

std::string blas_description() {
#if defined(OPENBLAS_VERSION)
  return std::string(openblas_get_config()) + " (kernels: " + openblas_get_corename() + ")";
#else
  return "CBLAS (not OpenBLAS)";
#endif
}

std::string recommended_openblas_coretype() {
#if defined(OPENBLAS_VERSION) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  if (!avx512) return "";
  const std::string core = openblas_get_corename();
  for (const char* avx2_or_older :
       {"Haswell", "Zen", "Sandybridge", "Nehalem", "Core2", "Prescott", "Excavator", "Steamroller",
        "Piledriver", "Bulldozer", "Barcelona", "Opteron"}) {
    if (core.find(avx2_or_older) != std::string::npos ||
        std::string(avx2_or_older).find(core) != std::string::npos) {
      return "SkylakeX";
    }
  }
#endif
  return "";
}

}  // namespace alphax::tensor
