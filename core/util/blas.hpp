// OpenBLAS settings.
//
// OpenBLAS always runs on one thread: plugfit splits the work itself (util/parallel.hpp, the
// `threads` setting), and OpenBLAS's spinning workers would compete with its own. The kernel is the
// user's choice (OPENBLAS_CORETYPE): on AVX-512 machines OpenBLAS 0.3.21 may pick its Haswell
// kernels, and OPENBLAS_CORETYPE=SkylakeX makes small-batch training about 1.4x faster.
#pragma once

#include <cstddef>

namespace plugfit {

void set_blas_threads(int threads);
// The kernel OpenBLAS chose ("Haswell", "SkylakeX", ...).
const char* blas_core_name();

}  // namespace plugfit
