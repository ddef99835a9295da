// tensor_bundle.hpp: a bundle written here byte by byte (a LevelDB table of BundleEntryProtos and
// one shard): float32, float16 and bfloat16 values, the int64 step, and each damage refused
// naming the file and the variable.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "crc32c.hpp"
#include "tensor_bundle.hpp"
#include "tf_wire_bytes.hpp"

using namespace tf_files;
namespace fs = std::filesystem;

using namespace tf_test;

namespace {

std::string field(int n, const std::string& body) { return key(n, 2) + varint(body.size()) + body; }

std::string block(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out;
  for (const auto& [k, v] : entries) out += varint(0) + varint(k.size()) + varint(v.size()) + k + v;
  return out + fixed32(0) + fixed32(1);
}

std::string table(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string file;
  auto add = [&](const std::string& contents) {
    const std::string handle = varint(file.size()) + varint(contents.size());
    const char type = 0;
    file += contents + std::string(1, type) + fixed32(crc32c_mask(crc32c_extend(crc32c(contents.data(), contents.size()), &type, 1)));
    return handle;
  };
  const std::string data = add(block(entries));
  const std::string meta = add(block({}));
  const std::string index = add(block({{entries.back().first, data}}));
  std::string footer = meta + index;
  footer.resize(40, '\0');
  return file + footer + fixed32(0x8b80fb57u) + fixed32(0xdb477524u);
}

struct Var {
  std::string name;
  int dtype;
  std::vector<std::int64_t> dims;
  std::string bytes;
};

// Writes PREFIX.index and PREFIX.data-00000-of-00001; `edit` may change each entry's fields.
void write_bundle(const fs::path& prefix, const std::vector<Var>& vars, std::int64_t size_delta = 0) {
  std::string shard;
  std::vector<std::pair<std::string, std::string>> entries = {{"", key(1, 0) + varint(1)}};
  for (const auto& v : vars) {
    std::string dims;
    for (auto d : v.dims) dims += field(2, key(1, 0) + varint(static_cast<std::uint64_t>(d)));
    entries.emplace_back(v.name, key(1, 0) + varint(static_cast<std::uint64_t>(v.dtype)) + field(2, dims) + key(4, 0) +
                                     varint(shard.size()) + key(5, 0) +
                                     varint(static_cast<std::uint64_t>(static_cast<std::int64_t>(v.bytes.size()) + size_delta)) +
                                     key(6, 5) + fixed32(crc32c_mask(crc32c(v.bytes.data(), v.bytes.size()))));
    shard += v.bytes;
  }
  std::sort(entries.begin(), entries.end());
  std::ofstream(prefix.string() + ".index", std::ios::binary) << table(entries);
  std::ofstream(prefix.string() + ".data-00000-of-00001", std::ios::binary) << shard;
}

template <typename T>
std::string raw(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

struct Folder {
  fs::path path = fs::temp_directory_path() / ("tf_bundle_test_" + std::to_string(::getpid()));
  Folder() { fs::create_directories(path); }
  ~Folder() { fs::remove_all(path); }
};

}  // namespace

TEST_CASE("half and bfloat16 widen exactly") {
  CHECK(half_to_float(0x3c00) == 1.0f);
  CHECK(half_to_float(0xc000) == -2.0f);
  CHECK(half_to_float(0x0001) == std::ldexp(1.0f, -24));  // the smallest subnormal
  CHECK(half_to_float(0x7bff) == 65504.0f);
  CHECK(std::isinf(half_to_float(0x7c00)));
  CHECK(std::isnan(half_to_float(0x7e00)));
  CHECK(bfloat16_to_float(0x3f80) == 1.0f);
  CHECK(bfloat16_to_float(0xc0a0) == -5.0f);
}

TEST_CASE("a bundle's float32, float16, bfloat16 and int64 variables read back; damage names file and variable") {
  Folder dir;
  const fs::path prefix = dir.path / "ckpt-1";
  const std::vector<float> kernel = {1.5f, -2.0f, 0.25f, 3.0f, 4.0f, -0.5f};
  const std::vector<std::uint16_t> half = {0x3c00, 0xc000}, bf = {0x3f80, 0xc0a0};
  const std::vector<std::int64_t> step = {80400};
  write_bundle(prefix, {{"a/kernel", DT_FLOAT, {2, 3}, raw(kernel)},
                        {"b/half", DT_HALF, {2}, raw(half)},
                        {"c/bf", DT_BFLOAT16, {2}, raw(bf)},
                        {"optimizer/iter", DT_INT64, {}, raw(step)}});
  const TensorBundle bundle(prefix);
  REQUIRE(bundle.variables().size() == 4);
  CHECK(bundle.read_floats(*bundle.find("a/kernel")) == kernel);
  CHECK(bundle.read_floats(*bundle.find("b/half")) == std::vector<float>{1.0f, -2.0f});
  CHECK(bundle.read_floats(*bundle.find("c/bf")) == std::vector<float>{1.0f, -5.0f});
  CHECK(bundle.read_integer(*bundle.find("optimizer/iter")) == 80400);
  CHECK_THROWS_WITH_AS(bundle.read_floats(*bundle.find("optimizer/iter")),
                       (prefix.string() + ".index: variable \"optimizer/iter\" is int64; plugfit reads float32, float16 and bfloat16 weights").c_str(),
                       FormatError);

  // A flipped byte in the shard: the variable's CRC.
  const std::string shard = prefix.string() + ".data-00000-of-00001";
  {
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(2);
    f.put('\x55');
  }
  CHECK_THROWS_WITH_AS(bundle.read_floats(*bundle.find("a/kernel")),
                       (shard + ": variable \"a/kernel\" fails its CRC-32C check (the shard is damaged)").c_str(), FormatError);
  // A shard cut short: the variables past its end.
  fs::resize_file(shard, 10);
  CHECK_THROWS_WITH_AS(bundle.read_floats(*bundle.find("c/bf")),
                       (shard + ": variable \"c/bf\" lies past the end of its shard (bytes 28 to 32 of 10)").c_str(), FormatError);
  fs::remove(shard);
  CHECK_THROWS_WITH_AS(bundle.read_floats(*bundle.find("a/kernel")),
                       (shard + ", the shard holding variable \"a/kernel\", does not exist").c_str(), FormatError);
}

TEST_CASE("an entry whose size disagrees with its shape and dtype is refused when the index is read") {
  Folder dir;
  const fs::path prefix = dir.path / "bad";
  write_bundle(prefix, {{"a/kernel", DT_FLOAT, {2, 3}, raw(std::vector<float>(6, 1.0f))}}, 1000000);
  CHECK_THROWS_WITH_AS(TensorBundle{prefix},
                       (prefix.string() + ".index: variable \"a/kernel\" claims 1000024 bytes for 6 float32 values").c_str(),
                       FormatError);
  CHECK_THROWS_WITH_AS(TensorBundle{dir.path / "absent"}, ((dir.path / "absent").string() + ".index does not exist").c_str(),
                       FormatError);
}
