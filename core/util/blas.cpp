#include "blas.hpp"

extern "C" {
void openblas_set_num_threads(int num_threads);
char* openblas_get_corename(void);
}

namespace plugfit {

void set_blas_threads(int threads) { openblas_set_num_threads(threads); }

const char* blas_core_name() { return openblas_get_corename(); }

}  // namespace plugfit
