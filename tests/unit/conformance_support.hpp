// Running the SDK's conformance suite on a backend plugin, loaded by name from the build tree and
// opened by URI as the host opens it ("SCHEME:FOLDER/FILE"), reporting each check with its time.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>

#include <plugfit/testing.hpp>

#include "checkpoint/store.hpp"
#include "plugin_loading/loader.hpp"

namespace plugfit::test {

namespace fs = std::filesystem;


// Flips one byte in the middle of every run of at least 64 floats equal to fill in file: the
// victim's tensor data, and any stale copy of it (free pages, the WAL). Returns how many runs.
inline int flip_runs_of(const fs::path& file, float fill) {
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


// Runs the suite on the backend of `plugin` for URIs "scheme:FOLDER/file". flip_victim damages
// the victim record's data in a folder (the suite's victim is filled with 2.0f, the other record
// with 1.0f) and returns how many places it changed; truncation cuts the file in half.
inline void run_plugin_conformance(const std::string& plugin, const std::string& scheme, const std::string& file,
                                   const std::function<int(const fs::path& file)>& flip_victim) {
  // Loaded once, before the suite forks; every open() makes a backend of its own.
  static Registry registry;
  static PluginLoader loader(registry);
  loader.load(plugin);
  CheckClock clock;
  testing::BackendFixture fixture;
  fixture.label = scheme;
  fixture.open = [&](const std::string& folder) {
    clock.seen(folder);
    return open_backend(parse_checkpoint_uri(scheme + ":" + folder + "/" + file), registry, &loader);
  };
  fixture.corrupt = [&](const std::string& folder, const std::string&, testing::Corruption kind) {
    const fs::path path = fs::path(folder) / file;
    if (kind == testing::Corruption::truncate) {
      fs::resize_file(path, fs::file_size(path) / 2);
      return;
    }
    const int flipped = flip_victim(path);
    MESSAGE("flipped one byte in each of " << flipped << " runs of 2.0f in " << file);
    if (flipped == 0) throw std::runtime_error("the victim's tensor data was not found in " + path.string());
  };
  const auto begin = std::chrono::steady_clock::now();
  const auto results = testing::run_backend_conformance(fixture);
  const auto end = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& result = results[i];
    const auto from = clock.started.count(result.name) ? clock.started[result.name] : begin;
    const auto to =
        i + 1 < results.size() && clock.started.count(results[i + 1].name) ? clock.started[results[i + 1].name] : end;
    MESSAGE(scheme << " " << result.name << ": " << (result.passed ? "pass" : "FAIL") << " ("
                   << std::chrono::duration<double>(to - from).count() << " s) " << result.detail);
    CHECK_MESSAGE(result.passed, result.name << ": " << result.detail);
  }
  MESSAGE(scheme << " suite: " << std::chrono::duration<double>(end - begin).count() << " s");
}

}  // namespace plugfit::test
