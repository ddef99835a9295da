// Checkpoint speed of every backend (the built-in dir:, the sqlite: and hdf5: plugins) against the
// raw write rate of the same disk measured in the same run, and the training stall per save of
// ModelCheckpoint with async off and on, printed as one JSON line (bench/run shows it as tables).
//
//   checkpoint_bench [--dir PATH] [--reps 3]
//
// The model is an MLP 1000-2000-2000-2000-10 (10,026,010 parameters) compiled with Adam, whose m
// and v are filled with non-zero values as after training; its full record (weights, m, v: 3x
// the parameters, 24 tensors, 120.3 MB) is what is saved. The plugins are loaded by name through
// PluginLoader and every backend is opened by URI with open_backend, as the host does.
//
// Backends. Each round measures, in turn (raw writes interleaved with the saves, so that a slow
// phase of the VM spreads over all of them):
//   raw, dir:    a new folder
//   raw, sqlite: a new database file
//   raw, hdf5:   a new file (empty before the save)
//   raw, hdf5:   a second checkpoint into that file, which holds one: the first is hard-linked
//                into FILE.checkpoints/ and the new one written as a new FILE
// "raw" writes the record's bytes (tensor data plus info JSON, the "MB" of every rate) to one new
// file in 4 MiB write(2) calls, then fsyncs and closes it. A save is backend->save() alone, every
// fsync included (opening the backend object is not timed; connecting to a new SQLite database and
// creating its tables is part of its first save). After each save a new backend object on the
// same URI loads the checkpoint back (timed, warm cache: nothing is dropped) and it is checked bit
// for bit. Each backend's row compares its saves with the raw writes just before them: medians of
// the repetitions, after one warm-up round. "written_mb" is what the process sent to the block
// layer during the save (/proc/self/io write_bytes), "stored_mb" the size of the file or folder.
//
// Growth. The cost of an hdf5: save as the checkpoints kept grow: one 4 MB record (a 1000x1000
// kernel and the big record's info) saved under 100 names in turn into one new file; the times of
// the 1st, 10th and 100th saves, medians over the repetitions (each a new file). A store whose
// save writes one checkpoint keeps the 100th within 1.5x of the 1st ("met"); one that rewrites
// every checkpoint kept grows linearly.
//
// Stall. A ModelCheckpoint (filepath FOLDER/e{epoch}, dir:) wired to a FitSession on the same model
// (set_model, set_session, on_train_begin), as fit() wires it; each round times capture_record
// alone (what the session's capture runs: the in-memory copy of the state), then on_epoch_end
// with async false and with async true, each into a new folder: that call is the stall the
// training loop sees. on_train_end (waiting for the background write) runs after each, untimed
// ("async_write_ms" is that wait after the async save).
//
// Every file and checkpoint is deleted (untimed, synced) right after it is measured, so that the
// next timed write fills page-cache pages just freed: on this VM, writing into memory that stayed
// free runs at ~400 MB/s instead of ~4 GB/s (it seems handed back to the host), which would swamp
// the numbers (see bench/README.md). For the same reason each raw write is preceded (untimed) by
// an unsynced write of the same size to a scratch file that is then deleted: without it, the raw
// write before the second hdf5: save (while the file it goes into holds its pages) ran at
// ~400 MB/s in about one round in three, and the saves themselves showed no such effect.
// "crc_ms" is the CRC-32 of all tensor bytes in memory, the checksum cost inside a save (and a
// load).
//
// A backend (or the stall measurement) that fails is reported on stderr, its row holds "error"
// and the line's "failed" list names it; the others are still measured and the line is printed
// with exit status 0 (bench/run reads "failed"). Status 1: nothing could be measured.
// Everything is written to PATH/checkpoint_bench-PID (PATH defaults to the build's bench folder),
// which is removed at the end; such folders left by a killed run are removed by the next one.
// MB are 10^6 bytes.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <plugfit/checkpoint.hpp>
#include <plugfit/registry.hpp>

#include "checkpoint/record.hpp"
#include "checkpoint/store.hpp"
#include "data/dataset.hpp"
#include "plugin_loading/loader.hpp"
#include "builtins/builtins.hpp"
#include "training/callback_access.hpp"
#include "training/session.hpp"

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

// One decimal, for the JSON line.
double round1(double x) { return std::round(x * 10) / 10; }

// The JSON line keeps its keys in the order written.
using Out = nlohmann::ordered_json;

Out rounded(const std::vector<double>& v) {
  Out out = Out::array();
  for (double x : v) out.push_back(round1(x));
  return out;
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

// Writes bytes to a scratch file at path without syncing it, then deletes it (its dirty pages are
// dropped, never written): the page cache it frees is what the next timed write fills. Untimed.
void prime_page_cache(const fs::path& path, std::size_t bytes, const std::vector<char>& buffer) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create", path);
  for (std::size_t done = 0; done < bytes;) {
    const ssize_t n = ::write(fd, buffer.data(), std::min(kChunk, bytes - done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  ::unlink(path.c_str());
}

void sync_folder(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail("cannot open", dir);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) fail("cannot flush", dir);
}

// Bytes of a file, or of every file below a folder.
std::uintmax_t stored_bytes(const fs::path& path) {
  if (fs::is_regular_file(path)) return fs::file_size(path);
  std::uintmax_t total = 0;
  for (const auto& entry : fs::recursive_directory_iterator(path))
    if (entry.is_regular_file()) total += entry.file_size();
  return total;
}

// Bytes this process has sent to the block layer so far (/proc/self/io write_bytes, all threads),
// or -1 where the kernel does not account them.
double write_bytes() {
  std::ifstream io("/proc/self/io");
  std::string key;
  double value = 0;
  while (io >> key >> value)
    if (key == "write_bytes:") return value;
  return -1;
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

// One row of the backend table: a backend and the state of its location before the save.
struct Case {
  std::string backend;  // "dir", "sqlite", "hdf5"
  std::string into;     // "new folder", "new file", "file holding 1 checkpoint"
  double target_pct;    // of the raw write rate
  std::vector<double> raw_mb_s, save_ms, load_ms, written_mb;
  double stored_mb = 0;
  std::string error;
};

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
    PluginLoader loader(registry);
    Out failed = Out::array();
    auto report_failure = [&](const std::string& what, const std::string& why) {
      std::fprintf(stderr, "checkpoint_bench: %s failed: %s\n", what.c_str(), why.c_str());
      failed.push_back(what);
    };
    // The backend plugins, by name, as the host loads them (from the build tree's plugins/).
    std::string sqlite_error, hdf5_error;
    for (auto [plugin, error] : {std::pair{"sqlite_backend", &sqlite_error}, {"hdf5_backend", &hdf5_error}}) {
      try {
        loader.load(plugin);
      } catch (const std::exception& e) {
        *error = std::string("loading the plugin ") + plugin + ": " + e.what();
      }
    }

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
    const CheckpointRecord record =
        capture_record(*model, registry, compile_config, TrainingPosition{}, {}, Logs{}, false);

    // The record's bytes, the MB of every rate: tensor data and info JSON, whatever the backend's
    // own overhead (headers, manifests, pages).
    const std::size_t record_bytes = record.tensor_bytes() + record.info.dump().size();

    // CRC-32 of every byte in memory, the checksum cost a save (and a load) pays.
    const auto crc_start = Clock::now();
    std::uint32_t crc = 0;
    for (const auto& t : record.tensors) crc = crc32_of(t.values.data(), t.values.size() * sizeof(float), crc);
    const double crc_ms = ms_since(crc_start);

    std::vector<char> buffer(kChunk);
    fill(reinterpret_cast<float*>(buffer.data()), kChunk / sizeof(float), 99, 1.f);

    // --- Backends: raw write, save, load, in turns -------------------------------------------
    std::vector<Case> cases = {{"dir", "new folder", 70, {}, {}, {}, {}, 0, ""},
                               {"sqlite", "new file", 50, {}, {}, {}, {}, 0, sqlite_error},
                               {"hdf5", "new file", 50, {}, {}, {}, {}, 0, hdf5_error},
                               {"hdf5", "file holding 1 checkpoint", 50, {}, {}, {}, {}, 0, hdf5_error}};
    auto remove_location = [&](const fs::path& location) {
      std::error_code ec;
      fs::remove_all(location, ec);
      for (const char* suffix : {"-wal", "-shm", "-journal"}) fs::remove(location.string() + suffix, ec);
      fs::remove_all(location.string() + ".checkpoints", ec);  // hdf5:'s sidecar
      sync_folder(scratch.path);  // the unlinks' metadata writes (and discards) are not timed
    };
    // One measurement of c: a raw write, then the save of checkpoint name to location (a new
    // backend object on scheme:location), then its load by another new backend object.
    auto measure = [&](Case& c, int round, const fs::path& location, const std::string& name) {
      const fs::path raw_file = scratch.path / "raw.bin";
      prime_page_cache(scratch.path / "prime.bin", record_bytes, buffer);
      const double raw_ms = raw_write(raw_file, record_bytes, buffer);
      remove_location(raw_file);

      const auto uri = parse_checkpoint_uri(c.backend + ":" + location.string());
      auto saver = open_backend(uri, registry, &loader);
      const double written_before = write_bytes();
      const auto t0 = Clock::now();
      saver->save(name, record);
      const double save_ms = ms_since(t0);
      const double written = write_bytes() - written_before;
      saver.reset();
      c.stored_mb = double(stored_bytes(location)) / 1e6;

      auto reader = open_backend(uri, registry, &loader);
      const auto t1 = Clock::now();
      const CheckpointRecord loaded = reader->load(name);
      const double load_ms = ms_since(t1);
      reader.reset();
      if (loaded.tensors != record.tensors || loaded.info != record.info)
        throw RuntimeFailure("checkpoint " + name + " in " + uri.text() + " did not load back as saved");
      if (round < 0) return;  // the warm-up round
      c.raw_mb_s.push_back(double(record_bytes) / 1e3 / raw_ms);
      c.save_ms.push_back(save_ms);
      c.load_ms.push_back(load_ms);
      c.written_mb.push_back(written_before < 0 ? -1 : written / 1e6);
    };
    auto attempt = [&](Case& c, const std::function<void()>& step, const fs::path& location) {
      if (!c.error.empty()) return false;
      try {
        step();
        return true;
      } catch (const std::exception& e) {
        c.error = e.what();
        std::error_code ec;
        fs::remove_all(location, ec);
        return false;
      }
    };
    for (int r = -1; r < reps; ++r) {  // the first round is a warm-up
      const std::string n = std::to_string(r + 1);
      const fs::path dir = scratch.path / ("dir-" + n), db = scratch.path / ("run-" + n + ".db"),
                     h5 = scratch.path / ("run-" + n + ".h5");
      attempt(cases[0], [&] { measure(cases[0], r, dir, "ckpt-1"), remove_location(dir); }, dir);
      attempt(cases[1], [&] { measure(cases[1], r, db, "ckpt-1"), remove_location(db); }, db);
      // The second HDF5 save goes into the file the first one made.
      if (attempt(cases[2], [&] { measure(cases[2], r, h5, "ckpt-1"); }, h5))
        attempt(cases[3], [&] { measure(cases[3], r, h5, "ckpt-2"), remove_location(h5); }, h5);
      else if (cases[3].error.empty())
        cases[3].error = "the save into a new file failed";
    }

    Out backends = Out::array();
    for (const Case& c : cases) {
      Out row = {{"backend", c.backend}, {"into", c.into}, {"target_pct_of_raw", c.target_pct}};
      if (!c.error.empty()) {
        report_failure(c.backend + ": (" + c.into + ")", c.error);
        row["error"] = c.error;
        backends.push_back(row);
        continue;
      }
      const double raw = median(c.raw_mb_s), save = median(c.save_ms), load = median(c.load_ms);
      const double save_mb_s = double(record_bytes) / 1e3 / save;
      row.update({{"raw_write_mb_s", round1(raw)},
                  {"save_mb_s", round1(save_mb_s)},
                  {"save_pct_of_raw", round1(100 * save_mb_s / raw)},
                  {"met", 100 * save_mb_s / raw >= c.target_pct},
                  {"load_mb_s", round1(double(record_bytes) / 1e3 / load)},
                  {"save_ms", round1(save)},
                  {"load_ms", round1(load)},
                  {"written_mb", round1(median(c.written_mb))},
                  {"stored_mb", round1(c.stored_mb)},
                  {"raw_write_mb_s_all", rounded(c.raw_mb_s)},
                  {"save_ms_all", rounded(c.save_ms)},
                  {"load_ms_all", rounded(c.load_ms)}});
      backends.push_back(row);
    }

    // --- Growth: the 1st, 10th and 100th hdf5: save into one file ---------------------------
    Out growth;
    const std::vector<int> growth_at = {1, 10, 100};
    try {
      if (!hdf5_error.empty()) throw RuntimeFailure(hdf5_error);
      CheckpointRecord small;
      small.info = record.info;
      small.tensors.push_back({"weights/dense/kernel", {1000, 1000}, std::vector<float>(1000000)});
      fill(small.tensors[0].values.data(), small.tensors[0].values.size(), 7, 1.f);
      std::vector<std::vector<double>> times(growth_at.size());  // [which save][round]
      for (int r = -1; r < reps; ++r) {  // the first round is a warm-up
        const fs::path file = scratch.path / ("growth-" + std::to_string(r + 1) + ".h5");
        auto backend = open_backend(parse_checkpoint_uri("hdf5:" + file.string()), registry, &loader);
        for (int i = 1; i <= growth_at.back(); ++i) {
          const auto t0 = Clock::now();
          backend->save("ckpt-" + std::to_string(i), small);
          const double ms = ms_since(t0);
          const auto at = std::find(growth_at.begin(), growth_at.end(), i);
          if (r >= 0 && at != growth_at.end()) times[static_cast<std::size_t>(at - growth_at.begin())].push_back(ms);
        }
        backend.reset();
        remove_location(file);
      }
      Out medians = Out::array(), all = Out::array();
      for (const auto& t : times) medians.push_back(round1(median(t))), all.push_back(rounded(t));
      const double ratio = median(times.back()) / median(times.front());
      growth = {{"backend", "hdf5"},
                {"record_mb", round1(double(small.tensor_bytes() + small.info.dump().size()) / 1e6)},
                {"saves", growth_at},
                {"save_ms", medians},
                {"last_to_first", std::round(ratio * 100) / 100},
                {"target_last_to_first", 1.5},
                {"met", ratio <= 1.5},
                {"save_ms_all", all}};
    } catch (const std::exception& e) {
      report_failure("hdf5: growth", e.what());
      growth = {{"backend", "hdf5"}, {"error", e.what()}};
    }

    // --- Stall per save: ModelCheckpoint's on_epoch_end, async off and on ------------------
    Out stall;
    try {
      FitSession session(*model, registry, &loader, compile_config, 0);
      std::vector<double> capture_ms, sync_ms, async_ms, sync_write_ms, async_write_ms;
      for (int r = -1; r < reps; ++r) {  // the first round is a warm-up
        {
          const auto t0 = Clock::now();
          const CheckpointRecord copy =
              capture_record(*model, registry, compile_config, session.position(), {}, Logs{}, false);
          if (r >= 0) capture_ms.push_back(ms_since(t0));
        }
        for (const bool async : {false, true}) {
          const fs::path folder = scratch.path / ((async ? "async-" : "sync-") + std::to_string(r + 1));
          const Json config = {{"filepath", (folder / "e{epoch}").string()}, {"async", async}};
          auto callback = registry.create_callback("ModelCheckpoint", config);
          CallbackAccess::set_model(*callback, model.get());
          CallbackAccess::set_session(*callback, &session);
          Logs logs;
          callback->on_train_begin(logs);
          session.set_position({1, 0, 100, 0});  // as fit() does before on_epoch_end
          logs["loss"] = 0.5;
          logs["val_loss"] = 0.6;
          const auto t0 = Clock::now();
          callback->on_epoch_end(0, logs);
          const double stall_ms = ms_since(t0);
          const auto t1 = Clock::now();
          callback->on_train_end(logs);  // waits for the background write
          const double wait_ms = ms_since(t1);
          callback.reset();
          if (!fs::is_directory(folder / "e1"))
            throw RuntimeFailure("ModelCheckpoint did not write " + (folder / "e1").string());
          remove_location(folder);
          if (r < 0) continue;
          (async ? async_ms : sync_ms).push_back(stall_ms);
          (async ? async_write_ms : sync_write_ms).push_back(wait_ms);
        }
      }
      const double capture = median(capture_ms), stall_sync = median(sync_ms), stall_async = median(async_ms);
      stall = {{"backend", "dir"},
               {"capture_ms", round1(capture)},
               {"stall_sync_ms", round1(stall_sync)},
               {"stall_async_ms", round1(stall_async)},
               {"sync_ratio_to_capture", std::round(stall_sync / capture * 100) / 100},
               {"async_ratio_to_capture", std::round(stall_async / capture * 100) / 100},
               {"target_async_ratio", 2},
               {"met", stall_async <= 2 * capture},
               {"async_write_ms", round1(median(async_write_ms))},
               {"capture_ms_all", rounded(capture_ms)},
               {"stall_sync_ms_all", rounded(sync_ms)},
               {"stall_async_ms_all", rounded(async_ms)}};
    } catch (const std::exception& e) {
      report_failure("stall per save", e.what());
      stall = {{"backend", "dir"}, {"error", e.what()}};
    }

    const Out line = {{"bench", "checkpoint"},
                       {"params", model->num_params()},
                       {"tensors", record.tensors.size()},
                       {"record_mb", round1(double(record_bytes) / 1e6)},
                       {"reps", reps},
                       {"crc_ms", round1(crc_ms)},
                       {"backends", backends},
                       {"growth", growth},
                       {"stall", stall},
                       {"failed", failed},
                       {"dir", fs::absolute(parent).lexically_normal().string()}};
    std::printf("%s\n", line.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "checkpoint_bench: %s\n", e.what());
    return 1;
  }
}
