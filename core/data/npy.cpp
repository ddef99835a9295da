// NumPy .npy files: "\x93NUMPY", version, header length, a Python dict literal
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces, then the data.
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>

#include <plugfit/error.hpp>

#include "dataset.hpp"

namespace plugfit {

namespace {

static_assert(std::endian::native == std::endian::little, "the readers assume a little-endian host");

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLen = 6;
constexpr const char* kSupported = "<f4, <f8, <i8, <i4, <i2, |u1, |i1, |b1";

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

// The dict literal numpy writes: string keys, string / bool / int-tuple values.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& path) : s_(text), path_(path) {}

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
          fail("has a structured dtype, which is not supported (supported: " + std::string(kSupported) + ")");
        descr = string_literal();
        have_descr = true;
      } else if (key == "fortran_order") {
        fortran = boolean();
        have_order = true;
      } else if (key == "shape") {
        shape = tuple();
        have_shape = true;
      } else {
        fail("has the unexpected header key '" + key + "'");
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
      fail("has a header without the keys 'descr', 'fortran_order' and 'shape'");
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw InputError("NPY file " + path_ + " " + what); }
  [[noreturn]] void malformed(const std::string& what) const {
    fail("has a malformed header (" + what + " at offset " + std::to_string(pos_) + ")");
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
  const std::string& path_;
  std::size_t pos_ = 0;
};

template <class T>
void widen(const unsigned char* src, float* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));
    dst[i] = static_cast<float>(v);
  }
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

}  // namespace

Tensor read_npy(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw InputError("NPY file " + path + " does not exist");
  if (std::filesystem::is_directory(path, ec)) throw InputError("NPY file " + path + " is a directory");
  File file;
  file.f = std::fopen(path.c_str(), "rb");
  if (file.f == nullptr) throw InputError("NPY file " + path + " cannot be opened (" + std::strerror(errno) + ")");

  unsigned char pre[kMagicLen + 2];
  if (read_all(file.f, pre, sizeof pre) < sizeof pre || std::memcmp(pre, kMagic, kMagicLen) != 0)
    throw InputError("NPY file " + path + " is not an NPY file (it does not start with \\x93NUMPY)");
  const unsigned major = pre[kMagicLen], minor = pre[kMagicLen + 1];
  if (major < 1 || major > 3)
    throw InputError("NPY file " + path + " has the unsupported format version " + std::to_string(major) + "." +
                     std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)");
  // Version 1 stores the header length as a little-endian u16, versions 2 and 3 as a u32.
  unsigned char len_bytes[4] = {0, 0, 0, 0};
  const std::size_t len_size = major == 1 ? 2 : 4;
  if (read_all(file.f, len_bytes, len_size) < len_size)
    throw InputError("NPY file " + path + " is truncated inside its header");
  std::uint32_t header_len;
  std::memcpy(&header_len, len_bytes, 4);
  std::string header(header_len, '\0');
  if (read_all(file.f, header.data(), header_len) < header_len)
    throw InputError("NPY file " + path + " is truncated inside its header");

  std::string descr;
  bool fortran = false;
  Shape shape;
  HeaderParser(header, path).parse(descr, fortran, shape);
  if (fortran)
    throw InputError("NPY file " + path + " is in Fortran order, which is not supported (save a C-ordered array, " +
                     "e.g. numpy.ascontiguousarray)");

  // descr is byte order + kind + width; one-byte types have no byte order ('|').
  if (descr.size() >= 2 && descr[0] == '>' && descr != ">u1" && descr != ">i1" && descr != ">b1")
    throw InputError("NPY file " + path + " holds big-endian data ('" + descr + "'), which is not supported " +
                     "(save it with .astype('<" + descr.substr(1) + "'))");
  std::string kind = descr.size() >= 2 && (descr[0] == '<' || descr[0] == '|' || descr[0] == '=' || descr[0] == '>')
                         ? descr.substr(1)
                         : descr;
  std::size_t width = 0;
  if (kind == "f4" || kind == "i4") width = 4;
  else if (kind == "f8" || kind == "i8") width = 8;
  else if (kind == "i2") width = 2;
  else if (kind == "u1" || kind == "i1" || kind == "b1") width = 1;
  else
    throw InputError("NPY file " + path + " has the unsupported dtype '" + descr + "' (supported: " + kSupported +
                     ")");

  std::size_t count = 1;
  for (std::size_t d : shape)
    if (__builtin_mul_overflow(count, d, &count)) throw InputError("NPY file " + path + " declares a shape too large");
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(count, width, &bytes) || count > (std::size_t{1} << 40))
    throw InputError("NPY file " + path + " declares a shape too large to load");

  Tensor t;
  std::unique_ptr<unsigned char[]> raw;
  try {
    t = Tensor::from_shape(shape);
    // float32 reads straight into the tensor; other types go through one raw buffer.
    if (kind != "f4") raw = std::make_unique_for_overwrite<unsigned char[]>(bytes);
  } catch (const std::bad_alloc&) {
    throw InputError("NPY file " + path + " declares a shape " + full_shape_str(shape) + " too large for memory");
  }
  unsigned char* dst = raw ? raw.get() : reinterpret_cast<unsigned char*>(t.data());
  const std::size_t got = read_all(file.f, dst, bytes);
  if (std::ferror(file.f)) throw InputError("NPY file " + path + " cannot be read (" + std::strerror(errno) + ")");
  if (got < bytes)
    throw InputError("NPY file " + path + " is truncated: its shape " + full_shape_str(shape) + " of '" + descr +
                     "' needs " + std::to_string(bytes) + " data bytes but only " + std::to_string(got) +
                     " follow the header");
  float* out = t.data();
  if (kind == "f8") widen<double>(dst, out, count);
  else if (kind == "i8") widen<std::int64_t>(dst, out, count);
  else if (kind == "i4") widen<std::int32_t>(dst, out, count);
  else if (kind == "i2") widen<std::int16_t>(dst, out, count);
  else if (kind == "u1") widen<std::uint8_t>(dst, out, count);
  else if (kind == "i1") widen<std::int8_t>(dst, out, count);
  else if (kind == "b1")
    for (std::size_t i = 0; i < count; ++i) out[i] = dst[i] != 0 ? 1.f : 0.f;
  return t;
}

std::string npy_preamble(const Shape& shape) {
  // The header numpy (>= 1.23) writes: sorted keys, room for the first dimension to grow to 21
  // digits, then spaces and '\n' up to a multiple of 64 bytes counting the 10-byte preamble.
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_tuple(shape) + ", }";
  if (!shape.empty()) header.append(21 - std::to_string(shape[0]).size(), ' ');
  std::size_t preamble = kMagicLen + 2 + 2;
  unsigned char version = 1;
  std::size_t hlen = header.size() + 1;
  std::size_t pad = 64 - (preamble + hlen) % 64;
  if (hlen + pad > 0xFFFF) {  // too long for a u16 length: version 2.0, as numpy falls back to
    version = 2;
    preamble = kMagicLen + 2 + 4;
    pad = 64 - (preamble + hlen) % 64;
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

void write_npy(const std::string& path, const Tensor& t) {
  const std::string out = npy_preamble(shape_of(t));
  File file;
  file.f = std::fopen(path.c_str(), "wb");
  if (file.f == nullptr)
    throw InputError("NPY file " + path + " cannot be written (" + std::strerror(errno) + ")");
  bool ok = std::fwrite(out.data(), 1, out.size(), file.f) == out.size();
  // Tensor is row-major and contiguous, so its buffer is the C-ordered data.
  if (ok && t.size() > 0) ok = std::fwrite(t.data(), sizeof(float), t.size(), file.f) == t.size();
  const int close_rc = std::fclose(file.f);
  file.f = nullptr;
  if (!ok || close_rc != 0)
    throw InputError("NPY file " + path + " cannot be written (" + std::strerror(errno) + ")");
}

}  // namespace plugfit
