// A reader of LevelDB's table format (doc/table_format.md), which TensorFlow's tensor bundle
// index (NAME.index) uses: a footer (metaindex and index block handles, magic
// 0xdb4775248b80fb57), an index block whose values are handles of data blocks, and data blocks
// of prefix-compressed keys with restart points. Each block's 5-byte trailer (compression type,
// masked CRC-32C of the block and the type) is checked. Only uncompressed blocks are read: a
// snappy block is a FormatError naming the file (TensorFlow writes its indexes uncompressed).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "format_error.hpp"

namespace tf_files {

// Every key/value pair of the table in `file` (its bytes, whole), in table order. Throws
// FormatError("<label>: ...") for anything that is not a well-formed table: a short file, a bad
// magic, a handle past the file, a block whose CRC differs, entries or restarts that overrun
// their block, keys out of order.
std::vector<std::pair<std::string, std::string>> read_table(std::string_view file, const std::string& label);

// One block's entries (its contents without the trailer). Exposed for the unit tests.
std::vector<std::pair<std::string, std::string>> read_block(std::string_view block, const std::string& what);

}  // namespace tf_files
