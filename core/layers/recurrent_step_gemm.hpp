// The recurrent layers' products C (m, n) = op(A) B + beta C with B read in place (row-major,
// leading dimensions): the per-step h R and d(pre) R^T (R^T laid out once per batch) without
// OpenBLAS's packing of B at every call, and the weight gradients x^T d(pre), h^T d(pre). A 6 x 64
// register tile (AVX-512) sums each C element over k in order, so a row or column split of C
// (threads) gives the same bits. Without AVX-512, or when n is not a multiple of 64, OpenBLAS.
#pragma once

#include <cstddef>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "recurrent_gemm.hpp"

namespace plugfit {

#if defined(__AVX512F__)
namespace step_gemm_detail {

// A (m, k) row-major, or with TransA, A (k, m): element (r, p) at a[p * lda + r].
template <int Rows, bool TransA>
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
      const __m512 av = _mm512_set1_ps(TransA ? a[p * lda + std::size_t(r)] : a[std::size_t(r) * lda + p]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
      acc[r][2] = _mm512_fmadd_ps(av, b2, acc[r][2]);
      acc[r][3] = _mm512_fmadd_ps(av, b3, acc[r][3]);
    }
  }
  for (int r = 0; r < Rows; ++r)
    for (int v = 0; v < 4; ++v) _mm512_storeu_ps(c + std::size_t(r) * ldc + 16 * v, acc[r][v]);
}

template <bool TransA>
inline void tiles(std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda, const float* b,
                  std::size_t ldb, bool accumulate, float* c, std::size_t ldc) {
  // Row i of op(A) starts at a + i * lda, or a + i with TransA.
  const auto rows_at = [&](std::size_t i) { return TransA ? a + i : a + i * lda; };
  for (std::size_t j = 0; j < n; j += 64) {
    std::size_t i = 0;
    // Tiles of 6 rows, ending on 4 + 4 or 4 + 3 rather than a thin 1- or 2-row tile.
    for (; m - i >= 6 && m - i != 7 && m - i != 8; i += 6) tile<6, TransA>(k, rows_at(i), lda, b + j, ldb, c + i * ldc + j, ldc, accumulate);
    for (; m - i >= 7; i += 4) tile<4, TransA>(k, rows_at(i), lda, b + j, ldb, c + i * ldc + j, ldc, accumulate);
    const float* ai = rows_at(i);
    float* ci = c + i * ldc + j;
    switch (m - i) {
      case 5: tile<5, TransA>(k, ai, lda, b + j, ldb, ci, ldc, accumulate); break;
      case 4: tile<4, TransA>(k, ai, lda, b + j, ldb, ci, ldc, accumulate); break;
      case 3: tile<3, TransA>(k, ai, lda, b + j, ldb, ci, ldc, accumulate); break;
      case 2: tile<2, TransA>(k, ai, lda, b + j, ldb, ci, ldc, accumulate); break;
      case 1: tile<1, TransA>(k, ai, lda, b + j, ldb, ci, ldc, accumulate); break;
      default: break;
    }
  }
}

}  // namespace step_gemm_detail
#endif

// C (m, n) = op(A) B + beta C, op(A) = A (m, k), or A^T for A (k, m) with transpose_a; beta 0 or 1.
inline void step_gemm(bool transpose_a, std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda,
                      const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
#if defined(__AVX512F__)
  if (n % 64 == 0) {
    if (transpose_a) step_gemm_detail::tiles<true>(m, n, k, a, lda, b, ldb, beta != 0.f, c, ldc);
    else step_gemm_detail::tiles<false>(m, n, k, a, lda, b, ldb, beta != 0.f, c, ldc);
    return;
  }
#endif
  sgemm(transpose_a, false, m, n, k, a, lda, b, ldb, beta, c, ldc);
}
// The per-step form, A (m, k).
inline void step_gemm(std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda, const float* b,
                      std::size_t ldb, float beta, float* c, std::size_t ldc) {
  step_gemm(false, m, n, k, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace plugfit
