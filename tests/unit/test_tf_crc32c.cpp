// crc32c.hpp: CRC-32C known vectors, the hardware path equal to the table one, TF's mask.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "crc32c.hpp"

using namespace tf_files;

TEST_CASE("CRC-32C matches the standard check values") {
  CHECK(crc32c("123456789", 9) == 0xE3069283u);
  CHECK(crc32c("", 0) == 0u);
  // RFC 3720 (iSCSI) B.4: 32 bytes of zeros, of 0xff, and ascending bytes.
  std::vector<unsigned char> zeros(32, 0), ones(32, 0xff), up(32);
  for (int i = 0; i < 32; ++i) up[static_cast<std::size_t>(i)] = static_cast<unsigned char>(i);
  CHECK(crc32c(zeros.data(), 32) == 0x8A9136AAu);
  CHECK(crc32c(ones.data(), 32) == 0x62A8AB43u);
  CHECK(crc32c(up.data(), 32) == 0x46DD794Eu);
}

TEST_CASE("CRC-32C extends, and the hardware path equals the table at every length and alignment") {
  std::string text(1000, '\0');
  for (std::size_t i = 0; i < text.size(); ++i) text[i] = static_cast<char>((i * 131 + 7) & 0xff);
  for (std::size_t start = 0; start < 9; ++start)
    for (std::size_t n = 0; n + start <= 80; ++n)
      REQUIRE(crc32c_extend(0, text.data() + start, n) == crc32c_extend_portable(0, text.data() + start, n));
  const std::uint32_t whole = crc32c(text.data(), text.size());
  CHECK(crc32c_extend(crc32c(text.data(), 333), text.data() + 333, text.size() - 333) == whole);
  CHECK(crc32c_extend_portable(crc32c_extend_portable(0, text.data(), 5), text.data() + 5, text.size() - 5) == whole);
  MESSAGE("SSE4.2 crc32: " << (crc32c_hardware() ? "used" : "not available, the table runs"));
}

TEST_CASE("TF's mask rotates and adds its constant, and unmask undoes it") {
  CHECK(crc32c_mask(0) == 0xa282ead8u);
  const std::uint32_t crc = 0xE3069283u;
  CHECK(crc32c_mask(crc) == static_cast<std::uint32_t>(((crc >> 15) | (crc << 17)) + 0xa282ead8u));
  for (std::uint32_t v : {0u, 1u, 0xffffffffu, 0x12345678u, crc}) CHECK(crc32c_unmask(crc32c_mask(v)) == v);
  CHECK(crc32c_mask(crc) != crc);
}
