// keras_open_bench: what reading a file libhdf5 must parse in a child process costs
// (isolated_read.hpp), on the real Keras files in ../shared/keras_files and on a stamped file
// plugfit wrote. For each file, the median of 15 reads of read_keras_file through the child
// against the same read in this process (PLUGFIT_READ_FOREIGN_IN_PROCESS=1), with RESIDENT_MB
// of data resident (default 300, as `plugfit train --resume-from` with Fashion-MNIST loaded: the
// fork copies its page tables); and the stamp's check (one CRC-32 pass) of a 40 MB checkpoint
// plugfit wrote. One JSON line per file.
//   keras_open_bench [KERAS_FILES_DIR] [RESIDENT_MB]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "isolated_read.hpp"
#include "keras_file.hpp"

namespace fs = std::filesystem;
using namespace plugfit_hdf5;

namespace {

template <typename F>
double median_ms(F&& f) {
  std::vector<double> ms;
  for (int run = 0; run < 15; ++run) {
    const auto start = std::chrono::steady_clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path root = argc > 1 ? fs::path(argv[1]) : fs::path("../shared/keras_files");
  const std::size_t resident_mb = argc > 2 ? std::stoul(argv[2]) : 300;
  std::vector<float> resident(resident_mb * 262'144 + 1, 1.f);
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (name.ends_with(".h5") || name.ends_with(".keras")) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    const std::string label = file.filename().string();
    try {
      ::unsetenv("PLUGFIT_READ_FOREIGN_IN_PROCESS");
      const double child = median_ms([&] { (void)read_keras_file(file, label); });
      ::setenv("PLUGFIT_READ_FOREIGN_IN_PROCESS", "1", 1);
      const double in_process = median_ms([&] { (void)read_keras_file(file, label); });
      std::printf("{\"file\": \"%s\", \"bytes\": %ju, \"resident_mb\": %zu, \"child_ms\": %.2f, \"in_process_ms\": %.2f, "
                  "\"cost_ms\": %.2f}\n", label.c_str(), static_cast<std::uintmax_t>(fs::file_size(file)), resident_mb, child,
                  in_process, child - in_process);
    } catch (const std::exception& e) {
      std::printf("{\"file\": \"%s\", \"refused\": \"%s\"}\n", label.c_str(), e.what());
    }
  }
  ::unsetenv("PLUGFIT_READ_FOREIGN_IN_PROCESS");
  StoredCheckpoint big;
  big.name = "ckpt-0001";
  big.save_seq = 1;
  big.written_by_plugfit = true;
  big.record.tensors.push_back({"weights/dense/kernel", {10'000, 1'000}, std::vector<float>(10'000'000, 0.5f)});
  const fs::path stamped = fs::temp_directory_path() / ("keras_open_bench_" + std::to_string(::getpid()) + ".h5");
  write_keras_file(stamped, KerasFormat::legacy_h5, big);
  const double check = median_ms([&] { (void)stamp_holds(stamped); });
  const double read = median_ms([&] { (void)read_keras_file(stamped, "stamped.h5"); });
  std::printf("{\"file\": \"plugfit's own, stamped\", \"bytes\": %ju, \"stamp_check_ms\": %.2f, \"read_ms\": %.2f}\n",
              static_cast<std::uintmax_t>(fs::file_size(stamped)), check, read);
  fs::remove(stamped);
  return resident.back() == 1.f ? 0 : 1;
}
