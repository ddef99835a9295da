// The SDK's backend conformance suite on the hdf5: backend, the plugin hdf5_backend loaded by name
// from the build tree and opened by URI as the host opens it ("hdf5:FOLDER/run.h5"). The plugin
// rewrites the whole file at every save, so the 1,000-record check takes minutes.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>

#include <plugfit/testing.hpp>

#include "checkpoint/store.hpp"
#include "plugins/loader.hpp"

using namespace plugfit;
namespace fs = std::filesystem;

namespace {

// The plugin, loaded once by name, before the suite forks writers.
struct Plugin {
  Registry registry;
  PluginLoader loader{registry};
  Plugin() { loader.load("hdf5_backend"); }
};

Plugin& plugin() {
  static Plugin instance;
  return instance;
}

// Flips one byte in the middle of every run of at least 64 floats equal to fill in file: the
// victim's tensor data, and any stale copy of it. Returns how many runs.
int flip_runs_of(const fs::path& file, float fill) {
  std::string data;
  {
    std::ifstream in(file, std::ios::binary);
    data.assign(std::istreambuf_iterator<char>(in), {});
  }
  char pattern[sizeof(float)];
  std::memcpy(pattern, &fill, sizeof fill);
  const std::string_view word(pattern, sizeof pattern);
  constexpr std::size_t min_run = 64;
  int flipped = 0;
  for (std::size_t at = data.find(word); at != std::string::npos;) {
    std::size_t end = at;
    while (end + sizeof(float) <= data.size() && std::string_view(data).substr(end, sizeof(float)) == word)
      end += sizeof(float);
    if ((end - at) / sizeof(float) >= min_run) {
      data[at + ((end - at) / sizeof(float) / 2) * sizeof(float)] ^= 0x01;  // a low mantissa byte
      ++flipped;
    }
    at = data.find(word, end == at ? at + 1 : end);
  }
  if (flipped > 0) std::ofstream(file, std::ios::binary | std::ios::trunc).write(data.data(), static_cast<std::streamsize>(data.size()));
  return flipped;
}

// When each check started: the suite gives every check a folder of its own, opened first thing.
struct CheckClock {
  std::map<std::string, std::chrono::steady_clock::time_point> started;
  void seen(const std::string& folder) {
    const fs::path p(folder);
    for (auto it = p.begin(); it != p.end(); ++it)
      if (it->string().rfind("plugfit-conformance-", 0) == 0 && std::next(it) != p.end()) {
        started.emplace(std::next(it)->string(), std::chrono::steady_clock::now());
        return;
      }
  }
};

}  // namespace

TEST_CASE("hdf5: passes the checkpoint backend conformance suite") {
  plugin();  // loaded before the suite forks
  CheckClock clock;
  testing::BackendFixture fixture;
  fixture.label = "hdf5";
  fixture.open = [&clock](const std::string& folder) {
    clock.seen(folder);
    return open_backend(parse_checkpoint_uri("hdf5:" + folder + "/run.h5"), plugin().registry, &plugin().loader);
  };
  fixture.corrupt = [](const std::string& folder, const std::string&, testing::Corruption kind) {
    const fs::path file = fs::path(folder) / "run.h5";
    if (kind == testing::Corruption::truncate) {
      fs::resize_file(file, fs::file_size(file) / 2);
      return;
    }
    // The victim is filled with 2.0f (the other record with 1.0f); datasets are contiguous.
    const int flipped = flip_runs_of(file, 2.0f);
    MESSAGE("flipped one byte in each of " << flipped << " runs of 2.0f in " << file.filename().string());
    if (flipped == 0)
      throw std::runtime_error("the victim's tensor data was not found in " + file.string());
  };
  const auto begin = std::chrono::steady_clock::now();
  const auto results = testing::run_backend_conformance(fixture);
  const auto end = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& result = results[i];
    const auto from = clock.started.count(result.name) ? clock.started[result.name] : begin;
    const auto to = i + 1 < results.size() && clock.started.count(results[i + 1].name) ? clock.started[results[i + 1].name] : end;
    MESSAGE("hdf5 " << result.name << ": " << (result.passed ? "pass" : "FAIL") << " ("
                      << std::chrono::duration<double>(to - from).count() << " s) " << result.detail);
    CHECK_MESSAGE(result.passed, result.name << ": " << result.detail);
  }
  MESSAGE("hdf5 suite: " << std::chrono::duration<double>(end - begin).count() << " s");
}
