// The NumPy .npy codec the host uses for data files, predictions and dir: checkpoints, shipped
// so that a backend stores tensors as numpy.load reads them without writing its own.
//
// Format: "\x93NUMPY", a version byte pair (1.0, 2.0 or 3.0 are read; 1.0 is written unless the
// header needs 2.0's u32 length), the header length (u16 for 1.0, u32 after), then a Python dict
// literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded to 64 bytes, then
// the C-ordered data.
//
// Read: dtypes f4, f8, i8, i4, i2, i1, u1, b1 in either byte order (big-endian is converted),
// every value converted to float32. Refused, each with an InputError naming `what` (the file, or
// the checkpoint and tensor) and the field at fault: a missing magic, an unknown version, a
// header longer than kMaxHeaderBytes or truncated, a malformed dict, a missing or unknown key,
// structured or other dtypes, fortran_order True, a shape whose element or byte count overflows
// size_t, and data bytes that differ from what the shape needs (truncated or trailing). The data
// size is checked against the bytes present before anything is allocated.
// Write: float32 little-endian, C order, the header numpy >= 1.23 writes byte for byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "export.hpp"
#include "tensor.hpp"

namespace plugfit::npy {

// Headers beyond this are refused: numpy itself refuses headers over 10,000 bytes by default.
inline constexpr std::size_t kMaxHeaderBytes = 1 << 20;

enum class DType : std::uint8_t { float32, float64, int64, int32, int16, int8, uint8, boolean };

struct Header {
  DType dtype = DType::float32;
  bool big_endian = false;      // multi-byte data stored big-endian; decode converts it
  Shape shape;                  // () for a 0-d array
  std::size_t data_offset = 0;  // bytes before the data: preamble and header
  std::size_t data_bytes = 0;   // shape_size(shape) * dtype_width(dtype), checked not to overflow
};

// Bytes per element of `dtype` (1, 2, 4 or 8).
PLUGFIT_API std::size_t dtype_width(DType dtype);
// numpy's name, little-endian form: "<f4", "|u1", ...
PLUGFIT_API std::string dtype_name(DType dtype);

// The header at the start of `bytes`.
// requires: `bytes` holds at least the preamble and header (the data may be absent: a reader of a
//           file may pass only the first data_offset bytes).
// ensures:  data_offset <= bytes.size(); dtype/shape as declared; throws InputError naming `what`.
PLUGFIT_API Header parse_header(std::string_view bytes, const std::string& what);

// The array in `bytes` (a whole .npy file in memory), as float32. `stored`, when given, receives
// the dtype the file holds (e.g. to scale uint8 images).
// ensures: the shape is the header's; throws InputError naming `what` for any refusal above,
//          including data bytes other than header.data_bytes.
PLUGFIT_API Tensor decode(std::string_view bytes, const std::string& what, DType* stored = nullptr);

// The same into `values` (resized to the element count), for backends whose records hold
// std::vector<float> (NamedTensor); returns the shape.
PLUGFIT_API Shape decode_values(std::string_view bytes, const std::string& what, std::vector<float>& values,
                                DType* stored = nullptr);

// The .npy file at `path`, as float32; errors start "NPY file PATH".
PLUGFIT_API Tensor read_file(const std::string& path, DType* stored = nullptr);

// The preamble and header of a float32, C-order array of `shape`: the bytes before its data.
PLUGFIT_API std::string preamble(const Shape& shape);

// The whole .npy file of `t` (float32, C order).
PLUGFIT_API std::string encode(const Tensor& t);

// Writes `t` to `path` (float32, C order); InputError "NPY file PATH cannot be written (...)".
PLUGFIT_API void write_file(const std::string& path, const Tensor& t);

}  // namespace plugfit::npy
