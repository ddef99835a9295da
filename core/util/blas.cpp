#include "blas.hpp"

#include <algorithm>
#include <thread>

extern "C" {
void openblas_set_num_threads(int num_threads);
char* openblas_get_corename(void);
}

namespace plugfit {

int blas_threads_for_batch(std::size_t batch_size) {
  if (batch_size <= 256) return 1;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void set_blas_threads(int threads) { openblas_set_num_threads(threads); }

const char* blas_core_name() { return openblas_get_corename(); }

}  // namespace plugfit
