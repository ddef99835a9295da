// Checkpoint speed of the built-in dir: backend against the raw write rate of the same disk,
// measured in one run, printed as one JSON line (bench/run shows it as a table).
//
//   checkpoint_bench [--dir PATH] [--reps 3]
//
// The model is an MLP 1000-2000-2000-2000-10 (10,026,010 parameters) compiled with Adam, whose m
// and v are filled with non-zero values as after training; its full record (weights, m, v: 3x
// the parameters, 24 tensors, 120.3 MB) is what is saved. Each repetition writes the same bytes
// raw (one file, 4 MiB write(2) calls, fsync, close), then saves the record with DirBackend::save
// (every file and folder fsynced) under a new name and loads it back (checked bit for bit). The
// loads are warm-cache: the checkpoint was just written and the page cache is not dropped.
// Medians of the repetitions are kept, after one warm-up round. "capture_ms" is capture_record
// alone: copying the state in memory, what an asynchronous save must do before training goes on.
// "crc_ms" is the CRC-32 of all tensor bytes in memory, the checksum cost inside a save.
//
// Everything is written to PATH/checkpoint_bench-PID (PATH defaults to the build's bench
// folder), which is removed at the end; such folders left by a killed run are removed by the
// next one. MB are 10^6 bytes.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <plugfit/checkpoint.hpp>
#include <plugfit/registry.hpp>

#include "checkpoint/dir_backend.hpp"
#include "checkpoint/record.hpp"
#include "data/dataset.hpp"
#include "registry/builtins.hpp"

using namespace plugfit;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kChunk = std::size_t{4} << 20;  // 4 MiB per write(2)
constexpr const char* kPrefix = "checkpoint_bench-";

std::string arg(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name) return argv[i + 1];
  return fallback;
}

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// The median (for an even count, the lower middle one, as bench/run does).
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[(v.size() - 1) / 2];
}

std::string json_list(const std::vector<double>& v, const char* format) {
  std::string out = "[";
  char buf[64];
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::snprintf(buf, sizeof buf, format, v[i]);
    out += (i == 0 ? "" : ", ") + std::string(buf);
  }
  return out + "]";
}

[[noreturn]] void fail(const std::string& what, const fs::path& path) {
  throw RuntimeFailure(what + " " + path.string() + ": " + std::strerror(errno));
}

// Writes bytes to a new file at path in kChunk write(2) calls from buffer (repeated), then fsyncs
// and closes it. Returns the milliseconds from open to close.
double raw_write(const fs::path& path, std::size_t bytes, const std::vector<char>& buffer) {
  const auto t0 = Clock::now();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create", path);
  for (std::size_t done = 0; done < bytes;) {
    const ssize_t n = ::write(fd, buffer.data(), std::min(kChunk, bytes - done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("cannot write", path);
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) fail("cannot flush", path);
  if (::close(fd) != 0) fail("cannot close", path);
  return ms_since(t0);
}

void sync_folder(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail("cannot open", dir);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) fail("cannot flush", dir);
}

std::uintmax_t folder_bytes(const fs::path& dir) {
  std::uintmax_t total = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) total += entry.file_size();
  return total;
}

// Removes PARENT/checkpoint_bench-PID folders whose process is gone (a killed earlier run).
void remove_stale(const fs::path& parent) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(parent, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0 || !entry.is_directory()) continue;
    const long pid = std::strtol(name.c_str() + std::strlen(kPrefix), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove_all(entry.path(), ec);
  }
}

// The scratch folder, removed however main() leaves (exceptions included).
struct Scratch {
  fs::path path;
  ~Scratch() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

// Deterministic, non-zero, incompressible-looking floats in [-scale, scale).
void fill(float* data, std::size_t n, std::uint64_t seed, float scale) {
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (std::size_t i = 0; i < n; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    data[i] = scale * (static_cast<float>(x >> 40) / static_cast<float>(1u << 23) - 1.f);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path parent = arg(argc, argv, "--dir", PLUGFIT_BENCH_SCRATCH_DIR);
  const std::string reps_arg = arg(argc, argv, "--reps", "3");
  const int reps = reps_arg.find_first_not_of("0123456789") == std::string::npos && reps_arg.size() < 6
                       ? std::atoi(reps_arg.c_str())
                       : 0;
  if (reps < 1) {
    std::fprintf(stderr, "checkpoint_bench: --reps needs a positive integer\n");
    return 2;
  }

  Scratch scratch;
  try {
    fs::create_directories(parent);
    remove_stale(parent);
    scratch.path = fs::absolute(parent / (kPrefix + std::to_string(::getpid())));
    fs::create_directory(scratch.path);

    Registry registry;
    register_builtins(registry);
    const std::size_t inputs = 1000;
    Json layers = Json::array();
    for (int units : {2000, 2000, 2000})
      layers.push_back({{"class_name", "Dense"}, {"config", {{"units", units}, {"activation", "relu"}}}});
    layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 10}, {"activation", "softmax"}}}});
    auto model = Sequential::from_config({{"layers", layers}}, registry);
    model->build({inputs}, 0);
    const Json compile_config = {{"optimizer", "Adam"}, {"loss", "sparse_categorical_crossentropy"}};
    compile_from_config(*model, compile_config, registry);
    // Adam's m and v start at zero; after training they are not, and zeros could flatter a disk
    // that compresses or skips them.
    std::uint64_t seed = 1;
    for (const auto& slot : model->optimizer()->slots())
      fill(slot.values->data(), slot.values->size(), ++seed, slot.name == "v" ? 1e-6f : 1e-3f);

    // Capture: the in-memory copy of the whole state (what an async save must do in line).
    std::vector<double> capture_ms;
    CheckpointRecord record;
    for (int r = -1; r < reps; ++r) {  // the first one is a warm-up
      record = CheckpointRecord{};
      const auto t0 = Clock::now();
      record = capture_record(*model, registry, compile_config, TrainingPosition{}, {}, Logs{}, false);
      if (r >= 0) capture_ms.push_back(ms_since(t0));
    }

    // What a save writes apart from its small manifest: info.json and every .npy file.
    std::size_t payload = record.info.dump().size();
    for (const auto& t : record.tensors) payload += npy_preamble(t.shape).size() + t.values.size() * sizeof(float);

    // CRC-32 of every byte in memory, the checksum cost a save (and a load) pays.
    const auto crc_start = Clock::now();
    std::uint32_t crc = 0;
    for (const auto& t : record.tensors) crc = crc32_of(t.values.data(), t.values.size() * sizeof(float), crc);
    const double crc_ms = ms_since(crc_start);

    std::vector<char> buffer(kChunk);
    fill(reinterpret_cast<float*>(buffer.data()), kChunk / sizeof(float), 99, 1.f);

    // Raw write and save alternate, so a slow phase of the VM spreads over both. Every file and
    // checkpoint is deleted (untimed, synced) right after it is measured, so that each timed
    // write fills page-cache pages just freed: on this VM, writing into memory that stayed free
    // runs at ~400 MB/s instead of ~4 GB/s (it seems handed back to the host), which would swamp
    // both numbers (see bench/README.md). The first round is a warm-up, not kept.
    DirBackend backend(scratch.path / "dir");
    std::vector<double> raw_ms, save_ms, load_ms;
    std::uintmax_t saved_bytes = 0;
    for (int r = -1; r < reps; ++r) {
      const fs::path raw_file = scratch.path / ("raw-" + std::to_string(r + 1) + ".bin");
      const double raw_time = raw_write(raw_file, payload, buffer);
      fs::remove(raw_file);
      sync_folder(scratch.path);  // the unlink's journal commit (and discards) are not timed

      const std::string name = "ckpt-" + std::to_string(r + 1);
      auto t0 = Clock::now();
      backend.save(name, record);
      const double save_time = ms_since(t0);
      saved_bytes = folder_bytes(scratch.path / "dir" / name);
      t0 = Clock::now();
      const CheckpointRecord loaded = backend.load(name);
      const double load_time = ms_since(t0);
      if (loaded.tensors != record.tensors || loaded.info != record.info)
        throw RuntimeFailure("checkpoint " + name + " did not load back as saved");
      backend.remove(name);
      sync_folder(scratch.path / "dir");
      if (r < 0) continue;
      raw_ms.push_back(raw_time);
      save_ms.push_back(save_time);
      load_ms.push_back(load_time);
    }

    std::vector<double> raw_mb_s;
    for (double ms : raw_ms) raw_mb_s.push_back(double(payload) / 1e3 / ms);
    const double raw = median(raw_mb_s);
    const double save = median(save_ms), load = median(load_ms);
    const double save_mb_s = double(saved_bytes) / 1e3 / save;
    std::printf(
        "{\"bench\": \"checkpoint\", \"backend\": \"dir\", \"params\": %zu, \"tensors\": %zu, \"record_mb\": %.1f, "
        "\"reps\": %d, \"raw_write_mb_s\": %.1f, \"save_mb_s\": %.1f, \"save_pct_of_raw\": %.1f, "
        "\"load_mb_s\": %.1f, \"load_cache\": \"warm\", \"save_ms\": %.1f, \"load_ms\": %.1f, \"capture_ms\": %.1f, "
        "\"crc_ms\": %.1f, \"raw_write_mb_s_all\": %s, \"save_ms_all\": %s, \"load_ms_all\": %s, "
        "\"capture_ms_all\": %s, \"dir\": %s}\n",
        model->num_params(), record.tensors.size(), double(saved_bytes) / 1e6, reps, raw, save_mb_s,
        100.0 * save_mb_s / raw, double(saved_bytes) / 1e3 / load, save, load, median(capture_ms), crc_ms,
        json_list(raw_mb_s, "%.1f").c_str(), json_list(save_ms, "%.1f").c_str(), json_list(load_ms, "%.1f").c_str(),
        json_list(capture_ms, "%.1f").c_str(), Json(fs::absolute(parent).lexically_normal().string()).dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "checkpoint_bench: %s\n", e.what());
    return 1;
  }
}
