// IDX files (the MNIST format): magic 0x00 0x00 TYPE NDIMS, NDIMS big-endian u32 dims, then
// big-endian data. Read through zlib, whose gz functions also read plain files.
#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <new>
#include <string>

#include <zlib.h>

#include <plugfit/error.hpp>

#include "dataset.hpp"

namespace plugfit {

namespace detail {
Tensor read_idx_data(const std::string& path, bool scale_u8);
}

namespace {

static_assert(std::endian::native == std::endian::little, "the readers assume a little-endian host");

struct IdxType {
  unsigned char code;
  std::size_t width;
  const char* name;
};

constexpr IdxType kTypes[] = {
    {0x08, 1, "u8"}, {0x09, 1, "i8"}, {0x0B, 2, "i16"}, {0x0C, 4, "i32"}, {0x0D, 4, "f32"}, {0x0E, 8, "f64"},
};

std::string hex_byte(unsigned char b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", b);
  return buf;
}

std::string dims_str(const Shape& shape) {
  std::string out;
  for (std::size_t d : shape) {
    if (!out.empty()) out += 'x';
    out += std::to_string(d);
  }
  return out;
}

class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw InputError("IDX file " + path + " does not exist");
    if (std::filesystem::is_directory(path, ec)) throw InputError("IDX file " + path + " is a directory");
    file_ = gzopen(path.c_str(), "rb");
    if (file_ == nullptr)
      throw InputError("IDX file " + path + " cannot be opened (" + std::strerror(errno) + ")");
    // A bigger internal buffer means fewer read() calls on the compressed input.
    gzbuffer(file_, 1 << 18);
  }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;
  ~GzReader() { gzclose(file_); }

  // Reads up to n bytes; returns how many arrived (fewer only at the end of the data).
  std::size_t read(unsigned char* dst, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
      // gzread takes an unsigned length and returns an int, so read in chunks below INT_MAX.
      const auto want = static_cast<unsigned>(std::min<std::size_t>(n - got, std::size_t{1} << 30));
      const int r = gzread(file_, dst + got, want);
      if (r < 0) corrupt();
      if (r == 0) break;
      got += static_cast<std::size_t>(r);
    }
    int errnum = Z_OK;
    gzerror(file_, &errnum);
    if (errnum != Z_OK && errnum != Z_BUF_ERROR) corrupt();
    return got;
  }

  // True when the gzip stream itself ended early (zlib reports Z_BUF_ERROR for that).
  bool stream_cut_off() {
    int errnum = Z_OK;
    gzerror(file_, &errnum);
    return errnum == Z_BUF_ERROR;
  }

 private:
  [[noreturn]] void corrupt() {
    int errnum = Z_OK;
    const char* raw = gzerror(file_, &errnum);
    std::string msg = raw != nullptr && *raw != '\0' ? raw : "read error";
    // zlib prefixes the path, which the sentence already names.
    if (msg.starts_with(path_ + ": ")) msg.erase(0, path_.size() + 2);
    throw InputError("IDX file " + path_ + " cannot be read (" + msg + ")");
  }

  std::string path_;
  gzFile file_ = nullptr;
};

std::uint32_t load_be32(const unsigned char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}

// Converts n big-endian values of the given type at src to float at dst. src may lie inside dst's
// storage at byte offset (4 - width) * n (the raw data read into the tail of the tensor): each
// value is loaded before its float is stored, and float i never reaches the bytes of value i + 1.
void convert(const IdxType& type, const unsigned char* src, float* dst, std::size_t n, bool scale_u8) {
  switch (type.code) {
    case 0x08: {
      // A table keeps the loop to one load and one store, and x / 255.f exact as numpy's.
      float table[256];
      for (int v = 0; v < 256; ++v) table[v] = scale_u8 ? static_cast<float>(v) / 255.f : static_cast<float>(v);
      for (std::size_t i = 0; i < n; ++i) dst[i] = table[src[i]];
      break;
    }
    case 0x09:
      for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(static_cast<std::int8_t>(src[i]));
      break;
    case 0x0B:
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t v;
        std::memcpy(&v, src + 2 * i, 2);
        dst[i] = static_cast<float>(static_cast<std::int16_t>(__builtin_bswap16(v)));
      }
      break;
    case 0x0C:
      for (std::size_t i = 0; i < n; ++i)
        dst[i] = static_cast<float>(static_cast<std::int32_t>(load_be32(src + 4 * i)));
      break;
    case 0x0D:
      for (std::size_t i = 0; i < n; ++i) dst[i] = std::bit_cast<float>(load_be32(src + 4 * i));
      break;
    case 0x0E:
      for (std::size_t i = 0; i < n; ++i) {
        std::uint64_t v;
        std::memcpy(&v, src + 8 * i, 8);
        dst[i] = static_cast<float>(std::bit_cast<double>(__builtin_bswap64(v)));
      }
      break;
  }
}

}  // namespace

namespace detail {

// read_idx, dividing u8 data by 255 when scale_u8 (image files); other types are never scaled.
Tensor read_idx_data(const std::string& path, bool scale_u8) {
  GzReader in(path);

  unsigned char magic[4];
  const std::size_t got_magic = in.read(magic, 4);
  if (got_magic < 4) throw InputError("IDX file " + path + " is too short to hold an IDX header");
  if (magic[0] != 0 || magic[1] != 0 || magic[3] == 0)
    throw InputError("IDX file " + path + " has a bad magic number " + hex_byte(magic[0]) + " " + hex_byte(magic[1]) +
                     " " + hex_byte(magic[2]) + " " + hex_byte(magic[3]) +
                     " (an IDX file starts with 0x00 0x00 TYPE NDIMS)");
  const IdxType* type = nullptr;
  for (const auto& t : kTypes)
    if (t.code == magic[2]) type = &t;
  if (type == nullptr)
    throw InputError("IDX file " + path + " has the unsupported data type " + hex_byte(magic[2]) +
                     " (supported: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64)");

  const std::size_t ndims = magic[3];
  unsigned char dim_bytes[4 * 255];
  if (in.read(dim_bytes, 4 * ndims) < 4 * ndims)
    throw InputError("IDX file " + path + " is truncated: its header ends before its " + std::to_string(ndims) +
                     " dimensions");
  Shape shape(ndims);
  for (std::size_t d = 0; d < ndims; ++d) shape[d] = load_be32(dim_bytes + 4 * d);
  const std::size_t count = checked_shape_size(shape, "IDX file " + path);
  const std::size_t bytes = count * type->width;
  // Nothing is allocated for more data than the file can hold: deflate expands at most 1032-fold.
  std::error_code ec;
  const std::uintmax_t file_bytes = std::filesystem::file_size(path, ec);
  constexpr std::uintmax_t kMaxDeflateRatio = 1032;
  if (!ec && bytes / kMaxDeflateRatio > file_bytes)
    throw InputError("IDX file " + path + " declares dimensions " + dims_str(shape) + " (" + std::to_string(bytes) +
                     " bytes), more than its " + std::to_string(file_bytes) + " bytes can hold even compressed");

  Tensor t;
  try {
    t = Tensor::from_shape(shape);
  } catch (const std::bad_alloc&) {
    throw InputError("IDX file " + path + " declares dimensions " + dims_str(shape) + " (" + std::to_string(bytes) +
                     " bytes) too large to fit in memory");
  }
  // Types up to 4 bytes wide are read into the tail of the float tensor and widened in place, so
  // loading needs no memory beyond the tensor; f64 needs its own buffer.
  float* out = t.data();
  std::unique_ptr<unsigned char[]> buffer;
  unsigned char* raw = nullptr;
  if (type->width <= 4) {
    raw = reinterpret_cast<unsigned char*>(out) + (4 - type->width) * count;
  } else {
    buffer = std::make_unique_for_overwrite<unsigned char[]>(bytes);
    raw = buffer.get();
  }
  const std::size_t got = in.read(raw, bytes);
  if (got < bytes)
    throw InputError("IDX file " + path + " is truncated: its dimensions " + dims_str(shape) + " (" + type->name +
                     ") need " + std::to_string(bytes) + " data bytes but only " + std::to_string(got) +
                     " follow the header" + (in.stream_cut_off() ? " (the gzip stream is cut off)" : ""));
  convert(*type, raw, out, count, scale_u8);
  return t;
}

}  // namespace detail

Tensor read_idx(const std::string& path) { return detail::read_idx_data(path, false); }

}  // namespace plugfit
