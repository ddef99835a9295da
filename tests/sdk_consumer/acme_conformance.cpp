// The SDK's checkpoint backend conformance suite on acme's toy backend, built out of tree against
// the installed SDK. Prints one line per check and exits 1 when any fails.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>

#include <plugfit/testing.hpp>

#include "toy_backend.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// When each check started: the suite gives every check a folder of its own, opened first thing.
std::map<std::string, Clock::time_point> started;

void note_start(const fs::path& folder) {
  for (auto it = folder.begin(); it != folder.end(); ++it)
    if (it->string().rfind("plugfit-conformance-", 0) == 0 && std::next(it) != folder.end()) {
      started.emplace(std::next(it)->string(), Clock::now());
      return;
    }
}

// Damages checkpoint name: one byte flipped in the middle of its tensor data (the header says
// where the data starts), or the file cut to half its size.
void corrupt(const std::string& folder, const std::string& name, plugfit::testing::Corruption kind) {
  const fs::path file = fs::path(folder) / "ckpts" / (name + ".ckpt");
  const auto size = fs::file_size(file);
  if (kind == plugfit::testing::Corruption::truncate) {
    fs::resize_file(file, size / 2);
    return;
  }
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  char header[32];
  f.read(header, sizeof header);
  std::uint32_t json_bytes = 0;
  std::memcpy(&json_bytes, header + 12, sizeof json_bytes);
  const std::uint64_t data_start = 32 + json_bytes;
  const auto at = static_cast<std::streamoff>(data_start + (size - data_start) / 2);
  f.seekg(at);
  const char c = static_cast<char>(f.get());
  f.seekp(at);
  f.put(static_cast<char>(c ^ 0x01));
  if (!f) throw std::runtime_error("cannot flip a byte in " + file.string());
}

}  // namespace

int main() {
  plugfit::testing::BackendFixture fixture;
  fixture.label = "toy";
  fixture.open = [](const std::string& folder) -> std::unique_ptr<plugfit::CheckpointBackend> {
    note_start(folder);
    return std::make_unique<acme::ToyBackend>(fs::path(folder) / "ckpts");
  };
  fixture.corrupt = corrupt;
  const auto begin = Clock::now();
  const auto results = plugfit::testing::run_backend_conformance(fixture);
  const auto end = Clock::now();
  int failed = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    const auto from = started.count(r.name) ? started[r.name] : begin;
    const auto to = i + 1 < results.size() && started.count(results[i + 1].name) ? started[results[i + 1].name] : end;
    std::printf("%s %-18s %8.3f s  %s\n", r.passed ? "PASS" : "FAIL", r.name.c_str(),
                std::chrono::duration<double>(to - from).count(), r.detail.c_str());
    failed += r.passed ? 0 : 1;
  }
  std::printf("toy backend: %zu checks, %d failed, %.1f s\n", results.size(), failed,
              std::chrono::duration<double>(end - begin).count());
  return failed == 0 && !results.empty() ? 0 : 1;
}
