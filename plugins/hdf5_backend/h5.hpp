// A thin layer over the HDF5 C API for the hdf5_backend plugin: owning handles, HDF5 errors as
// exceptions carrying HDF5's own reason, and the attribute and dataset forms Keras uses.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <plugfit/sdk.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace plugfit_hdf5 {

using plugfit::Shape;

// An HDF5 call failed: what was being done, then HDF5's innermost reason ("File too large").
class H5Failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Turns off HDF5's printing of error stacks to stderr for the calling thread (the library keeps
// one error stack per thread): failures become exceptions with the reason in their text.
void quiet_errors();

// Throws H5Failure("<what>: <HDF5's reason>"). Call it right after the failing call: any later
// HDF5 call clears the error stack.
[[noreturn]] void fail(const std::string& what);

// An HDF5 identifier closed with the matching H5?close on destruction.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  // Takes id; throws H5Failure(what) when id is negative (the call failed).
  Handle(hid_t id, Closer closer, const std::string& what);
  ~Handle() { reset(); }
  Handle(Handle&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t id() const { return id_; }
  operator hid_t() const { return id_; }  // NOLINT: handles pass where the C API wants an hid_t
  // Closes now and reports failure (a file's close is where buffered writes can fail).
  void close(const std::string& what);
  void reset() noexcept;

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

// Property lists the plugin uses everywhere.
Handle file_access();  // the 1.8 file format (checksummed headers, attributes over 64 KiB), no file locks
Handle link_create();  // UTF-8 link names, missing intermediate groups created

// Whether every component of the relative path exists below loc (a link, of any kind).
bool path_exists(hid_t loc, const std::string& path);
Handle open_group(hid_t loc, const std::string& path);
Handle create_group(hid_t loc, const std::string& path);
Handle open_dataset(hid_t loc, const std::string& path);

bool has_attr(hid_t obj, const std::string& name);
// A string attribute (variable or fixed length, scalar or one element).
std::string read_string_attr(hid_t obj, const std::string& name);
// A 1-D attribute of strings, as Keras writes layer_names and weight_names; an empty numeric
// array (Keras 3 writes those for layers without weights) reads as no strings. Keras splits one
// over 64 KiB into name0, name1, ...; those are joined.
std::vector<std::string> read_string_list_attr(hid_t obj, const std::string& name);
std::int64_t read_int_attr(hid_t obj, const std::string& name);

// A scalar variable-length UTF-8 string, as h5py writes a Python str (Keras 3's model_config).
void write_string_attr(hid_t obj, const std::string& name, const std::string& value);
// Fixed-length byte strings, as Keras 2 writes layer_names and weight_names (numpy "S" arrays).
void write_string_list_attr(hid_t obj, const std::string& name, const std::vector<std::string>& values);
void write_int64_attr(hid_t obj, const std::string& name, std::int64_t value);
void write_uint32_attr(hid_t obj, const std::string& name, std::uint32_t value);

// The shape of a dataset ({} for a scalar).
Shape dataset_shape(hid_t dataset);
// A floating-point dataset's values as float32 (float32 data is read unchanged).
std::vector<float> read_floats(hid_t dataset, const Shape& shape, const std::string& what);
// A scalar dataset as int64 or double.
std::int64_t read_scalar_int(hid_t dataset, const std::string& what);
double read_scalar_double(hid_t dataset, const std::string& what);
// A new float32 dataset at path (intermediate groups created) holding values.
Handle write_floats(hid_t loc, const std::string& path, const Shape& shape, const std::vector<float>& values);

// The names of the links in a group, in name order.
std::vector<std::string> link_names(hid_t group);

}  // namespace plugfit_hdf5
