#include "leveldb_table.hpp"

#include <cstdint>

#include "crc32c.hpp"
#include "proto_wire.hpp"

namespace tf_files {

namespace {

constexpr std::uint64_t kTableMagic = 0xdb4775248b80fb57ull;
constexpr std::size_t kFooterSize = 48;  // two handles of at most 20 bytes, padding, 8-byte magic
constexpr std::size_t kTrailerSize = 5;

std::uint32_t fixed32(std::string_view s, std::size_t pos) {
  return std::uint32_t(static_cast<unsigned char>(s[pos])) | std::uint32_t(static_cast<unsigned char>(s[pos + 1])) << 8 |
         std::uint32_t(static_cast<unsigned char>(s[pos + 2])) << 16 |
         std::uint32_t(static_cast<unsigned char>(s[pos + 3])) << 24;
}

struct Handle {
  std::uint64_t offset = 0, size = 0;
};

Handle read_handle(std::string_view data, std::size_t& pos, const std::string& what) {
  Handle h;
  h.offset = read_varint(data, pos, what);
  h.size = read_varint(data, pos, what);
  return h;
}

// The block a handle names, its trailer checked; contents without the trailer.
std::string_view block_at(std::string_view file, const Handle& h, const std::string& what) {
  if (h.offset > file.size() || h.size > file.size() - h.offset ||
      kTrailerSize > file.size() - h.offset - h.size)
    throw FormatError(what + " lies past the end of the file (offset " + std::to_string(h.offset) + ", size " +
                      std::to_string(h.size) + ", file " + std::to_string(file.size()) + " bytes)");
  const std::string_view block = file.substr(static_cast<std::size_t>(h.offset), static_cast<std::size_t>(h.size));
  const auto type = static_cast<unsigned char>(file[static_cast<std::size_t>(h.offset + h.size)]);
  const std::uint32_t stored = crc32c_unmask(fixed32(file, static_cast<std::size_t>(h.offset + h.size + 1)));
  std::uint32_t crc = crc32c(block.data(), block.size());
  const char type_byte = static_cast<char>(type);
  crc = crc32c_extend(crc, &type_byte, 1);
  if (crc != stored) throw FormatError(what + " fails its CRC-32C check (the file is damaged)");
  if (type == 1) throw FormatError(what + " is snappy-compressed; plugfit reads uncompressed tables only");
  if (type != 0) throw FormatError(what + " has compression type " + std::to_string(type) + ", which plugfit does not read");
  return block;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> read_block(std::string_view block, const std::string& what) {
  if (block.size() < 4) throw FormatError(what + " is shorter than its restart count");
  const std::uint32_t restarts = fixed32(block, block.size() - 4);
  if (restarts == 0 || restarts > (block.size() - 4) / 4)
    throw FormatError(what + " claims " + std::to_string(restarts) + " restart points, more than it can hold");
  const std::size_t end = block.size() - 4 - std::size_t(restarts) * 4;  // the entries end where restarts begin
  for (std::uint32_t i = 0; i < restarts; ++i)
    if (fixed32(block, end + 4 * i) > end) throw FormatError(what + ": a restart point lies past the entries");
  const std::string_view entries = block.substr(0, end);
  std::vector<std::pair<std::string, std::string>> out;
  std::string key;
  std::size_t pos = 0;
  while (pos < entries.size()) {
    const std::uint64_t shared = read_varint(entries, pos, what);
    const std::uint64_t unshared = read_varint(entries, pos, what);
    const std::uint64_t value_size = read_varint(entries, pos, what);
    if (shared > key.size()) throw FormatError(what + ": an entry shares more of the previous key than it has");
    if (unshared > entries.size() - pos || value_size > entries.size() - pos - unshared)
      throw FormatError(what + ": an entry runs past the end of its block");
    std::string next = key.substr(0, static_cast<std::size_t>(shared));
    next.append(entries.substr(pos, static_cast<std::size_t>(unshared)));
    pos += static_cast<std::size_t>(unshared);
    if (!out.empty() && next <= key) throw FormatError(what + ": keys are not in increasing order");
    key = std::move(next);
    out.emplace_back(key, std::string(entries.substr(pos, static_cast<std::size_t>(value_size))));
    pos += static_cast<std::size_t>(value_size);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> read_table(std::string_view file, const std::string& label) {
  if (file.size() < kFooterSize)
    throw FormatError(label + " is " + std::to_string(file.size()) + " bytes, too short for a table's " +
                      std::to_string(kFooterSize) + "-byte footer (truncated?)");
  const std::string_view footer = file.substr(file.size() - kFooterSize);
  const std::uint64_t magic = std::uint64_t(fixed32(footer, 40)) | std::uint64_t(fixed32(footer, 44)) << 32;
  if (magic != kTableMagic) throw FormatError(label + " does not end with a table's magic number (truncated, or not a TensorFlow index)");
  std::size_t pos = 0;
  const std::string_view handles = footer.substr(0, 40);
  read_handle(handles, pos, label + "'s footer");  // the metaindex: TF writes none that matters
  const Handle index = read_handle(handles, pos, label + "'s footer");
  const auto index_entries = read_block(block_at(file, index, label + "'s index block"), label + "'s index block");
  std::vector<std::pair<std::string, std::string>> out;
  std::string previous;
  for (std::size_t b = 0; b < index_entries.size(); ++b) {
    std::size_t p = 0;
    const std::string what = label + "'s data block " + std::to_string(b);
    const Handle h = read_handle(index_entries[b].second, p, what + "'s handle");
    for (auto& kv : read_block(block_at(file, h, what), what)) {
      if (!out.empty() && kv.first <= previous) throw FormatError(what + ": keys are not in increasing order");
      previous = kv.first;
      out.push_back(std::move(kv));
    }
  }
  return out;
}

}  // namespace tf_files
