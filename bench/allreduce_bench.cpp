// The communicator's all-reduce time on this machine, for bench/distributed: run under
// `mpirun -np N`, rank 0 prints one JSON line per size {"floats", "bytes", "ranks", "us"} (the
// median of the repetitions after a warm-up). The communicator is the one `--distributed mpi`
// makes (plugfit::Context).
//   allreduce_bench [FLOATS...]   default: 101770 (the 784-128-10 MLP) and 10,000,000
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <plugfit/plugfit.hpp>

int main(int argc, char** argv) {
  try {
    const plugfit::Context context({.distributed = "mpi"});
    plugfit::Communicator* comm = context.communicator();
    std::vector<std::size_t> sizes;
    for (int i = 1; i < argc; ++i) sizes.push_back(std::strtoull(argv[i], nullptr, 10));
    if (sizes.empty()) sizes = {101770, 10000000};
    for (const std::size_t n : sizes) {
      std::vector<float> buffer(n, 1.f);
      const int reps = n > 1000000 ? 15 : 200;
      std::vector<double> us;
      for (int r = 0; r < reps + 3; ++r) {
        comm->barrier();
        const auto start = std::chrono::steady_clock::now();
        comm->allreduce_sum(buffer);
        const auto stop = std::chrono::steady_clock::now();
        if (r >= 3) us.push_back(std::chrono::duration<double, std::micro>(stop - start).count());
      }
      std::sort(us.begin(), us.end());
      if (comm->rank() == 0)
        std::printf("{\"floats\": %zu, \"bytes\": %zu, \"ranks\": %d, \"us\": %.1f}\n", n, n * sizeof(float),
                    comm->size(), us[us.size() / 2]);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "allreduce_bench: %s\n", e.what());
    return 1;
  }
}
