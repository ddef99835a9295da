// leveldb_table.hpp: blocks with shared key prefixes and restarts, trailers' CRCs, footers, and
// tables cut or damaged anywhere.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "crc32c.hpp"
#include "leveldb_table.hpp"
#include "tf_wire_bytes.hpp"

using namespace tf_files;

using namespace tf_test;

namespace {


// A block of the entries, keys prefix-compressed with a restart every `interval` entries.
std::string block(const std::vector<std::pair<std::string, std::string>>& entries, std::size_t interval = 2) {
  std::string out, last;
  std::vector<std::uint32_t> restarts;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& [k, v] = entries[i];
    std::size_t shared = 0;
    if (i % interval == 0) {
      restarts.push_back(static_cast<std::uint32_t>(out.size()));
    } else {
      while (shared < k.size() && shared < last.size() && k[shared] == last[shared]) ++shared;
    }
    out += varint(shared) + varint(k.size() - shared) + varint(v.size()) + k.substr(shared) + v;
    last = k;
  }
  if (restarts.empty()) restarts.push_back(0);
  for (auto r : restarts) out += fixed32(r);
  return out + fixed32(static_cast<std::uint32_t>(restarts.size()));
}

std::string table(const std::vector<std::pair<std::string, std::string>>& entries, char type = 0) {
  std::string file;
  auto add = [&](const std::string& contents) {
    const std::string handle = varint(file.size()) + varint(contents.size());
    std::string trailer(1, type);
    file += contents + trailer + fixed32(crc32c_mask(crc32c_extend(crc32c(contents.data(), contents.size()), &type, 1)));
    return handle;
  };
  const std::string data = add(block(entries));
  const std::string meta = add(block({}));
  const std::string index = add(block({{entries.back().first, data}}));
  std::string footer = meta + index;
  footer.resize(40, '\0');
  return file + footer + fixed32(0x8b80fb57u) + fixed32(0xdb477524u);
}

const std::vector<std::pair<std::string, std::string>> kEntries = {
    {"", "header"}, {"layer/bias", "b"}, {"layer/kernel", "kk"}, {"layer/kernel/slot", "s"}, {"optimizer/iter", "i"}};

}  // namespace

TEST_CASE("a table's entries come back in order, prefix-compressed keys rebuilt across restarts") {
  for (std::size_t interval : {1u, 2u, 16u}) {
    const std::string b = block(kEntries, interval);
    CHECK(read_block(b, "block") == kEntries);
  }
  CHECK(read_table(table(kEntries), "t.index") == kEntries);
}

TEST_CASE("every cut of a table and every flipped byte is refused, never read past") {
  const std::string good = table(kEntries);
  for (std::size_t n = 0; n < good.size(); ++n) CHECK_THROWS_AS(read_table(good.substr(0, n), "t.index"), FormatError);
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    try {
      const auto entries = read_table(bad, "t.index");
      // Only the footer's padding is not covered by a checksum or the magic.
      CHECK(entries == kEntries);
    } catch (const FormatError&) {
    }
  }
  CHECK_THROWS_WITH_AS(read_table(good.substr(0, 47), "t.index"),
                       "t.index is 47 bytes, too short for a table's 48-byte footer (truncated?)", FormatError);
}

TEST_CASE("snappy blocks are named, not read; bad restarts and shared prefixes are refused") {
  CHECK_THROWS_WITH_AS(read_table(table(kEntries, 1), "t.index"),
                       "t.index's index block is snappy-compressed; plugfit reads uncompressed tables only", FormatError);
  std::string restarts = block(kEntries);
  restarts.replace(restarts.size() - 4, 4, fixed32(100000));
  CHECK_THROWS_AS(read_block(restarts, "b"), FormatError);
  const std::string shares_too_much = varint(5) + varint(1) + varint(0) + "x" + fixed32(0) + fixed32(1);
  CHECK_THROWS_AS(read_block(shares_too_much, "b"), FormatError);
  const std::string overruns = varint(0) + varint(50) + varint(0) + "x" + fixed32(0) + fixed32(1);
  CHECK_THROWS_AS(read_block(overruns, "b"), FormatError);
  CHECK_THROWS_AS(read_block(block({{"b", "1"}, {"a", "2"}}), "b"), FormatError);  // out of order
}
