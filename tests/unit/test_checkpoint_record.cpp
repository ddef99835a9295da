// plugfit/checkpoint.hpp's record_to_bytes / record_from_bytes: a record between processes, read
// back as given, and bytes that do not add up (from a process that read a hostile file) refused
// before anything is allocated from them.
#include <doctest/doctest.h>

#include <cstring>
#include <plugfit/checkpoint.hpp>

using namespace plugfit;

namespace {

CheckpointRecord sample() {
  CheckpointRecord r;
  r.info = {{"epoch", 2}, {"model", {{"class_name", "Sequential"}}}};
  r.tensors.push_back({"weights/dense/kernel", {2, 3}, {1, 2, 3, 4, 5, 6}});
  r.tensors.push_back({"weights/dense/bias", {3}, {0.5f, -1, 2}});
  r.tensors.push_back({"optimizer/iterations", {}, {7}});
  r.tensors.push_back({"empty", {0, 4}, {}});
  return r;
}

void put_u64(std::vector<std::byte>& bytes, std::size_t at, std::uint64_t v) { std::memcpy(&bytes[at], &v, sizeof v); }

}  // namespace

TEST_CASE("record_from_bytes gives back the record record_to_bytes was given") {
  const CheckpointRecord r = sample();
  const CheckpointRecord back = record_from_bytes(record_to_bytes(r), "the copy");
  CHECK(back.info == r.info);
  CHECK(back.tensors == r.tensors);
  CHECK(record_from_bytes(record_to_bytes(CheckpointRecord{}), "the copy").tensors.empty());
}

TEST_CASE("bytes cut anywhere or followed by more are refused as corrupt, naming what they are") {
  const std::vector<std::byte> bytes = record_to_bytes(sample());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    CAPTURE(n);
    CHECK_THROWS_WITH_AS(record_from_bytes(std::span(bytes).first(n), "the child's record"),
                         doctest::Contains("the child's record "), CheckpointCorrupt);
  }
  std::vector<std::byte> longer = bytes;
  longer.push_back(std::byte{0});
  CHECK_THROWS_WITH_AS(record_from_bytes(longer, "the copy"), "the copy has bytes after its last tensor", CheckpointCorrupt);
}

TEST_CASE("counts and shapes that the bytes cannot hold are refused before any allocation") {
  CheckpointRecord one;
  one.tensors.push_back({"k", {2, 2}, {1, 2, 3, 4}});
  const std::vector<std::byte> bytes = record_to_bytes(one);
  const std::size_t info_size = one.info.dump().size();
  const std::size_t count_at = 8 + info_size;          // after the info block
  const std::size_t rank_at = count_at + 8 + 8 + 1;    // after the count and the name "k"
  std::vector<std::byte> many = bytes;
  put_u64(many, count_at, std::uint64_t{1} << 60);  // 2^60 tensors: never resized to
  CHECK_THROWS_WITH_AS(record_from_bytes(many, "the copy"), "the copy counts more items than its bytes hold", CheckpointCorrupt);
  std::vector<std::byte> deep = bytes;
  put_u64(deep, rank_at, std::uint64_t{1} << 50);
  CHECK_THROWS_WITH_AS(record_from_bytes(deep, "the copy"), "the copy counts more items than its bytes hold", CheckpointCorrupt);
  std::vector<std::byte> wide = bytes;
  put_u64(wide, rank_at + 8, std::uint64_t{1} << 40);  // (2^40, 2): past the limit of elements
  CHECK_THROWS_WITH_AS(record_from_bytes(wide, "the copy"),
                       "the copy holds tensor \"k\" of more than the stated limit of elements", CheckpointCorrupt);
  std::vector<std::byte> short_values = bytes;
  put_u64(short_values, rank_at + 8, 3);  // (3, 2) over 4 values
  CHECK_THROWS_WITH_AS(record_from_bytes(short_values, "the copy"),
                       "the copy holds tensor \"k\" whose values do not fill its shape (3, 2)", CheckpointCorrupt);
  std::vector<std::byte> not_json = bytes;
  not_json[8] = std::byte{'['};
  CHECK_THROWS_WITH_AS(record_from_bytes(not_json, "the copy"), "the copy holds an info that is no JSON object",
                       CheckpointCorrupt);
}
