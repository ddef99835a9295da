#include "proto_wire.hpp"

#include <utility>

namespace tf_files {

std::uint64_t read_varint(std::string_view data, std::size_t& pos, const std::string& what) {
  std::uint64_t value = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (pos >= data.size()) throw FormatError(what + ": a varint runs past the end of its data");
    const auto byte = static_cast<unsigned char>(data[pos++]);
    if (shift == 63 && byte > 1) throw FormatError(what + ": a varint is longer than 64 bits");
    value |= std::uint64_t(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  throw FormatError(what + ": a varint is longer than 10 bytes");
}

WireReader::WireReader(std::string_view data, std::string what, int depth)
    : data_(data), what_(std::move(what)), depth_(depth) {
  if (depth_ > kMaxDepth) throw FormatError(what_ + ": messages nest deeper than " + std::to_string(kMaxDepth));
}

std::uint64_t WireReader::varint() { return read_varint(data_, pos_, what_); }

bool WireReader::next(WireField& field) {
  if (pos_ >= data_.size()) return false;
  const std::uint64_t key = varint();
  const std::uint64_t number = key >> 3;
  if (number == 0 || number > 0x1fffffff) throw FormatError(what_ + ": a field number is out of range");
  field.number = static_cast<std::uint32_t>(number);
  field.bytes = {};
  field.value = 0;
  switch (key & 7) {
    case 0:
      field.type = WireType::varint;
      field.value = varint();
      return true;
    case 1:
      field.type = WireType::fixed64;
      if (data_.size() - pos_ < 8) throw FormatError(what_ + ": a 64-bit field runs past the end of its data");
      for (int i = 7; i >= 0; --i) field.value = (field.value << 8) | static_cast<unsigned char>(data_[pos_ + i]);
      pos_ += 8;
      return true;
    case 2: {
      field.type = WireType::bytes;
      const std::uint64_t length = varint();
      if (length > data_.size() - pos_)
        throw FormatError(what_ + ": field " + std::to_string(number) + " claims " + std::to_string(length) +
                          " bytes, but only " + std::to_string(data_.size() - pos_) + " are left");
      field.bytes = data_.substr(pos_, static_cast<std::size_t>(length));
      pos_ += static_cast<std::size_t>(length);
      return true;
    }
    case 5:
      field.type = WireType::fixed32;
      if (data_.size() - pos_ < 4) throw FormatError(what_ + ": a 32-bit field runs past the end of its data");
      for (int i = 3; i >= 0; --i) field.value = (field.value << 8) | static_cast<unsigned char>(data_[pos_ + i]);
      pos_ += 4;
      return true;
    default:
      throw FormatError(what_ + ": field " + std::to_string(number) + " has wire type " + std::to_string(key & 7) +
                        ", which these messages never use");
  }
}

WireReader WireReader::nested(const WireField& field, const std::string& what) const {
  if (field.type != WireType::bytes) throw FormatError(what_ + ": field " + std::to_string(field.number) + " is not a message");
  return WireReader(field.bytes, what, depth_ + 1);
}

std::string dtype_name(int dtype) {
  switch (dtype) {
    case DT_FLOAT: return "float32";
    case DT_DOUBLE: return "float64";
    case DT_INT32: return "int32";
    case 4: return "uint8";
    case 5: return "int16";
    case 6: return "int8";
    case DT_STRING: return "string";
    case 8: return "complex64";
    case DT_INT64: return "int64";
    case DT_BOOL: return "bool";
    case DT_BFLOAT16: return "bfloat16";
    case DT_HALF: return "float16";
    default: return "DataType " + std::to_string(dtype);
  }
}

std::size_t dtype_size(int dtype) {
  switch (dtype) {
    case DT_FLOAT: case DT_INT32: return 4;
    case DT_DOUBLE: case DT_INT64: return 8;
    case DT_HALF: case DT_BFLOAT16: case 5: return 2;
    case 4: case 6: case DT_BOOL: return 1;
    default: return 0;
  }
}

namespace {

void expect(const WireField& f, WireType type, const WireReader& r) {
  if (f.type != type) throw FormatError(r.what() + ": field " + std::to_string(f.number) + " has the wrong wire type");
}

std::int32_t as_int32(const WireField& f, const WireReader& r) {
  expect(f, WireType::varint, r);
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(f.value));  // protobuf's int32 truncation
}

std::int64_t as_int64(const WireField& f, const WireReader& r) {
  expect(f, WireType::varint, r);
  return static_cast<std::int64_t>(f.value);
}

std::string as_string(const WireField& f, const WireReader& r) {
  expect(f, WireType::bytes, r);
  return std::string(f.bytes);
}

}  // namespace

TensorShape parse_tensor_shape(WireReader r) {
  TensorShape shape;
  WireField f;
  while (r.next(f)) {
    if (f.number == 2) {
      WireReader dim = r.nested(f, r.what() + " (a dimension)");
      std::int64_t size = 0;
      WireField g;
      while (dim.next(g))
        if (g.number == 1) size = as_int64(g, dim);
      if (shape.dims.size() >= 64) throw FormatError(r.what() + ": a shape has more than 64 dimensions");
      shape.dims.push_back(size);
    } else if (f.number == 3) {
      shape.unknown_rank = f.value != 0;
    }
  }
  return shape;
}

BundleHeader parse_bundle_header(std::string_view bytes, const std::string& what) {
  BundleHeader h;
  WireReader r(bytes, what);
  WireField f;
  while (r.next(f)) {
    if (f.number == 1) h.num_shards = as_int32(f, r);
    else if (f.number == 2) h.endianness = as_int32(f, r);
    else if (f.number == 3) {
      WireReader v = r.nested(f, what + " (version)");
      WireField g;
      while (v.next(g))
        if (g.number == 1) h.version_producer = as_int32(g, v);
    }
  }
  return h;
}

BundleEntry parse_bundle_entry(std::string_view bytes, const std::string& what) {
  BundleEntry e;
  WireReader r(bytes, what);
  WireField f;
  while (r.next(f)) {
    switch (f.number) {
      case 1: e.dtype = as_int32(f, r); break;
      case 2: e.shape = parse_tensor_shape(r.nested(f, what + " (shape)")); break;
      case 3: e.shard_id = as_int32(f, r); break;
      case 4: e.offset = as_int64(f, r); break;
      case 5: e.size = as_int64(f, r); break;
      case 6:
        expect(f, WireType::fixed32, r);
        e.crc32c = static_cast<std::uint32_t>(f.value);
        break;
      case 7: ++e.slices; break;
      default: break;
    }
  }
  return e;
}

std::vector<ObjectGraphNode> parse_object_graph(std::string_view bytes, const std::string& what) {
  std::vector<ObjectGraphNode> nodes;
  WireReader r(bytes, what);
  WireField f;
  while (r.next(f)) {
    if (f.number != 1) continue;
    WireReader n = r.nested(f, what + " (node " + std::to_string(nodes.size()) + ")");
    ObjectGraphNode node;
    WireField g;
    while (n.next(g)) {
      if (g.number == 1) {
        WireReader c = n.nested(g, n.what() + " (a child)");
        ObjectGraphNode::Child child;
        WireField h;
        while (c.next(h)) {
          if (h.number == 1) child.node_id = as_int32(h, c);
          else if (h.number == 2) child.local_name = as_string(h, c);
        }
        node.children.push_back(std::move(child));
      } else if (g.number == 2) {
        WireReader a = n.nested(g, n.what() + " (an attribute)");
        ObjectGraphNode::Attribute attr;
        WireField h;
        while (a.next(h)) {
          if (h.number == 1) attr.name = as_string(h, a);
          else if (h.number == 2) attr.full_name = as_string(h, a);
          else if (h.number == 3) attr.checkpoint_key = as_string(h, a);
        }
        node.attributes.push_back(std::move(attr));
      } else if (g.number == 3) {
        WireReader s = n.nested(g, n.what() + " (a slot variable)");
        ObjectGraphNode::Slot slot;
        WireField h;
        while (s.next(h)) {
          if (h.number == 1) slot.original_variable_node_id = as_int32(h, s);
          else if (h.number == 2) slot.slot_name = as_string(h, s);
          else if (h.number == 3) slot.slot_variable_node_id = as_int32(h, s);
        }
        node.slot_variables.push_back(std::move(slot));
      }
    }
    nodes.push_back(std::move(node));
  }
  const auto valid = [&](std::int32_t id) { return id >= 0 && static_cast<std::size_t>(id) < nodes.size(); };
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    for (const auto& c : nodes[i].children)
      if (!valid(c.node_id))
        throw FormatError(what + ": node " + std::to_string(i) + "'s child \"" + c.local_name + "\" names node " +
                          std::to_string(c.node_id) + " of " + std::to_string(nodes.size()));
    for (const auto& s : nodes[i].slot_variables)
      if (!valid(s.original_variable_node_id) || !valid(s.slot_variable_node_id))
        throw FormatError(what + ": node " + std::to_string(i) + "'s slot variable \"" + s.slot_name +
                          "\" names a node the graph lacks");
  }
  return nodes;
}

std::vector<SavedMetadataNode> parse_saved_metadata(std::string_view bytes, const std::string& what) {
  std::vector<SavedMetadataNode> nodes;
  WireReader r(bytes, what);
  WireField f;
  while (r.next(f)) {
    if (f.number != 1) continue;
    WireReader n = r.nested(f, what + " (node " + std::to_string(nodes.size()) + ")");
    SavedMetadataNode node;
    WireField g;
    while (n.next(g)) {
      if (g.number == 2) node.node_id = as_int32(g, n);
      else if (g.number == 3) node.node_path = as_string(g, n);
      else if (g.number == 4) node.identifier = as_string(g, n);
      else if (g.number == 5) node.metadata = as_string(g, n);
    }
    nodes.push_back(std::move(node));
  }
  return nodes;
}

}  // namespace tf_files
