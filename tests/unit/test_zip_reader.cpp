// zip_reader.hpp: members listed and read whole, a truncated archive and a file that is no zip
// told apart, and the size bounds checked before a member's bytes are read.
#include <doctest/doctest.h>
#include <zip.h>

#include <fstream>

#include "test_support.hpp"
#include "zip_reader.hpp"

namespace {

using plugfit_hdf5::ZipArchive;
using plugfit_hdf5::ZipFailure;
namespace fs = std::filesystem;

// Writes a zip of (name, bytes) members with libzip (deflated).
void write_zip(const fs::path& path, const std::vector<std::pair<std::string, std::string>>& members) {
  int code = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  REQUIRE(archive != nullptr);
  for (const auto& [name, bytes] : members) {
    zip_source_t* source = zip_source_buffer(archive, bytes.data(), bytes.size(), 0);
    REQUIRE(source != nullptr);
    REQUIRE(zip_file_add(archive, name.c_str(), source, ZIP_FL_OVERWRITE) >= 0);
  }
  REQUIRE(zip_close(archive) == 0);  // the buffers are read here, while members is alive
}

std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

ZipFailure::Kind failure_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const ZipFailure& e) {
    MESSAGE(e.what());
    return e.kind();
  }
  FAIL("no ZipFailure");
  return ZipFailure::Kind::damaged;
}

}  // namespace

TEST_CASE("a good archive lists its members and reads each whole") {
  plugfit::test::TempDir dir;
  std::string big;  // text that deflates little, as weights do
  for (unsigned i = 0, x = 1; i < 100000; ++i, x = x * 1103515245u + 12345u) big += static_cast<char>(x >> 24);
  write_zip(dir.path / "a.zip", {{"config.json", "{\"a\": 1}"}, {"model.weights.h5", big}});
  const ZipArchive archive(dir.path / "a.zip");
  CHECK(archive.members() == std::vector<std::string>{"config.json", "model.weights.h5"});
  CHECK(archive.contains("config.json"));
  CHECK_FALSE(archive.contains("metadata.json"));
  const auto config = archive.read("config.json");
  CHECK(std::string(config.begin(), config.end()) == "{\"a\": 1}");
  const auto weights = archive.read("model.weights.h5");
  CHECK(std::string(weights.begin(), weights.end()) == big);
}

TEST_CASE("a truncated archive and a file that is no zip fail with different reasons") {
  plugfit::test::TempDir dir;
  write_zip(dir.path / "a.zip", {{"config.json", std::string(5000, 'c')}});
  const std::string bytes = file_bytes(dir.path / "a.zip");
  std::ofstream(dir.path / "half.zip", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  std::ofstream(dir.path / "text.zip") << "not a zip archive, just text";
  CHECK(failure_of([&] { ZipArchive{dir.path / "half.zip"}; }) == ZipFailure::Kind::truncated);
  CHECK(failure_of([&] { ZipArchive{dir.path / "text.zip"}; }) == ZipFailure::Kind::not_zip);
  CHECK_THROWS_WITH_AS(ZipArchive{dir.path / "half.zip"}, doctest::Contains("half.zip is a truncated zip archive"),
                       ZipFailure);
  CHECK_THROWS_WITH_AS(ZipArchive{dir.path / "text.zip"}, doctest::Contains("text.zip is not a zip archive (libzip: "),
                       ZipFailure);
}

TEST_CASE("a member declaring more than 64 times the archive's size is refused before it is read") {
  plugfit::test::TempDir dir;
  write_zip(dir.path / "bomb.zip", {{"zeros", std::string(std::size_t{1} << 20, '\0')}});  // deflates ~1000:1
  const ZipArchive archive(dir.path / "bomb.zip");
  CHECK(failure_of([&] { archive.read("zeros"); }) == ZipFailure::Kind::too_large);
}

TEST_CASE("a member whose stored bytes are damaged fails its read, naming the member") {
  plugfit::test::TempDir dir;
  std::string text;
  for (int i = 0; i < 2000; ++i) text += std::to_string(i * 7919 % 1000) + ",";
  write_zip(dir.path / "a.zip", {{"data.txt", text}});
  std::string bytes = file_bytes(dir.path / "a.zip");
  bytes[60] = static_cast<char>(bytes[60] ^ 0x55);  // inside the deflated data, after the local header
  std::ofstream(dir.path / "bad.zip", std::ios::binary) << bytes;
  const ZipArchive archive(dir.path / "bad.zip");
  CHECK_THROWS_WITH_AS(archive.read("data.txt"), doctest::Contains("the member data.txt of"), ZipFailure);
}
