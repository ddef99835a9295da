// OpenBLAS settings for small-batch training.
//
// Two threads are erratic on the small GEMMs of an MLP at batch <= 256 (one run in several
// falls to a fraction of the speed), so training uses one BLAS thread there. The kernel is the
// user's choice (OPENBLAS_CORETYPE): on AVX-512 machines OpenBLAS 0.3.21 may pick its Haswell
// kernels, and OPENBLAS_CORETYPE=SkylakeX makes small-batch training about 1.4x faster.
#pragma once

#include <cstddef>

namespace plugfit {

// The BLAS thread count fit() uses for a batch size (1 up to 256, else the core count).
int blas_threads_for_batch(std::size_t batch_size);
void set_blas_threads(int threads);
// The kernel OpenBLAS chose ("Haswell", "SkylakeX", ...).
const char* blas_core_name();

}  // namespace plugfit
