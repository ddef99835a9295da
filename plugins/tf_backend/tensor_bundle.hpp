// TensorFlow's tensor bundle (tf.train.Checkpoint, Keras's save_weights in TF format, a
// SavedModel's variables/): PREFIX.index, a LevelDB table whose "" key is a BundleHeaderProto
// and whose other keys are variable names mapped to BundleEntryProto, and the shards
// PREFIX.data-0000K-of-0000N holding each tensor's bytes at (shard_id, offset, size), checked by
// a masked CRC-32C. Files are read with plain reads: an .index is read whole after its real size
// is known; a tensor's bytes are read only after its offset and size are checked against its
// shard's real size. Only regular files are opened (a FIFO cannot hang a load).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "format_error.hpp"
#include "proto_wire.hpp"

namespace tf_files {

// A file's whole bytes, at most max_size (FormatError naming it otherwise, or when it is missing
// or no regular file).
std::string read_whole_file(const std::filesystem::path& path, std::uint64_t max_size);

struct BundleVariable {
  std::string key;  // "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"
  BundleEntry entry;
  std::uint64_t elements() const;  // product of the dims (0 for a shape with unknown dims)
};

class TensorBundle {
 public:
  // Reads PREFIX.index and checks every entry's fields: a known endianness (little), shard ids
  // below num_shards, non-negative offsets and sizes, sizes that match shape x dtype for
  // fixed-size dtypes. Shards are opened only when a tensor is read.
  explicit TensorBundle(std::filesystem::path prefix);

  const std::filesystem::path& prefix() const { return prefix_; }
  std::filesystem::path index_path() const;
  std::filesystem::path shard_path(std::int32_t shard) const;  // PREFIX.data-0000K-of-0000N
  const BundleHeader& header() const { return header_; }
  const std::vector<BundleVariable>& variables() const { return variables_; }
  const BundleVariable* find(const std::string& key) const;

  // The tensor's stored bytes, CRC-checked. FormatError naming the shard and the variable.
  std::string read_bytes(const BundleVariable& v) const;
  // A float32, float16 or bfloat16 tensor as float32 values (others: FormatError naming the
  // variable and its dtype).
  std::vector<float> read_floats(const BundleVariable& v) const;
  // An int64 (or int32) scalar.
  std::int64_t read_integer(const BundleVariable& v) const;
  // A string scalar (the object graph's entry): TF's layout of varint length, a 4-byte CRC-32C
  // of the length bytes, then the bytes.
  std::string read_string(const BundleVariable& v) const;

 private:
  std::string read_unchecked(const BundleVariable& v) const;  // bounds checked, no CRC
  std::filesystem::path prefix_;
  BundleHeader header_;
  std::vector<BundleVariable> variables_;
};

// IEEE half and bfloat16 to float.
float half_to_float(std::uint16_t h);
float bfloat16_to_float(std::uint16_t b);

}  // namespace tf_files
