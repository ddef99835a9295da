// The SDK's backend conformance suite on the built-in dir: backend.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include <plugfit/testing.hpp>

#include "checkpoint/dir_backend.hpp"

using namespace plugfit;
namespace fs = std::filesystem;

TEST_CASE("dir: passes the checkpoint backend conformance suite") {
  testing::BackendFixture fixture;
  fixture.label = "dir";
  fixture.open = [](const std::string& folder) { return std::make_unique<DirBackend>(fs::path(folder) / "ckpts"); };
  fixture.corrupt = [](const std::string& folder, const std::string& name, testing::Corruption kind) {
    const fs::path tensor = fs::path(folder) / "ckpts" / name / "tensors/weights/dense/kernel.npy";
    if (kind == testing::Corruption::truncate) {
      fs::resize_file(tensor, fs::file_size(tensor) / 2);
      return;
    }
    std::fstream file(tensor, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(200);
    const char c = static_cast<char>(file.get());
    file.seekp(200);
    file.put(static_cast<char>(c ^ 0x01));
  };
  for (const auto& result : testing::run_backend_conformance(fixture)) {
    INFO(result.name << ": " << result.detail);
    CHECK_MESSAGE(result.passed, result.name);
  }
}
