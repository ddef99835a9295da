// The SDK npy codec (plugfit/npy.hpp): exact round trips, numpy interop, and what is refused.
#include <doctest/doctest.h>

#include <plugfit/npy.hpp>

#include "dataset_test_support.hpp"

using namespace dataset_test;

TEST_CASE("npy write then read is exact") {
  TempDir dir;
  Tensor t = Tensor::from_shape({2, 3, 4});
  for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = static_cast<float>(i) * 0.1f - 1.3f;
  t.data()[0] = -0.f;
  t.data()[1] = std::numeric_limits<float>::denorm_min();
  t.data()[2] = std::numeric_limits<float>::infinity();
  t.data()[3] = std::numeric_limits<float>::max();
  const std::string path = dir.file("t.npy");
  plugfit::npy::write_file(path, t);
  const std::string bytes = read_file(path);
  REQUIRE(bytes.size() >= 128);
  CHECK(bytes.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  const std::size_t header_len = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
  CHECK((10 + header_len) % 64 == 0);
  CHECK(bytes[10 + header_len - 1] == '\n');
  CHECK(bytes.size() == 10 + header_len + 4 * 24);

  const Tensor back = plugfit::npy::read_file(path);
  REQUIRE(shape(back) == shape(t));
  for (std::size_t i = 0; i < t.size(); ++i) CHECK(bits(back.data()[i]) == bits(t.data()[i]));

  // One dimension, zero length, and a scalar.
  for (const auto& s : {plugfit::Shape{5}, plugfit::Shape{0, 3}, plugfit::Shape{}}) {
    Tensor v = Tensor::from_shape(s);
    std::fill(v.begin(), v.end(), 2.5f);
    plugfit::npy::write_file(path, v);
    const Tensor w = plugfit::npy::read_file(path);
    CHECK(shape(w) == s);
    CHECK(w.size() == v.size());
    CHECK(std::all_of(w.begin(), w.end(), [](float x) { return x == 2.5f; }));
  }

  // The npy: spec pairs inputs with labels.
  Tensor y = Tensor::from_shape({2});
  y(0) = 1.f;
  y(1) = 0.f;
  plugfit::npy::write_file(path, t);
  plugfit::npy::write_file(dir.file("y.npy"), y);
  const Dataset d = plugfit::load_dataset("npy:" + path + "," + dir.file("y.npy"));
  CHECK(d.size() == 2);
  CHECK(d.sample_shape() == plugfit::Shape{3, 4});
  CHECK(d.y(0) == 1.f);

  const std::string msg = input_error([&] { plugfit::npy::write_file(dir.file("no/such/dir/t.npy"), t); });
  CHECK(contains(msg, "no/such/dir/t.npy"));
}

TEST_CASE("npy files that are not supported say why") {
  TempDir dir;
  const auto npy = [](const std::string& header_dict, const std::string& data) {
    std::string header = header_dict;
    while ((10 + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    return std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size() & 0xFF) +
           static_cast<char>(header.size() >> 8) + header + data;
  };
  const std::string path = dir.file("x.npy");

  write_file(path, npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", std::string(16, '\0')));
  CHECK(contains(input_error([&] { plugfit::npy::read_file(path); }), "Fortran order"));

  // Big-endian data is converted: 1.5f and -2.f stored most significant byte first.
  write_file(path, npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
                       std::string("\x3f\xc0\x00\x00\xc0\x00\x00\x00", 8)));
  const Tensor big = plugfit::npy::read_file(path);
  CHECK(big(0) == 1.5f);
  CHECK(big(1) == -2.f);

  write_file(path, npy("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", std::string(16, '\0')));
  CHECK(contains(input_error([&] { plugfit::npy::read_file(path); }), "\"<c8\""));

  write_file(path, npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", std::string(8, '\0')));
  CHECK(contains(input_error([&] { plugfit::npy::read_file(path); }), "structured"));

  write_file(path, npy("{'descr': '<i2', 'fortran_order': False, 'shape': (3, 5), }", std::string(7, '\0')));
  const std::string msg = input_error([&] { plugfit::npy::read_file(path); });
  CHECK(contains(msg, path));
  CHECK(contains(msg, "truncated"));
  CHECK(contains(msg, "30"));
  CHECK(contains(msg, "only 7"));

  write_file(path, npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, }", ""));
  CHECK(contains(input_error([&] { plugfit::npy::read_file(path); }), "malformed"));

  write_file(path, "not numpy at all");
  CHECK(contains(input_error([&] { plugfit::npy::read_file(path); }), "not an NPY file"));

  // Big-endian is harmless for one-byte types.
  write_file(path, npy("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", "\x01\x02\xff"));
  CHECK(plugfit::npy::read_file(path)(2) == 255.f);
}

TEST_CASE("npy files written by numpy, and numpy reading ours") {
  if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) {
    MESSAGE("skipping the numpy interoperability checks: /usr/bin/python3 cannot import numpy");
    return;
  }
  TempDir dir;
  Tensor ours = Tensor::from_shape({2, 3, 4});
  for (std::size_t i = 0; i < ours.size(); ++i) ours.data()[i] = (static_cast<float>(i) - 7.f) * 0.3f;
  plugfit::npy::write_file(dir.file("ours.npy"), ours);
  write_file(dir.file("gen.py"), R"(import sys
import numpy as np
d = sys.argv[1]
base = (np.arange(24) - 7).reshape(2, 3, 4)
np.save(d + '/f4.npy', (base * 0.25).astype('<f4'))
np.save(d + '/f8.npy', base / 3)
np.save(d + '/i8.npy', base.astype('<i8'))
np.save(d + '/i4.npy', base.astype('<i4'))
np.save(d + '/i2.npy', base.astype('<i2'))
np.save(d + '/u1.npy', (np.arange(24) * 10).astype(np.uint8).reshape(2, 3, 4))
np.save(d + '/i1.npy', base.astype(np.int8))
np.save(d + '/b1.npy', base % 3 == 0)
np.save(d + '/scalar.npy', np.array(2.5, dtype=np.float32))
np.save(d + '/fortran.npy', np.asfortranarray((base * 0.25).astype('<f4')))
np.save(d + '/big.npy', base.astype('>f4'))
np.save(d + '/big_i8.npy', base.astype('>i8'))
for v in (2, 3):
    with open(d + '/v%d.npy' % v, 'wb') as f:
        np.lib.format.write_array(f, (base * 0.25).astype('<f4'), version=(v, 0))
a = np.load(d + '/ours.npy')
expected = ((np.arange(24, dtype=np.float32) - np.float32(7)) * np.float32(0.3)).reshape(2, 3, 4)
assert a.dtype == np.float32 and a.shape == (2, 3, 4), (a.dtype, a.shape)
assert (a == expected).all()
if hasattr(np.lib.format, 'GROWTH_AXIS_MAX_DIGITS'):  # numpy >= 1.23 pads the header as write_npy does
    np.save(d + '/resaved.npy', a)
    assert open(d + '/resaved.npy', 'rb').read() == open(d + '/ours.npy', 'rb').read()
)");
  const std::string cmd = "/usr/bin/python3 " + dir.file("gen.py") + " " + dir.path().string();
  REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "numpy could not write the files or read ours.npy");

  const auto check = [&](const std::string& name, auto expected) {
    CAPTURE(name);
    const Tensor t = plugfit::npy::read_file(dir.file(name));
    REQUIRE(shape(t) == std::vector<std::size_t>{2, 3, 4});
    for (std::size_t i = 0; i < 24; ++i) CHECK(t.data()[i] == expected(static_cast<int>(i) - 7, i));
  };
  check("f4.npy", [](int v, std::size_t) { return static_cast<float>(v) * 0.25f; });
  check("v2.npy", [](int v, std::size_t) { return static_cast<float>(v) * 0.25f; });
  check("v3.npy", [](int v, std::size_t) { return static_cast<float>(v) * 0.25f; });
  check("f8.npy", [](int v, std::size_t) { return static_cast<float>(v / 3.0); });
  check("i8.npy", [](int v, std::size_t) { return static_cast<float>(v); });
  check("i4.npy", [](int v, std::size_t) { return static_cast<float>(v); });
  check("i2.npy", [](int v, std::size_t) { return static_cast<float>(v); });
  check("i1.npy", [](int v, std::size_t) { return static_cast<float>(v); });
  check("u1.npy", [](int, std::size_t i) { return static_cast<float>(static_cast<std::uint8_t>(i * 10)); });
  check("b1.npy", [](int v, std::size_t) { return v % 3 == 0 ? 1.f : 0.f; });

  const Tensor scalar = plugfit::npy::read_file(dir.file("scalar.npy"));
  CHECK(scalar.dimension() == 0);
  CHECK(scalar() == 2.5f);
  CHECK(contains(input_error([&] { plugfit::npy::read_file(dir.file("fortran.npy")); }), "Fortran order"));
  check("big.npy", [](int v, std::size_t) { return static_cast<float>(v); });
  check("big_i8.npy", [](int v, std::size_t) { return static_cast<float>(v); });
}

namespace {
// A version 1.0 file with this header dict (padded as numpy pads) and data.
std::string npy_bytes(const std::string& header_dict, const std::string& data) {
  std::string header = header_dict;
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  return std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size() & 0xFF) +
         static_cast<char>(header.size() >> 8) + header + data;
}
}  // namespace

TEST_CASE("npy shapes that overflow, or need more bytes than the file has, are refused before allocating") {
  TempDir dir;
  const std::string path = dir.file("huge.npy");
  // 2^32 * 2^32 elements: the element count overflows size_t.
  write_file(path, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", ""));
  std::string msg = input_error([&] { plugfit::npy::read_file(path); });
  CHECK(contains(msg, "NPY file " + path + " has the shape (4294967296, 4294967296), more than the limit of "
                      "1073741824 elements per tensor"));
  // 2^62 elements, and a zero dimension beside huge ones (xtensor's strides overflowed): the limit.
  write_file(path, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,), }", ""));
  CHECK(contains(input_error([&] { plugfit::npy::read_file(path); }), "more than the limit"));
  write_file(path, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4294967296, 4294967296), }", ""));
  CHECK(contains(input_error([&] { plugfit::npy::read_file(path); }), "more than the limit"));
  // 4 MB declared in a 128-byte file: refused by size, not by a failed allocation.
  write_file(path, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1024, 1024), }", "abcd"));
  msg = input_error([&] { plugfit::npy::read_file(path); });
  CHECK(contains(msg, "is truncated"));
  CHECK(contains(msg, "4194304 data bytes but only 4"));
  // The same in memory.
  const std::string bytes = read_file(path);
  CHECK(contains(input_error([&] { plugfit::npy::decode(bytes, "tensor t"); }), "tensor t is truncated"));
  // A header length beyond the limit (version 2.0, u32 length).
  std::string v2("\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12);
  write_file(path, v2);
  CHECK(contains(input_error([&] { plugfit::npy::read_file(path); }), "declares a header of 2147483647 bytes"));
  // Cut inside the header.
  write_file(path, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", "").substr(0, 40));
  CHECK(contains(input_error([&] { plugfit::npy::read_file(path); }), "truncated inside its header"));
  // Bytes after the data.
  write_file(path, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", std::string(6, '\0')));
  CHECK(contains(input_error([&] { plugfit::npy::read_file(path); }), "has 2 bytes after the 4 data bytes"));
  // An unknown version.
  write_file(path, std::string("\x93NUMPY\x04\x00\x00\x00", 10));
  CHECK(contains(input_error([&] { plugfit::npy::read_file(path); }), "unsupported format version 4.0"));
}

TEST_CASE("npy encode and decode in memory, 0-d and empty included") {
  for (const auto& s : {plugfit::Shape{}, plugfit::Shape{0}, plugfit::Shape{3, 0, 2}, plugfit::Shape{2, 3}}) {
    CAPTURE(plugfit::full_shape_str(s));
    Tensor t = Tensor::from_shape(s);
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = static_cast<float>(i) - 0.5f;
    const std::string bytes = plugfit::npy::encode(t);
    CHECK(bytes.substr(0, plugfit::npy::preamble(s).size()) == plugfit::npy::preamble(s));
    const plugfit::npy::Header h = plugfit::npy::parse_header(bytes, "t");
    CHECK(h.shape == s);
    CHECK(h.data_offset % 64 == 0);
    CHECK(h.data_bytes == t.size() * 4);
    plugfit::npy::DType stored = plugfit::npy::DType::uint8;
    const Tensor back = plugfit::npy::decode(bytes, "t", &stored);
    CHECK(stored == plugfit::npy::DType::float32);
    REQUIRE(shape(back) == s);
    for (std::size_t i = 0; i < t.size(); ++i) CHECK(bits(back.data()[i]) == bits(t.data()[i]));
    std::vector<float> values(7, 9.f);
    CHECK(plugfit::npy::decode_values(bytes, "t", values) == s);
    CHECK(values == std::vector<float>(t.begin(), t.end()));
  }
  CHECK(plugfit::npy::dtype_name(plugfit::npy::DType::uint8) == "|u1");
  CHECK(plugfit::npy::dtype_width(plugfit::npy::DType::int64) == 8);
}

TEST_CASE("uint8 npy inputs are scaled to [0, 1] as IDX images are; labels are not") {
  TempDir dir;
  write_file(dir.file("x.npy"), npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }",
                                          std::string("\x00\x33\xff\x80", 4)));
  write_file(dir.file("y.npy"), npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", "\x07\x02"));
  const Dataset d = plugfit::load_dataset("npy:" + dir.file("x.npy") + "," + dir.file("y.npy"));
  CHECK(d.x(0, 0) == 0.f);
  CHECK(d.x(0, 1) == 51.f / 255.f);
  CHECK(d.x(1, 0) == 1.f);
  CHECK(d.x(1, 1) == 128.f / 255.f);
  CHECK(d.y(0) == 7.f);
  CHECK(d.y(1) == 2.f);
  // Other dtypes pass as stored.
  write_file(dir.file("i.npy"), npy_bytes("{'descr': '<i2', 'fortran_order': False, 'shape': (1, 1), }", std::string("\xff\x00", 2)));
  CHECK(plugfit::load_dataset("npy:" + dir.file("i.npy")).x(0, 0) == 255.f);
}
