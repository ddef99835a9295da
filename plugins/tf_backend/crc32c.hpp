// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TensorFlow's tensor bundles and
// LevelDB's block trailers store it, and TF's mask of it (crc32c::Mask in tensorflow/tsl).
// SSE4.2's crc32 instruction when the CPU has it (checked once, __builtin_cpu_supports), a
// slicing-by-8 table otherwise; both give the same values (tests compare them).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tf_files {

// The CRC-32C of data[0, size), continuing from crc (0 for a new one): extend(extend(0, a), b)
// equals the CRC of a then b.
std::uint32_t crc32c_extend(std::uint32_t crc, const void* data, std::size_t size);
inline std::uint32_t crc32c(const void* data, std::size_t size) { return crc32c_extend(0, data, size); }
// The table version alone (for tests: the hardware path must equal it).
std::uint32_t crc32c_extend_portable(std::uint32_t crc, const void* data, std::size_t size);
// Whether crc32c_extend uses the SSE4.2 instruction on this CPU.
bool crc32c_hardware();

// TF's masked form: ((crc >> 15) | (crc << 17)) + 0xa282ead8, and its inverse.
constexpr std::uint32_t crc32c_mask(std::uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}
constexpr std::uint32_t crc32c_unmask(std::uint32_t masked) {
  const std::uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

}  // namespace tf_files
