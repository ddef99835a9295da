// IDX files (gzipped or plain): every type, truncation, bad magic.
#include <doctest/doctest.h>

#include "dataset_test_support.hpp"

using namespace dataset_test;

TEST_CASE("IDX files of every supported type, gzipped or plain") {
  TempDir dir;
  std::string i16, i32, f32, f64;
  const std::vector<double> values = {-3.5, 0, 1, 2.25, -32768, 32767};
  for (double v : values) {
    auto u16 = static_cast<std::uint16_t>(static_cast<std::int16_t>(v));
    i16 += {static_cast<char>(u16 >> 8), static_cast<char>(u16)};
    i32 += be32(static_cast<std::uint32_t>(static_cast<std::int32_t>(v)));
    f32 += be32(bits(static_cast<float>(v)));
    const auto u64 = std::bit_cast<std::uint64_t>(v);
    f64 += be32(static_cast<std::uint32_t>(u64 >> 32)) + be32(static_cast<std::uint32_t>(u64));
  }
  write_file(dir.file("i16.idx"), idx_header(0x0B, {2, 3}) + i16);
  write_gz(dir.file("i32.idx.gz"), idx_header(0x0C, {6}) + i32);
  write_gz(dir.file("f32.idx.gz"), idx_header(0x0D, {3, 2}) + f32 + "trailing bytes are ignored");
  write_file(dir.file("f64.idx"), idx_header(0x0E, {1, 6}) + f64);
  write_file(dir.file("i8.idx"), idx_header(0x09, {3}) + std::string("\xff\x80\x7f", 3));
  write_file(dir.file("u8.idx"), idx_header(0x08, {3}) + std::string("\xff\x80\x7f", 3));

  const Tensor a = plugfit::read_idx(dir.file("i16.idx"));
  CHECK(shape(a) == std::vector<std::size_t>{2, 3});
  CHECK(a(0, 0) == -3.f);  // integer types truncate like the cast that wrote them
  CHECK(a(1, 1) == -32768.f);
  CHECK(a(1, 2) == 32767.f);
  const Tensor b = plugfit::read_idx(dir.file("i32.idx.gz"));
  CHECK(b(3) == 2.f);
  CHECK(b(4) == -32768.f);
  const Tensor c = plugfit::read_idx(dir.file("f32.idx.gz"));
  CHECK(shape(c) == std::vector<std::size_t>{3, 2});
  CHECK(c(0, 0) == -3.5f);
  CHECK(c(1, 1) == 2.25f);
  const Tensor d = plugfit::read_idx(dir.file("f64.idx"));
  CHECK(shape(d) == std::vector<std::size_t>{1, 6});
  CHECK(d(0, 3) == 2.25f);
  const Tensor e = plugfit::read_idx(dir.file("i8.idx"));
  CHECK(e(0) == -1.f);
  CHECK(e(1) == -128.f);
  CHECK(e(2) == 127.f);
  const Tensor u = plugfit::read_idx(dir.file("u8.idx"));
  CHECK(u(0) == 255.f);
  CHECK(u(1) == 128.f);

  // The idx: spec scales u8 images, not the labels.
  write_file(dir.file("labels.idx"), idx_header(0x08, {3}) + std::string("\x00\x05\x09", 3));
  const Dataset ds = plugfit::load_dataset("idx:" + dir.file("u8.idx") + "," + dir.file("labels.idx"));
  CHECK(ds.x(0) == 1.f);
  CHECK(ds.x(2) == 127.f / 255.f);
  CHECK(ds.y(2) == 9.f);
  const Dataset inputs_only = plugfit::load_dataset("idx:" + dir.file("u8.idx"));
  CHECK_FALSE(inputs_only.has_labels());
}

TEST_CASE("a truncated IDX file says how many bytes it expected and got") {
  TempDir dir;
  const std::string full = idx_header(0x08, {3, 4, 5}) + std::string(60, '\x10');
  const std::string raw = dir.file("short.idx");
  write_file(raw, full.substr(0, full.size() - 25));
  std::string msg = input_error([&] { plugfit::read_idx(raw); });
  CHECK(contains(msg, raw));
  CHECK(contains(msg, "truncated"));
  CHECK(contains(msg, "60"));
  CHECK(contains(msg, "35"));

  // A gzip stream cut in the middle.
  const std::string gz = dir.file("short.idx.gz");
  std::string big = idx_header(0x0D, {1000, 100});
  for (int i = 0; i < 100000; ++i) big += be32(bits(static_cast<float>(i % 977) * 0.37f));
  write_gz(gz, big);
  const std::string packed = read_file(gz);
  write_file(gz, packed.substr(0, packed.size() / 2));
  msg = input_error([&] { plugfit::read_idx(gz); });
  CHECK(contains(msg, gz));
  CHECK(contains(msg, "truncated"));
  CHECK(contains(msg, "400000"));

  // A header cut inside its dimensions.
  write_file(raw, idx_header(0x08, {3, 4, 5}).substr(0, 10));
  msg = input_error([&] { plugfit::read_idx(raw); });
  CHECK(contains(msg, "truncated"));
}

TEST_CASE("IDX files with a bad magic, an unknown type or no file at all") {
  TempDir dir;
  const std::string path = dir.file("bad.idx");
  write_file(path, "P5\n28 28\n255\n" + std::string(784, '\0'));
  std::string msg = input_error([&] { plugfit::read_idx(path); });
  CHECK(contains(msg, path));
  CHECK(contains(msg, "bad magic"));

  write_file(path, idx_header(0x07, {2}) + "ab");
  msg = input_error([&] { plugfit::read_idx(path); });
  CHECK(contains(msg, "0x07"));

  write_file(path, "\0\0");
  msg = input_error([&] { plugfit::read_idx(path); });
  CHECK(contains(msg, "too short"));

  msg = input_error([&] { plugfit::read_idx(dir.file("nothing.idx")); });
  CHECK(contains(msg, dir.file("nothing.idx")));
  CHECK(contains(msg, "does not exist"));

  // Damaged compressed data: an error naming the file, never garbage values.
  const std::string gz = dir.file("damaged.idx.gz");
  std::string data = idx_header(0x0C, {20000});
  for (std::uint32_t i = 0; i < 20000; ++i) data += be32(i * 2654435761u);
  write_gz(gz, data);
  std::string packed = read_file(gz);
  for (std::size_t i = packed.size() / 3; i < packed.size() / 3 + 64; ++i) packed[i] = static_cast<char>(~packed[i]);
  write_file(gz, packed);
  msg = input_error([&] { plugfit::read_idx(gz); });
  CHECK(contains(msg, gz));

  // Labels that do not match the images.
  write_file(dir.file("x.idx"), idx_header(0x08, {2, 2}) + "abcd");
  write_file(dir.file("y.idx"), idx_header(0x08, {3}) + "abc");
  msg = input_error([&] { plugfit::load_dataset("idx:" + dir.file("x.idx") + "," + dir.file("y.idx")); });
  CHECK(contains(msg, "2 samples but 3 labels"));
}

// Issue 15: IDX dimensions were trusted up to 2^40 elements, allocated before reading.
TEST_CASE("IDX dimensions beyond the tensor limit or the file's size are refused before allocating") {
  TempDir dir;
  const std::string path = dir.file("huge.idx");
  write_file(path, idx_header(0x08, {0, 0xFFFFFFFFu, 0xFFFFFFFFu}));
  CHECK(contains(input_error([&] { plugfit::read_idx(path); }), "more than the limit of 1073741824 elements"));
  write_file(path, idx_header(0x08, {1000, 1000, 1000}));  // a gigabyte declared in 20 bytes
  const std::string msg = input_error([&] { plugfit::read_idx(path); });
  CHECK(contains(msg, "IDX file " + path + " declares dimensions"));
  CHECK(contains(msg, "more than its 16 bytes can hold even compressed"));
}
