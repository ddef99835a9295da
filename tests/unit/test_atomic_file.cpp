// write_file_atomically: the whole text or nothing, no temporary left behind, the reason on failure.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "util/atomic_file.hpp"
#include "test_support.hpp"

using namespace plugfit;
using namespace plugfit::test;
namespace fs = std::filesystem;

namespace {

std::size_t entries_in(const fs::path& folder) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(folder)) ++n;
  return n;
}

}  // namespace

TEST_CASE("write_file_atomically replaces the file whole and leaves no temporary file") {
  TempDir temp;
  const fs::path file = temp.path / "out.txt";
  for (const auto durability : {FileDurability::kRenamed, FileDurability::kSynced}) {
    CHECK(write_file_atomically(file.string(), "first\n", durability).empty());
    CHECK(read_file(file) == "first\n");
    CHECK(write_file_atomically(file.string(), std::string(100000, 'x'), durability).empty());
    CHECK(read_file(file) == std::string(100000, 'x'));
    CHECK(write_file_atomically(file.string(), "", durability).empty());
    CHECK(read_file(file).empty());
    CHECK(entries_in(temp.path) == 1);
  }
}

TEST_CASE("write_file_atomically reports why it failed and leaves the old file alone") {
  TempDir temp;
  CHECK(write_file_atomically((temp.path / "no/such/out.txt").string(), "x") == "No such file or directory");
  // The target is a folder: the rename fails, the temporary goes.
  fs::create_directory(temp.path / "folder");
  fs::create_directory(temp.path / "folder" / "inside");
  CHECK_FALSE(write_file_atomically((temp.path / "folder").string(), "x").empty());
  CHECK(fs::is_directory(temp.path / "folder" / "inside"));
  CHECK(entries_in(temp.path) == 1);
}
