// A protobuf wire-format reader (varint, 64-bit, length-delimited, 32-bit fields) and the few
// TensorFlow messages plugfit reads, decoded by hand from their public .proto definitions:
//   tensor_bundle.proto            BundleHeaderProto, BundleEntryProto (TensorSliceProto only counted)
//   tensor_shape.proto             TensorShapeProto
//   trackable_object_graph.proto   TrackableObjectGraph (children, attributes, slot variables)
//   saved_metadata.proto (Keras)   SavedMetadata: nodes with node_id, node_path, identifier, metadata
// Why not libprotobuf: six messages, a handful of fields each; a reader of ~300 lines needs no
// .proto copies, no protoc step in the build, and no library whose whole parser becomes the
// surface a hostile file reaches. Every length is checked against the bytes left before use,
// nesting is bounded (kMaxDepth), and repeated fields are bounded by the buffer they come from
// (each element takes at least one byte), so nothing is allocated from a size a file claims.
// Unknown fields are skipped, as protobuf does. Errors: FormatError, message naming `what`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "format_error.hpp"

namespace tf_files {

enum class WireType : std::uint8_t { varint = 0, fixed64 = 1, bytes = 2, fixed32 = 5 };

struct WireField {
  std::uint32_t number = 0;
  WireType type = WireType::varint;
  std::uint64_t value = 0;  // varint, fixed64, fixed32
  std::string_view bytes;   // length-delimited
};

// Reads one message's fields in order. Throws FormatError("<what>: ...") on a truncated varint,
// a length past the end, a field number 0, a group (wire types 3 and 4) or an unknown wire type.
class WireReader {
 public:
  static constexpr int kMaxDepth = 16;
  WireReader(std::string_view data, std::string what, int depth = 0);
  // The next field, or false at the end of the message.
  bool next(WireField& field);
  // A reader for a length-delimited field's bytes as a nested message (depth + 1, bounded).
  WireReader nested(const WireField& field, const std::string& what) const;
  const std::string& what() const { return what_; }

 private:
  std::uint64_t varint();
  std::string_view data_;
  std::size_t pos_ = 0;
  std::string what_;
  int depth_;
};

// Decodes a varint at data[pos]; advances pos. Throws FormatError naming what when truncated or
// longer than 10 bytes.
std::uint64_t read_varint(std::string_view data, std::size_t& pos, const std::string& what);

// tensorflow.DataType values plugfit knows by name.
enum TfDtype : int { DT_FLOAT = 1, DT_DOUBLE = 2, DT_INT32 = 3, DT_STRING = 7, DT_INT64 = 9, DT_BOOL = 10,
                     DT_BFLOAT16 = 14, DT_HALF = 19 };
// "float32", "int64", "bfloat16", ... or "DataType N".
std::string dtype_name(int dtype);
// Bytes per element of a fixed-size dtype; 0 for others (strings, unknown).
std::size_t dtype_size(int dtype);

struct TensorShape {
  std::vector<std::int64_t> dims;  // -1: unknown
  bool unknown_rank = false;
};

struct BundleHeader {
  std::int32_t num_shards = 0;
  int endianness = 0;  // 0 little, 1 big
  std::int32_t version_producer = 0;
};

struct BundleEntry {
  int dtype = 0;
  TensorShape shape;
  std::int32_t shard_id = 0;
  std::int64_t offset = 0;
  std::int64_t size = 0;
  std::uint32_t crc32c = 0;  // masked
  std::size_t slices = 0;    // TensorSliceProto count (partitioned variables)
};

TensorShape parse_tensor_shape(WireReader reader);
BundleHeader parse_bundle_header(std::string_view bytes, const std::string& what);
BundleEntry parse_bundle_entry(std::string_view bytes, const std::string& what);

struct ObjectGraphNode {
  struct Child { std::int32_t node_id = 0; std::string local_name; };
  struct Attribute { std::string name, full_name, checkpoint_key; };
  struct Slot { std::int32_t original_variable_node_id = 0; std::string slot_name; std::int32_t slot_variable_node_id = 0; };
  std::vector<Child> children;
  std::vector<Attribute> attributes;
  std::vector<Slot> slot_variables;
};
// TrackableObjectGraph: nodes in order (node 0 the root). Child and slot ids are checked to name
// nodes of the graph.
std::vector<ObjectGraphNode> parse_object_graph(std::string_view bytes, const std::string& what);

struct SavedMetadataNode {
  std::int32_t node_id = 0;
  std::string node_path;   // "root", "root.layer_with_weights-0", ...
  std::string identifier;  // "_tf_keras_sequential", "_tf_keras_layer", ...
  std::string metadata;    // Keras's JSON
};
std::vector<SavedMetadataNode> parse_saved_metadata(std::string_view bytes, const std::string& what);

}  // namespace tf_files
