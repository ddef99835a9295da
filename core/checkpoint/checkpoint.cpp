// Key functions and helpers of the SDK's checkpoint interface.
#include <plugfit/checkpoint.hpp>

#include <zlib.h>

#include <cstring>

namespace plugfit {

CheckpointBackend::~CheckpointBackend() = default;
CheckpointCorrupt::CheckpointCorrupt(const std::string& message) : RuntimeFailure(message, 2) {}
CheckpointCorrupt::~CheckpointCorrupt() = default;

const NamedTensor* CheckpointRecord::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

std::size_t CheckpointRecord::tensor_bytes() const {
  std::size_t bytes = 0;
  for (const auto& t : tensors) bytes += t.values.size() * sizeof(float);
  return bytes;
}

void check_checkpoint_name(const std::string& name) {
  const bool bad = name.empty() || name == "." || name == ".." || name.front() == '.' ||
                   name.find('/') != std::string::npos || name.find('\0') != std::string::npos ||
                   name.size() > 200;
  if (bad)
    throw InputError("\"" + name + "\" is not a checkpoint name: a name is one path component (no '/', no '..', " +
                     "not starting with '.'), so that it cannot write outside the checkpoint folder");
}

std::uint32_t crc32_of(const void* data, std::size_t size, std::uint32_t seed) {
  if (size == 0) return seed;  // zlib resets to its initial value for a null buffer
  return static_cast<std::uint32_t>(crc32_z(seed, static_cast<const Bytef*>(data), size));
}

namespace {

void put_u64(std::vector<std::byte>& out, std::uint64_t v) {
  const auto* p = reinterpret_cast<const std::byte*>(&v);
  out.insert(out.end(), p, p + sizeof v);
}
void put_block(std::vector<std::byte>& out, const void* data, std::size_t n) {
  put_u64(out, n);
  const auto* p = static_cast<const std::byte*>(data);
  out.insert(out.end(), p, p + n);
}

// Reads what record_to_bytes wrote; every count is checked against the bytes left first.
class ByteReader {
 public:
  ByteReader(std::span<const std::byte> bytes, const std::string& what) : bytes_(bytes), what_(what) {}
  std::uint64_t u64() {
    std::uint64_t v = 0;
    std::memcpy(&v, take(sizeof v), sizeof v);
    return v;
  }
  std::span<const std::byte> block() {
    const std::uint64_t n = u64();
    return {take(n), static_cast<std::size_t>(n)};
  }
  // A count of items each at least min_bytes long: no more than the bytes left can hold.
  std::size_t count(std::size_t min_bytes) {
    const std::uint64_t n = u64();
    if (n > left() / min_bytes) bad("counts more items than its bytes hold");
    return static_cast<std::size_t>(n);
  }
  std::size_t left() const { return bytes_.size() - at_; }
  [[noreturn]] void bad(const std::string& why) const { throw CheckpointCorrupt(what_ + " " + why); }

 private:
  const std::byte* take(std::uint64_t n) {
    if (n > left()) bad("is truncated");
    const std::byte* p = bytes_.data() + at_;
    at_ += static_cast<std::size_t>(n);
    return p;
  }
  std::span<const std::byte> bytes_;
  const std::string& what_;
  std::size_t at_ = 0;
};

}  // namespace

std::vector<std::byte> record_to_bytes(const CheckpointRecord& record) {
  std::vector<std::byte> out;
  out.reserve(record.tensor_bytes() + 4096);
  const std::string info = record.info.dump();
  put_block(out, info.data(), info.size());
  put_u64(out, record.tensors.size());
  for (const NamedTensor& t : record.tensors) {
    put_block(out, t.name.data(), t.name.size());
    put_u64(out, t.shape.size());
    for (const std::size_t d : t.shape) put_u64(out, d);
    put_block(out, t.values.data(), t.values.size() * sizeof(float));
  }
  return out;
}

CheckpointRecord record_from_bytes(std::span<const std::byte> bytes, const std::string& what) {
  ByteReader in(bytes, what);
  CheckpointRecord record;
  const auto info = in.block();
  const Json parsed = Json::parse(reinterpret_cast<const char*>(info.data()),
                                  reinterpret_cast<const char*>(info.data()) + info.size(), nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) in.bad("holds an info that is no JSON object");
  record.info = parsed;
  record.tensors.resize(in.count(3 * sizeof(std::uint64_t)));  // a name, a rank and values, each a u64 at least
  for (NamedTensor& t : record.tensors) {
    const auto name = in.block();
    t.name.assign(reinterpret_cast<const char*>(name.data()), name.size());
    t.shape.resize(in.count(sizeof(std::uint64_t)));
    std::uint64_t elements = 1;
    for (std::size_t& d : t.shape) {
      const std::uint64_t dim = in.u64();
      if (dim != 0 && elements > max_tensor_elements() / dim) in.bad("holds tensor \"" + t.name + "\" of more than the stated limit of elements");
      d = static_cast<std::size_t>(dim);
      elements *= dim;
    }
    const auto values = in.block();
    if (values.size() != elements * sizeof(float))
      in.bad("holds tensor \"" + t.name + "\" whose values do not fill its shape " + full_shape_str(t.shape));
    t.values.resize(static_cast<std::size_t>(elements));
    if (!values.empty()) std::memcpy(t.values.data(), values.data(), values.size());
  }
  if (in.left() != 0) in.bad("has bytes after its last tensor");
  return record;
}

}  // namespace plugfit
