// Bytewise equality for the bit-identity checks: memcmp must not get a null pointer even for 0
// bytes (UBSan reports it, and an empty vector's data() is null), so an empty range is equal here.
#pragma once

#include <cstddef>
#include <cstring>

namespace plugfit::test {

inline bool same_memory(const void* a, const void* b, std::size_t bytes) {
  return bytes == 0 || std::memcmp(a, b, bytes) == 0;
}

}  // namespace plugfit::test
