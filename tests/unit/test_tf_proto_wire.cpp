// proto_wire.hpp: the wire format's edge cases, and the messages decoded from hand-made bytes.
#include <doctest/doctest.h>

#include <functional>
#include <string>

#include "proto_wire.hpp"
#include "tf_wire_bytes.hpp"

using namespace tf_files;

using namespace tf_test;

namespace {

std::string bytes_field(int number, const std::string& body) { return key(number, 2) + varint(body.size()) + body; }

}  // namespace

TEST_CASE("varints: one to ten bytes; truncated and overlong ones are refused") {
  std::size_t pos = 0;
  CHECK(read_varint(varint(0), pos, "t") == 0);
  pos = 0;
  CHECK(read_varint(varint(300), pos, "t") == 300);
  CHECK(pos == 2);
  pos = 0;
  CHECK(read_varint(varint(~0ull), pos, "t") == ~0ull);
  CHECK(pos == 10);
  pos = 0;
  CHECK_THROWS_AS(read_varint(std::string("\x80\x80", 2), pos, "t"), FormatError);
  pos = 0;
  CHECK_THROWS_AS(read_varint(std::string(11, '\x80'), pos, "t"), FormatError);
  pos = 0;
  CHECK_THROWS_AS(read_varint(std::string(9, '\xff') + "\x7f", pos, "t"), FormatError);  // past 64 bits
}

TEST_CASE("a length past the buffer, a group, field number 0 and deep nesting are refused before any use") {
  WireField f;
  std::string claims = key(1, 2) + varint(1000) + "abc";
  WireReader r(claims, "message");
  CHECK_THROWS_WITH_AS(r.next(f), "message: field 1 claims 1000 bytes, but only 3 are left", FormatError);
  std::string huge = key(1, 2) + varint(~0ull >> 1);
  WireReader h(huge, "m");
  CHECK_THROWS_AS(h.next(f), FormatError);
  std::string group = key(1, 3);
  WireReader g(group, "m");
  CHECK_THROWS_AS(g.next(f), FormatError);
  std::string zero = key(0, 0) + varint(1);
  WireReader z(zero, "m");
  CHECK_THROWS_AS(z.next(f), FormatError);
  std::string fixed = key(1, 5) + "ab";
  WireReader x(fixed, "m");
  CHECK_THROWS_AS(x.next(f), FormatError);
  // Nesting deeper than kMaxDepth: shapes within shapes.
  std::string nested = "";
  for (int i = 0; i < WireReader::kMaxDepth + 2; ++i) nested = bytes_field(1, nested);
  std::function<void(WireReader)> dive = [&](WireReader reader) {
    WireField inner;
    while (reader.next(inner)) dive(reader.nested(inner, "m"));
  };
  CHECK_THROWS_AS(dive(WireReader(nested, "m")), FormatError);
}

TEST_CASE("BundleEntryProto and BundleHeaderProto decode every field; unknown fields are skipped") {
  const std::string dim = bytes_field(2, key(1, 0) + varint(43)) + bytes_field(2, key(1, 0) + varint(80));
  const std::string entry = key(1, 0) + varint(1) + bytes_field(2, dim) + key(3, 0) + varint(0) + key(4, 0) +
                            varint(13760) + key(5, 0) + varint(13760) + key(6, 5) + std::string("\x78\x56\x34\x12", 4) +
                            key(99, 0) + varint(5) + bytes_field(7, "");
  const BundleEntry e = parse_bundle_entry(entry, "e");
  CHECK(e.dtype == DT_FLOAT);
  CHECK(e.shape.dims == std::vector<std::int64_t>{43, 80});
  CHECK(e.offset == 13760);
  CHECK(e.size == 13760);
  CHECK(e.crc32c == 0x12345678u);
  CHECK(e.slices == 1);
  const BundleHeader header = parse_bundle_header(key(1, 0) + varint(2) + bytes_field(3, key(1, 0) + varint(1)), "h");
  CHECK(header.num_shards == 2);
  CHECK(header.endianness == 0);
  CHECK(header.version_producer == 1);
  CHECK_THROWS_AS(parse_bundle_entry(key(6, 0) + varint(1), "e"), FormatError);  // crc32c must be fixed32
  CHECK(dtype_name(DT_HALF) == "float16");
  CHECK(dtype_name(123) == "DataType 123");
}

TEST_CASE("an object graph's child and slot ids must name its nodes") {
  const std::string child = bytes_field(1, key(1, 0) + varint(1) + bytes_field(2, "kernel"));
  const std::string attr = bytes_field(2, bytes_field(1, "VARIABLE_VALUE") + bytes_field(3, "k/.ATTRIBUTES/VARIABLE_VALUE"));
  const std::string graph = bytes_field(1, child) + bytes_field(1, attr);
  const auto nodes = parse_object_graph(graph, "g");
  REQUIRE(nodes.size() == 2);
  CHECK(nodes[0].children[0].local_name == "kernel");
  CHECK(nodes[1].attributes[0].checkpoint_key == "k/.ATTRIBUTES/VARIABLE_VALUE");
  const std::string dangling = bytes_field(1, bytes_field(1, key(1, 0) + varint(7)));
  CHECK_THROWS_AS(parse_object_graph(dangling, "g"), FormatError);
  const std::string slot = bytes_field(1, bytes_field(3, key(1, 0) + varint(0) + bytes_field(2, "m") + key(3, 0) + varint(5)));
  CHECK_THROWS_AS(parse_object_graph(slot, "g"), FormatError);
}

TEST_CASE("SavedMetadata nodes: id, path, identifier and metadata") {
  const std::string node = key(2, 0) + varint(1) + bytes_field(3, "root.layer_with_weights-0") +
                           bytes_field(4, "_tf_keras_layer") + bytes_field(5, "{\"name\": \"dense\"}") +
                           bytes_field(6, key(1, 0) + varint(2));
  const auto nodes = parse_saved_metadata(bytes_field(1, node), "md");
  REQUIRE(nodes.size() == 1);
  CHECK(nodes[0].node_id == 1);
  CHECK(nodes[0].node_path == "root.layer_with_weights-0");
  CHECK(nodes[0].identifier == "_tf_keras_layer");
  CHECK(nodes[0].metadata == "{\"name\": \"dense\"}");
}
