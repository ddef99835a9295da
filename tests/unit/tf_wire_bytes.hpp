// Shared by the tf_files unit tests: TensorFlow's encodings written by hand (protobuf varints and
// field keys, little-endian fixed32), so that each reader is tested against bytes it did not make.
#pragma once

#include <cstdint>
#include <string>

namespace tf_test {

inline std::string varint(std::uint64_t v) {
  std::string out;
  do {
    unsigned char b = v & 0x7f;
    v >>= 7;
    if (v) b |= 0x80;
    out += static_cast<char>(b);
  } while (v);
  return out;
}

inline std::string fixed32(std::uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>(v >> (8 * i));
  return s;
}

// A protobuf field key: the field number and the wire type.
inline std::string key(int number, int type) {
  return varint(static_cast<std::uint64_t>(number) << 3 | static_cast<unsigned>(type));
}

}  // namespace tf_test
