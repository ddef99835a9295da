// The per-step recurrent product C (m, n) += A (m, k) B (k, n) for B a layer's weights that stay
// fixed over a batch (row-major, leading dimensions), without OpenBLAS's packing of B at every
// call: B's rows are read in place, 64 columns at a time, by a 6 x 64 register tile (AVX-512).
// Without AVX-512, or when n is not a multiple of 64, it is OpenBLAS's sgemm.
#pragma once

#include <cstddef>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "recurrent_gemm.hpp"

namespace plugfit {

#if defined(__AVX512F__)
namespace step_gemm_detail {

template <int Rows>
inline void tile(std::size_t k, const float* a, std::size_t lda, const float* b, std::size_t ldb, float* c,
                 std::size_t ldc, bool accumulate) {
  __m512 acc[Rows][4];
  for (int r = 0; r < Rows; ++r)
    for (int v = 0; v < 4; ++v)
      acc[r][v] = accumulate ? _mm512_loadu_ps(c + std::size_t(r) * ldc + 16 * v) : _mm512_setzero_ps();
  for (std::size_t p = 0; p < k; ++p) {
    const float* bp = b + p * ldb;
    const __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16), b2 = _mm512_loadu_ps(bp + 32),
                 b3 = _mm512_loadu_ps(bp + 48);
    for (int r = 0; r < Rows; ++r) {
      const __m512 av = _mm512_set1_ps(a[std::size_t(r) * lda + p]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
      acc[r][2] = _mm512_fmadd_ps(av, b2, acc[r][2]);
      acc[r][3] = _mm512_fmadd_ps(av, b3, acc[r][3]);
    }
  }
  for (int r = 0; r < Rows; ++r)
    for (int v = 0; v < 4; ++v) _mm512_storeu_ps(c + std::size_t(r) * ldc + 16 * v, acc[r][v]);
}

}  // namespace step_gemm_detail
#endif

// beta is 0 or 1.
inline void step_gemm(std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda, const float* b,
                      std::size_t ldb, float beta, float* c, std::size_t ldc) {
#if defined(__AVX512F__)
  if (n % 64 == 0) {
    using namespace step_gemm_detail;
    const bool accumulate = beta != 0.f;
    for (std::size_t j = 0; j < n; j += 64) {
      std::size_t i = 0;
      for (; i + 6 <= m; i += 6) tile<6>(k, a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc, accumulate);
      switch (m - i) {
        case 5: tile<5>(k, a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc, accumulate); break;
        case 4: tile<4>(k, a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc, accumulate); break;
        case 3: tile<3>(k, a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc, accumulate); break;
        case 2: tile<2>(k, a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc, accumulate); break;
        case 1: tile<1>(k, a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc, accumulate); break;
        default: break;
      }
    }
    return;
  }
#endif
  sgemm(false, false, m, n, k, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace plugfit
