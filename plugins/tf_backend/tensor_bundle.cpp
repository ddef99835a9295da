#include "tensor_bundle.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "crc32c.hpp"
#include "leveldb_table.hpp"

namespace tf_files {

namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kMaxIndexSize = 1ull << 30;  // an index larger than 1 GiB is refused

class File {
 public:
  explicit File(const fs::path& path, const std::string& missing_text) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd_ < 0) {
      const int err = errno;
      if (err == ENOENT) throw FormatError(missing_text);
      throw FormatError("cannot open " + path.string() + ": " + std::strerror(err));
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      throw FormatError(path.string() + " is not a regular file");
    }
    size_ = static_cast<std::uint64_t>(st.st_size);
  }
  ~File() { ::close(fd_); }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  std::uint64_t size() const { return size_; }
  std::string read(std::uint64_t offset, std::uint64_t size) const {
    std::string out(static_cast<std::size_t>(size), '\0');
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw FormatError("cannot read " + path_.string() + ": " + std::strerror(errno));
      if (n == 0) throw FormatError(path_.string() + " became shorter while it was read");
      done += static_cast<std::size_t>(n);
    }
    return out;
  }

 private:
  fs::path path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

std::string quoted(const std::string& key) { return "\"" + key + "\""; }

}  // namespace

std::string read_whole_file(const fs::path& path, std::uint64_t max_size) {
  File f(path, path.string() + " does not exist");
  if (f.size() > max_size)
    throw FormatError(path.string() + " is " + std::to_string(f.size()) + " bytes, more than the " +
                      std::to_string(max_size) + " plugfit reads of such a file");
  return f.read(0, f.size());
}

std::uint64_t BundleVariable::elements() const {
  std::uint64_t n = 1;
  for (const auto d : entry.shape.dims) {
    if (d < 0) return 0;
    if (d != 0 && n > (std::uint64_t(1) << 62) / static_cast<std::uint64_t>(d)) return 0;  // overflow: unknown
    n *= static_cast<std::uint64_t>(d);
  }
  return n;
}

TensorBundle::TensorBundle(fs::path prefix) : prefix_(std::move(prefix)) {
  const fs::path index = index_path();
  const std::string label = index.string();
  const std::string bytes = read_whole_file(index, kMaxIndexSize);
  const auto table = read_table(bytes, label);
  bool have_header = false;
  for (const auto& [key, value] : table) {
    if (key.empty()) {
      header_ = parse_bundle_header(value, label + "'s header");
      have_header = true;
      continue;
    }
    BundleVariable v{key, parse_bundle_entry(value, label + ": the entry of variable " + quoted(key))};
    variables_.push_back(std::move(v));
  }
  if (!have_header) throw FormatError(label + " has no bundle header (the \"\" key): not a TensorFlow checkpoint index");
  if (header_.endianness != 0)
    throw FormatError(label + " was written big-endian; plugfit reads little-endian checkpoints only");
  if (header_.num_shards <= 0 || header_.num_shards > 99999)
    throw FormatError(label + "'s header claims " + std::to_string(header_.num_shards) + " shards");
  for (const auto& v : variables_) {
    const std::string what = label + ": variable " + quoted(v.key);
    const BundleEntry& e = v.entry;
    if (e.slices > 0) throw FormatError(what + " is stored in slices (a partitioned variable), which plugfit does not read");
    if (e.shard_id < 0 || e.shard_id >= header_.num_shards)
      throw FormatError(what + " is in shard " + std::to_string(e.shard_id) + " of " + std::to_string(header_.num_shards));
    if (e.offset < 0 || e.size < 0) throw FormatError(what + " has a negative offset or size");
    if (e.shape.unknown_rank) throw FormatError(what + " has a shape of unknown rank");
    std::uint64_t count = 1;
    for (const auto d : e.shape.dims) {
      if (d < 0) throw FormatError(what + " has a negative dimension");
      if (d != 0 && count > (std::uint64_t(1) << 62) / static_cast<std::uint64_t>(d))
        throw FormatError(what + " has a shape of more than 2^62 values");
      count *= static_cast<std::uint64_t>(d);
    }
    const std::size_t width = dtype_size(e.dtype);
    if (width != 0) {
      const std::uint64_t n = v.elements();
      if (n > static_cast<std::uint64_t>(e.size) || n * width != static_cast<std::uint64_t>(e.size))
        throw FormatError(what + " claims " + std::to_string(e.size) + " bytes for " + std::to_string(n) + " " +
                          dtype_name(e.dtype) + " values");
    }
  }
}

fs::path TensorBundle::index_path() const { return fs::path(prefix_.string() + ".index"); }

fs::path TensorBundle::shard_path(std::int32_t shard) const {
  char suffix[48];
  std::snprintf(suffix, sizeof suffix, ".data-%05d-of-%05d", static_cast<int>(shard), static_cast<int>(header_.num_shards));
  return fs::path(prefix_.string() + suffix);
}

const BundleVariable* TensorBundle::find(const std::string& key) const {
  for (const auto& v : variables_)
    if (v.key == key) return &v;
  return nullptr;
}

std::string TensorBundle::read_bytes(const BundleVariable& v) const {
  std::string bytes = read_unchecked(v);
  if (crc32c_mask(crc32c(bytes.data(), bytes.size())) != v.entry.crc32c)
    throw FormatError(shard_path(v.entry.shard_id).string() + ": variable " + quoted(v.key) +
                      " fails its CRC-32C check (the shard is damaged)");
  return bytes;
}

std::string TensorBundle::read_unchecked(const BundleVariable& v) const {
  const fs::path shard = shard_path(v.entry.shard_id);
  const std::string what = shard.string() + ": variable " + quoted(v.key);
  File f(shard, shard.string() + ", the shard holding variable " + quoted(v.key) + ", does not exist");
  const auto offset = static_cast<std::uint64_t>(v.entry.offset), size = static_cast<std::uint64_t>(v.entry.size);
  if (offset > f.size() || size > f.size() - offset)
    throw FormatError(what + " lies past the end of its shard (bytes " + std::to_string(offset) + " to " +
                      std::to_string(offset + size) + " of " + std::to_string(f.size()) + ")");
  return f.read(offset, size);
}

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000) << 16;
  std::uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    exp = 113;
    while ((mant & 0x400) == 0) {
      mant <<= 1;
      --exp;
    }
    bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bfloat16_to_float(std::uint16_t b) {
  const std::uint32_t bits = std::uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

std::vector<float> TensorBundle::read_floats(const BundleVariable& v) const {
  const int dtype = v.entry.dtype;
  if (dtype != DT_FLOAT && dtype != DT_HALF && dtype != DT_BFLOAT16)
    throw FormatError(index_path().string() + ": variable " + quoted(v.key) + " is " + dtype_name(dtype) +
                      "; plugfit reads float32, float16 and bfloat16 weights");
  const std::string bytes = read_bytes(v);
  std::vector<float> out(static_cast<std::size_t>(v.elements()));
  if (dtype == DT_FLOAT) {
    std::memcpy(out.data(), bytes.data(), out.size() * 4);
  } else {
    for (std::size_t i = 0; i < out.size(); ++i) {
      std::uint16_t u;
      std::memcpy(&u, bytes.data() + 2 * i, 2);
      out[i] = dtype == DT_HALF ? half_to_float(u) : bfloat16_to_float(u);
    }
  }
  return out;
}

std::int64_t TensorBundle::read_integer(const BundleVariable& v) const {
  const int dtype = v.entry.dtype;
  if ((dtype != DT_INT64 && dtype != DT_INT32) || v.elements() != 1)
    throw FormatError(index_path().string() + ": variable " + quoted(v.key) + " is a " + dtype_name(dtype) +
                      " tensor of " + std::to_string(v.elements()) + " values, not an integer step count");
  const std::string bytes = read_bytes(v);
  if (dtype == DT_INT32) {
    std::int32_t x;
    std::memcpy(&x, bytes.data(), 4);
    return x;
  }
  std::int64_t x;
  std::memcpy(&x, bytes.data(), 8);
  return x;
}

std::string TensorBundle::read_string(const BundleVariable& v) const {
  const std::string what = shard_path(v.entry.shard_id).string() + ": variable " + quoted(v.key);
  if (v.entry.dtype != DT_STRING || v.elements() != 1)
    throw FormatError(index_path().string() + ": variable " + quoted(v.key) + " is not a string scalar");
  const std::string bytes = read_unchecked(v);
  std::size_t pos = 0;
  const std::uint64_t length = read_varint(bytes, pos, what);
  if (bytes.size() - pos < 4 || length != bytes.size() - pos - 4 || length > 0xffffffffu)
    throw FormatError(what + ": the string's length does not match its stored size");
  // TF's checksums of a string tensor: the lengths as 32-bit little-endian words (not their
  // varints), then the stored length checksum (the masked CRC of those words), then the bytes.
  const auto n = static_cast<std::uint32_t>(length);
  const unsigned char word[4] = {static_cast<unsigned char>(n), static_cast<unsigned char>(n >> 8),
                                 static_cast<unsigned char>(n >> 16), static_cast<unsigned char>(n >> 24)};
  std::uint32_t crc = crc32c(word, 4);
  std::uint32_t stored_length_crc = 0;
  for (int i = 3; i >= 0; --i) stored_length_crc = (stored_length_crc << 8) | static_cast<unsigned char>(bytes[pos + i]);
  crc = crc32c_extend(crc, bytes.data() + pos, bytes.size() - pos);
  if (stored_length_crc != crc32c_mask(crc32c(word, 4)) || crc32c_mask(crc) != v.entry.crc32c)
    throw FormatError(what + " fails its CRC-32C check (the shard is damaged)");
  return bytes.substr(pos + 4);
}

}  // namespace tf_files
