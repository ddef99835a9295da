// The .npy codec of plugfit/npy.hpp: one parser for files, checkpoints and backends.
#include <plugfit/npy.hpp>

#include <plugfit/config.hpp>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <plugfit/error.hpp>

namespace plugfit::npy {

namespace {

static_assert(std::endian::native == std::endian::little, "the codec assumes a little-endian host");

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLen = 6;
constexpr const char* kSupported = "<f4, <f8, <i8, <i4, <i2, |i1, |u1, |b1, or their big-endian forms";

[[noreturn]] void refuse(const std::string& what, const std::string& why) { throw InputError(what + " " + why); }

// The dict literal numpy writes: string keys, string / bool / int-tuple values.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& what) : s_(text), what_(what) {}

  void parse(std::string& descr, bool& fortran, Shape& shape) {
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        skip_space();
        if (peek() != '\'' && peek() != '"')
          refuse(what_, "has a structured dtype, which is not supported (supported: " + std::string(kSupported) + ")");
        descr = string_literal();
        have_descr = true;
      } else if (key == "fortran_order") {
        fortran = boolean();
        have_order = true;
      } else if (key == "shape") {
        shape = tuple();
        have_shape = true;
      } else {
        refuse(what_, "has the unexpected header key " + json_excerpt(Json(key)));
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_space();
      if (peek() != '}') malformed("',' or '}' expected");
    }
    if (!have_descr || !have_order || !have_shape)
      refuse(what_, "has a header without the keys 'descr', 'fortran_order' and 'shape'");
  }

 private:
  [[noreturn]] void malformed(const std::string& why) const {
    refuse(what_, "has a malformed header (" + why + " at offset " + std::to_string(pos_) + ")");
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) malformed(std::string("'") + c + "' expected");
    ++pos_;
  }
  std::string string_literal() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') malformed("a string expected");
    ++pos_;
    const auto end = s_.find(quote, pos_);
    if (end == std::string_view::npos) malformed("unterminated string");
    std::string out(s_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_space();
    if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    malformed("True or False expected");
  }
  Shape tuple() {
    expect('(');
    Shape shape;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') malformed("a dimension expected");
      std::size_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, std::size_t(peek() - '0'), &v))
          malformed("a dimension too large");
        ++pos_;
      }
      if (peek() == 'L') ++pos_;  // Python 2 longs
      shape.push_back(v);
      skip_space();
      if (peek() == ',') ++pos_;
      else if (peek() != ')') malformed("',' or ')' expected");
    }
    ++pos_;
    return shape;
  }

  std::string_view s_;
  const std::string& what_;
  std::size_t pos_ = 0;
};

// descr is byte order + kind + width; one-byte types carry '|' (any order is accepted for them).
void read_descr(const std::string& descr, Header& h, const std::string& what) {
  const char order = descr.empty() ? '\0' : descr[0];
  const bool has_order = order == '<' || order == '>' || order == '|' || order == '=';
  const std::string kind = has_order ? descr.substr(1) : descr;
  if (kind == "f4") h.dtype = DType::float32;
  else if (kind == "f8") h.dtype = DType::float64;
  else if (kind == "i8") h.dtype = DType::int64;
  else if (kind == "i4") h.dtype = DType::int32;
  else if (kind == "i2") h.dtype = DType::int16;
  else if (kind == "i1") h.dtype = DType::int8;
  else if (kind == "u1") h.dtype = DType::uint8;
  else if (kind == "b1") h.dtype = DType::boolean;
  else refuse(what, "has the unsupported dtype " + json_excerpt(Json(descr)) + " (supported: " + kSupported + ")");
  h.big_endian = order == '>' && dtype_width(h.dtype) > 1;
}

template <class T>
void widen(const unsigned char* src, float* dst, std::size_t n, bool swap) {
  unsigned char element[sizeof(T)];
  for (std::size_t i = 0; i < n; ++i) {
    std::memcpy(element, src + i * sizeof(T), sizeof(T));
    if (swap) std::reverse(element, element + sizeof(T));
    T v;
    std::memcpy(&v, element, sizeof(T));
    dst[i] = static_cast<float>(v);
  }
}

// Converts header.data_bytes bytes at `src` to float32 at `dst`.
void convert(const Header& h, const unsigned char* src, float* dst) {
  const std::size_t n = shape_size(h.shape);
  const bool swap = h.big_endian;
  switch (h.dtype) {
    case DType::float32: widen<float>(src, dst, n, swap); break;
    case DType::float64: widen<double>(src, dst, n, swap); break;
    case DType::int64: widen<std::int64_t>(src, dst, n, swap); break;
    case DType::int32: widen<std::int32_t>(src, dst, n, swap); break;
    case DType::int16: widen<std::int16_t>(src, dst, n, swap); break;
    case DType::int8: widen<std::int8_t>(src, dst, n, false); break;
    case DType::uint8: widen<std::uint8_t>(src, dst, n, false); break;
    case DType::boolean:
      for (std::size_t i = 0; i < n; ++i) dst[i] = src[i] != 0 ? 1.f : 0.f;
      break;
  }
}

Tensor allocate(const Header& h, const std::string& what) {
  try {
    return Tensor::from_shape(h.shape);
  } catch (const std::bad_alloc&) {
    refuse(what, "declares a shape " + full_shape_str(h.shape) + " too large for memory");
  }
}

void check_data_size(const Header& h, std::size_t present, const std::string& what) {
  if (present < h.data_bytes)
    refuse(what, "is truncated: its shape " + full_shape_str(h.shape) + " of '" + dtype_name(h.dtype) + "' needs " +
                     std::to_string(h.data_bytes) + " data bytes but only " + std::to_string(present) +
                     " follow the header");
  if (present > h.data_bytes)
    refuse(what, "has " + std::to_string(present - h.data_bytes) + " bytes after the " +
                     std::to_string(h.data_bytes) + " data bytes its shape " + full_shape_str(h.shape) + " needs");
}

std::string shape_tuple(const Shape& shape) {
  // Python's repr of a tuple: (), (3,), (2, 3).
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  if (shape.size() == 1) out += ",";
  return out + ")";
}

struct File {
  std::FILE* f = nullptr;
  File() = default;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File() {
    if (f != nullptr) std::fclose(f);
  }
};

std::size_t read_all(std::FILE* f, void* dst, std::size_t n) {
  auto* p = static_cast<unsigned char*>(dst);
  std::size_t got = 0;
  while (got < n) {
    const std::size_t r = std::fread(p + got, 1, n - got, f);
    if (r == 0) break;
    got += r;
  }
  return got;
}

// The length of the preamble and header from the file's first bytes (at least 12, or all).
std::size_t header_end(std::string_view bytes, const std::string& what) {
  if (bytes.size() < kMagicLen + 2 || bytes.compare(0, kMagicLen, std::string_view(kMagic, kMagicLen)) != 0)
    refuse(what, "is not an NPY file (it does not start with \\x93NUMPY)");
  const unsigned major = static_cast<unsigned char>(bytes[kMagicLen]);
  const unsigned minor = static_cast<unsigned char>(bytes[kMagicLen + 1]);
  if (major < 1 || major > 3 || minor != 0)
    refuse(what, "has the unsupported format version " + std::to_string(major) + "." + std::to_string(minor) +
                     " (supported: 1.0, 2.0, 3.0)");
  // Version 1 stores the header length as a little-endian u16, versions 2 and 3 as a u32.
  const std::size_t len_size = major == 1 ? 2 : 4;
  if (bytes.size() < kMagicLen + 2 + len_size) refuse(what, "is truncated inside its header");
  std::size_t header_len = 0;
  for (std::size_t i = 0; i < len_size; ++i)
    header_len |= std::size_t(static_cast<unsigned char>(bytes[kMagicLen + 2 + i])) << (8 * i);
  if (header_len > kMaxHeaderBytes)
    refuse(what, "declares a header of " + std::to_string(header_len) + " bytes (the limit is " +
                     std::to_string(kMaxHeaderBytes) + ")");
  return kMagicLen + 2 + len_size + header_len;
}

}  // namespace

std::size_t dtype_width(DType dtype) {
  switch (dtype) {
    case DType::float64:
    case DType::int64: return 8;
    case DType::float32:
    case DType::int32: return 4;
    case DType::int16: return 2;
    case DType::int8:
    case DType::uint8:
    case DType::boolean: return 1;
  }
  return 1;
}

std::string dtype_name(DType dtype) {
  switch (dtype) {
    case DType::float32: return "<f4";
    case DType::float64: return "<f8";
    case DType::int64: return "<i8";
    case DType::int32: return "<i4";
    case DType::int16: return "<i2";
    case DType::int8: return "|i1";
    case DType::uint8: return "|u1";
    case DType::boolean: return "|b1";
  }
  return "?";
}

Header parse_header(std::string_view bytes, const std::string& what) {
  Header h;
  h.data_offset = header_end(bytes, what);
  if (bytes.size() < h.data_offset) refuse(what, "is truncated inside its header");
  const std::size_t dict_at = bytes[kMagicLen] == 1 ? kMagicLen + 4 : kMagicLen + 6;
  std::string descr;
  bool fortran = false;
  HeaderParser(bytes.substr(dict_at, h.data_offset - dict_at), what).parse(descr, fortran, h.shape);
  read_descr(descr, h, what);
  if (fortran)
    refuse(what, "is in Fortran order, which is not supported (save a C-ordered array, e.g. "
                 "numpy.ascontiguousarray)");
  const std::size_t count = checked_shape_size(h.shape, what);
  if (__builtin_mul_overflow(count, dtype_width(h.dtype), &h.data_bytes))
    refuse(what, "declares a shape " + full_shape_str(h.shape) + " whose byte count overflows");
  return h;
}

Tensor decode(std::string_view bytes, const std::string& what, DType* stored) {
  const Header h = parse_header(bytes, what);
  check_data_size(h, bytes.size() - h.data_offset, what);
  Tensor t = allocate(h, what);
  convert(h, reinterpret_cast<const unsigned char*>(bytes.data() + h.data_offset), t.data());
  if (stored != nullptr) *stored = h.dtype;
  return t;
}

Shape decode_values(std::string_view bytes, const std::string& what, std::vector<float>& values, DType* stored) {
  Header h = parse_header(bytes, what);
  check_data_size(h, bytes.size() - h.data_offset, what);
  try {
    values.resize(shape_size(h.shape));
  } catch (const std::bad_alloc&) {
    refuse(what, "declares a shape " + full_shape_str(h.shape) + " too large for memory");
  }
  convert(h, reinterpret_cast<const unsigned char*>(bytes.data() + h.data_offset), values.data());
  if (stored != nullptr) *stored = h.dtype;
  return std::move(h.shape);
}

Tensor read_file(const std::string& path, DType* stored) {
  const std::string what = "NPY file " + path;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) refuse(what, "does not exist");
  if (std::filesystem::is_directory(path, ec)) refuse(what, "is a directory");
  const std::uintmax_t file_bytes = std::filesystem::file_size(path, ec);
  if (ec) refuse(what, "cannot be opened (" + ec.message() + ")");
  File file;
  file.f = std::fopen(path.c_str(), "rb");
  if (file.f == nullptr) refuse(what, std::string("cannot be opened (") + std::strerror(errno) + ")");

  std::string head(kMagicLen + 6, '\0');
  head.resize(read_all(file.f, head.data(), head.size()));
  const std::size_t end = header_end(head, what);
  if (end > head.size()) {
    const std::size_t have = head.size();
    head.resize(end);
    head.resize(have + read_all(file.f, head.data() + have, end - have));
  }
  const Header h = parse_header(head, what);
  // The shape is checked against the file's size before anything is allocated.
  check_data_size(h, static_cast<std::size_t>(file_bytes - std::min<std::uintmax_t>(file_bytes, h.data_offset)), what);
  Tensor t = allocate(h, what);
  std::string raw;
  unsigned char* dst = reinterpret_cast<unsigned char*>(t.data());
  // float32 little-endian reads straight into the tensor; other types go through one raw buffer.
  if (h.dtype != DType::float32 || h.big_endian) {
    try {
      raw.resize(h.data_bytes);
    } catch (const std::bad_alloc&) {
      refuse(what, "declares a shape " + full_shape_str(h.shape) + " too large for memory");
    }
    dst = reinterpret_cast<unsigned char*>(raw.data());
  }
  const std::size_t got = read_all(file.f, dst, h.data_bytes);
  if (std::ferror(file.f)) refuse(what, std::string("cannot be read (") + std::strerror(errno) + ")");
  check_data_size(h, got, what);  // the file shrank while being read
  if (!raw.empty()) convert(h, dst, t.data());
  if (stored != nullptr) *stored = h.dtype;
  return t;
}

std::string preamble(const Shape& shape) {
  // The header numpy (>= 1.23) writes: sorted keys, room for the first dimension to grow to 21
  // digits, then spaces and '\n' up to a multiple of 64 bytes counting the preamble.
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_tuple(shape) + ", }";
  if (!shape.empty()) header.append(21 - std::to_string(shape[0]).size(), ' ');
  std::size_t fixed = kMagicLen + 2 + 2;
  unsigned char version = 1;
  const std::size_t hlen = header.size() + 1;
  std::size_t pad = 64 - (fixed + hlen) % 64;
  if (hlen + pad > 0xFFFF) {  // too long for a u16 length: version 2.0, as numpy falls back to
    version = 2;
    fixed = kMagicLen + 2 + 4;
    pad = 64 - (fixed + hlen) % 64;
  }
  header.append(pad, ' ');
  header += '\n';
  std::string out(kMagic, kMagicLen);
  out += static_cast<char>(version);
  out += '\0';
  const auto len = static_cast<std::uint32_t>(header.size());
  for (std::size_t i = 0; i < (version == 1 ? 2u : 4u); ++i) out += static_cast<char>((len >> (8 * i)) & 0xFF);
  return out + header;
}

std::string encode(const Tensor& t) {
  std::string out = preamble(shape_of(t));
  // Tensor is row-major and contiguous, so its buffer is the C-ordered data.
  out.append(reinterpret_cast<const char*>(t.data()), t.size() * sizeof(float));
  return out;
}

void write_file(const std::string& path, const Tensor& t) {
  const std::string head = preamble(shape_of(t));
  File file;
  file.f = std::fopen(path.c_str(), "wb");
  if (file.f == nullptr) refuse("NPY file " + path, std::string("cannot be written (") + std::strerror(errno) + ")");
  bool ok = std::fwrite(head.data(), 1, head.size(), file.f) == head.size();
  if (ok && t.size() > 0) ok = std::fwrite(t.data(), sizeof(float), t.size(), file.f) == t.size();
  const int close_rc = std::fclose(file.f);
  file.f = nullptr;
  if (!ok || close_rc != 0)
    refuse("NPY file " + path, std::string("cannot be written (") + std::strerror(errno) + ")");
}

}  // namespace plugfit::npy
