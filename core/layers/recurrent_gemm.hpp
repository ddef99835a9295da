// Row-major single-precision GEMM on raw buffers with leading dimensions, for the recurrent
// layers' sub-blocks of gate matrices: C = op(A) op(B) + beta C, op(A) (m, k), op(B) (k, n).
#pragma once

#include <cstddef>

#include <cblas.h>

namespace plugfit {

inline void sgemm(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k, const float* a,
                  std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
  cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.f, a, static_cast<int>(lda), b,
              static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

}  // namespace plugfit
