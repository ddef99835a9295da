// The rate OpenBLAS's single-precision GEMM reaches on one core of this machine, as a JSON line:
// the ceiling for plugfit's GEMM-bound kernels (Dense, Conv2D's im2col products), measured
// rather than computed from a clock rate, which a virtual machine does not report truthfully
// (/proc/cpuinfo gives the nominal clock, not the boost clock the core runs at).
//
//   blas_rate [--size 1024] [--reps 5]   -> {"sgemm_gflops_per_s": ..., "size": ..., "core": ...}
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

long option(int argc, char** argv, const char* name, long fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::strtol(argv[i + 1], nullptr, 10);
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const long n = option(argc, argv, "--size", 1024), reps = option(argc, argv, "--reps", 5);
  if (n < 16 || n > 8192 || reps < 1 || reps > 100) {
    std::fprintf(stderr, "blas_rate: --size must be 16..8192 and --reps 1..100\n");
    return 2;
  }
  openblas_set_num_threads(1);  // plugfit runs OpenBLAS on one thread (core/util/blas.hpp)
  const auto count = static_cast<std::size_t>(n * n);
  std::vector<float> a(count), b(count), c(count, 0.f);
  for (std::size_t i = 0; i < count; ++i) {
    a[i] = static_cast<float>(i % 7) * 0.25f - 0.75f;
    b[i] = static_cast<float>(i % 5) * 0.5f - 1.f;
  }
  double best = 0;
  for (long r = 0; r < reps + 1; ++r) {  // the first run warms caches and page tables
    const auto start = std::chrono::steady_clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(n), int(n), int(n), 1.f, a.data(), int(n), b.data(),
                int(n), 0.f, c.data(), int(n));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (r > 0) best = std::max(best, 2.0 * double(n) * double(n) * double(n) / seconds / 1e9);
  }
  std::printf("{\"peer\": \"openblas\", \"size\": %ld, \"reps\": %ld, \"core\": \"%s\", \"sgemm_gflops_per_s\": %.1f}\n",
              n, reps, openblas_get_corename(), best);
  return 0;
}
