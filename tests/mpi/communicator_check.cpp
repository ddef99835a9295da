// Run by run_communicator.sh under `mpirun -np N`: loads the mpi plugin by name (real dlopen, the
// host's loader), makes "mpi>Communicator" and checks every collective against what each rank
// can compute alone. Prints "rank R/N: ok" and exits 0, or names the failed check and exits 1.
//   communicator_check            the collectives
//   communicator_check abort R    rank R calls abort(3) while the others wait in a barrier
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <plugfit/sdk.hpp>

#include "plugin_loading/loader.hpp"

namespace {

int failures = 0;
void expect(bool ok, const std::string& what, int rank) {
  if (!ok) {
    std::printf("rank %d: FAILED: %s\n", rank, what.c_str());
    ++failures;
  }
}

// A value of rank r at index i that sums exactly in float (small integers) or not (fractions).
float exact_value(int r, std::size_t i) { return static_cast<float>((i % 1000) + 1000 * static_cast<std::size_t>(r)); }
float inexact_value(int r, std::size_t i) {
  return static_cast<float>((i * 7919 + static_cast<std::size_t>(r) * 104729) % 1000) / 997.f - 0.5f;
}

void check_sums(plugfit::Communicator& comm) {
  const int r = comm.rank(), p = comm.size();
  for (const std::size_t n : {std::size_t(0), std::size_t(1), std::size_t(p > 1 ? p - 1 : 1), std::size_t(7),
                              std::size_t(101770), std::size_t(1000003)}) {
    std::vector<float> exact(n), inexact(n);
    for (std::size_t i = 0; i < n; ++i) exact[i] = exact_value(r, i), inexact[i] = inexact_value(r, i);
    comm.allreduce_sum(exact);
    comm.allreduce_sum(inexact);
    bool sums_right = true, inexact_close = true;
    for (std::size_t i = 0; i < n; ++i) {
      double want = 0, approx = 0;
      for (int q = 0; q < p; ++q) want += exact_value(q, i), approx += inexact_value(q, i);
      sums_right = sums_right && exact[i] == static_cast<float>(want);
      inexact_close = inexact_close && std::fabs(inexact[i] - approx) < 1e-5;
    }
    expect(sums_right, "float sums of " + std::to_string(n) + " values", r);
    expect(inexact_close, "float sums of " + std::to_string(n) + " fractions within 1e-5", r);
    // Every rank ends with rank 0's bits.
    std::vector<float> root = inexact;
    comm.broadcast(std::as_writable_bytes(std::span<float>(root)), 0);
    expect(std::memcmp(root.data(), inexact.data(), n * sizeof(float)) == 0,
           "the same bits on every rank for " + std::to_string(n) + " values", r);
  }
  std::vector<double> d(5);
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = 0.5 * static_cast<double>(i) + r;
  comm.allreduce_sum(d);
  for (std::size_t i = 0; i < d.size(); ++i)
    expect(d[i] == p * 0.5 * static_cast<double>(i) + p * (p - 1) / 2.0, "double sums", r);
}

void check_broadcast(plugfit::Communicator& comm) {
  const int r = comm.rank(), p = comm.size();
  std::string text = r == p - 1 ? "from the last rank" : std::string(18, '?');
  comm.broadcast(std::as_writable_bytes(std::span<char>(text.data(), text.size())), p - 1);
  expect(text == "from the last rank", "broadcast from rank " + std::to_string(p - 1), r);
  comm.barrier();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    plugfit::Registry registry;
    plugfit::PluginLoader loader(registry);
    loader.load("mpi");
    auto comm = registry.create_communicator("mpi>Communicator", plugfit::Json::object());
    const char* world = std::getenv("OMPI_COMM_WORLD_SIZE");
    expect(comm->size() == (world != nullptr ? std::atoi(world) : 1), "size() is the job's size", comm->rank());
    if (argc == 3 && std::strcmp(argv[1], "abort") == 0) {
      if (comm->rank() == std::atoi(argv[2])) comm->abort(3);
      comm->barrier();  // never completes: the aborting rank ends the job
      std::printf("rank %d: FAILED: the barrier returned after an abort\n", comm->rank());
      return 1;
    }
    check_sums(*comm);
    check_broadcast(*comm);
    std::printf("rank %d/%d: %s\n", comm->rank(), comm->size(), failures == 0 ? "ok" : "FAILED");
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::printf("FAILED: %s\n", e.what());
    return 1;
  }
}
