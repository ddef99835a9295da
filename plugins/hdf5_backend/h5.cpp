#include "h5.hpp"

#include <H5PLpublic.h>

#include <algorithm>

namespace plugfit_hdf5 {

namespace {

herr_t innermost(unsigned n, const H5E_error2_t* error, void* data) {
  if (n == 0 && error->desc != nullptr) *static_cast<std::string*>(data) = error->desc;
  return 0;
}

// HDF5's innermost error message, then clears the stack. The sec2 driver reports a failed
// write as "file write failed: time = ..., errno = 27, error message = 'File too large', ...":
// the quoted errno text is what a reader needs.
std::string last_error() {
  std::string desc;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, &desc);
  H5Eclear2(H5E_DEFAULT);
  const std::string marker = "error message = '";
  if (const auto at = desc.find(marker); at != std::string::npos) {
    const auto end = desc.find('\'', at + marker.size());
    return desc.substr(at + marker.size(), end == std::string::npos ? std::string::npos : end - at - marker.size());
  }
  return desc.empty() ? "unknown HDF5 error" : desc;
}

void check(herr_t status, const std::string& what) {
  if (status < 0) fail(what);
}

std::string attr_what(const std::string& name) { return "the attribute \"" + name + "\""; }

// n strings of an attribute whose type is a string type (fixed or variable length).
std::vector<std::string> read_attr_strings(hid_t attr, hid_t type, std::size_t n, const std::string& name) {
  std::vector<std::string> out;
  if (n == 0) return out;
  // Every stored string takes at least one byte of the attribute's storage: a count beyond that
  // is a crafted dataspace, refused before a buffer is sized from it.
  const hsize_t stored = H5Aget_storage_size(attr);
  if (n > stored) throw H5Failure(attr_what(name) + " claims " + std::to_string(n) + " strings in " +
                                  std::to_string(stored) + " bytes");
  if (H5Tis_variable_str(type) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose, "cannot make a string type");
    check(H5Tset_size(mem, H5T_VARIABLE), "cannot make a string type");
    check(H5Tset_cset(mem, H5Tget_cset(type)), "cannot make a string type");
    std::vector<char*> pointers(n, nullptr);
    check(H5Aread(attr, mem, pointers.data()), "cannot read " + attr_what(name));
    for (char* p : pointers) {
      out.emplace_back(p != nullptr ? p : "");
      H5free_memory(p);
    }
    return out;
  }
  // Fixed length: read the bytes as stored and cut each at its padding.
  const std::size_t size = H5Tget_size(type);
  if (size == 0) fail("cannot size " + attr_what(name));
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(n, size, &bytes) || bytes != stored)
    throw H5Failure(attr_what(name) + " holds " + std::to_string(stored) + " bytes, not " + std::to_string(n) +
                    " strings of " + std::to_string(size));
  Handle mem(H5Tcopy(type), H5Tclose, "cannot copy the type of " + attr_what(name));
  std::string buffer(bytes, '\0');
  check(H5Aread(attr, mem, buffer.data()), "cannot read " + attr_what(name));
  const bool space_padded = H5Tget_strpad(type) == H5T_STR_SPACEPAD;
  for (std::size_t i = 0; i < n; ++i) {
    std::string s = buffer.substr(i * size, size);
    if (const auto nul = s.find('\0'); nul != std::string::npos) s.resize(nul);
    if (space_padded) s.erase(s.find_last_not_of(' ') + 1);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::string> read_one_list(hid_t obj, const std::string& name) {
  Handle attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose, "cannot open " + attr_what(name));
  Handle type(H5Aget_type(attr), H5Tclose, "cannot read the type of " + attr_what(name));
  Handle space(H5Aget_space(attr), H5Sclose, "cannot read the shape of " + attr_what(name));
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 0) fail("cannot read the shape of " + attr_what(name));
  if (H5Tget_class(type) != H5T_STRING) {
    if (n == 0) return {};
    throw H5Failure(attr_what(name) + " is not a list of strings");
  }
  return read_attr_strings(attr, type, static_cast<std::size_t>(n), name);
}

void write_attr(hid_t obj, const std::string& name, hid_t file_type, hid_t mem_type, hid_t space, const void* data) {
  Handle attr(H5Acreate2(obj, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
              "cannot create " + attr_what(name));
  check(H5Awrite(attr, mem_type, data), "cannot write " + attr_what(name));
  attr.close("cannot write " + attr_what(name));
}

Handle scalar_space() { return Handle(H5Screate(H5S_SCALAR), H5Sclose, "cannot make a dataspace"); }

Handle space_of(const Shape& shape) {
  if (shape.empty()) return scalar_space();
  const std::vector<hsize_t> dims(shape.begin(), shape.end());
  return Handle(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose,
                "cannot make a dataspace of rank " + std::to_string(dims.size()));
}

herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

// The product of a dataset's dimensions may wrap (HDF5's own count wraps too, so libhdf5 reads a
// few values for a shape of 2^64 + 2): the checked size refuses such a shape, and one past the
// stated limit, before anything is allocated or read; an H5Failure, so the message names the file.
std::size_t element_count(const Shape& shape, const std::string& what) {
  try {
    return plugfit::checked_shape_size(shape, what);
  } catch (const plugfit::InputError& e) {
    throw H5Failure(e.what());
  }
}

}  // namespace

void quiet_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

void fail(const std::string& what) { throw H5Failure(what + ": " + last_error()); }

Handle::Handle(hid_t id, Closer closer, const std::string& what) : id_(id), closer_(closer) {
  if (id_ < 0) fail(what);
}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    closer_ = other.closer_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Handle::close(const std::string& what) {
  const hid_t id = id_;
  id_ = H5I_INVALID_HID;
  if (id >= 0 && closer_(id) < 0) fail(what);
}

void Handle::reset() noexcept {
  if (id_ >= 0) {
    closer_(id_);
    H5Eclear2(H5E_DEFAULT);  // a close failing during unwinding must not leak into later messages
  }
  id_ = H5I_INVALID_HID;
}

Handle file_access() {
  // A dataset's filter id must never make libhdf5 dlopen a filter plugin (HDF5_PLUGIN_PATH or its
  // default folder): a library opened because a data file asked, outside plugfit's checks.
  static const bool no_filter_plugins = [] {
    check(H5PLset_loading_state(0), "cannot turn off HDF5's filter plugins");
    return true;
  }();
  (void)no_filter_plugins;
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "cannot make file properties");
  // The 1.8 format: checksummed object headers (so damaged metadata is detected), and
  // attributes over 64 KiB (model_config, plugfit_info); HDF5 1.8 and later, h5py and Keras read it.
  check(H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18), "cannot set the file format");
  // Files are written once under a temporary name and never opened for writing again, so HDF5's
  // own locks protect nothing (and fail on file systems without flock).
  check(H5Pset_file_locking(fapl, false, true), "cannot turn off HDF5 file locking");
  check(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG), "cannot set the close degree");
  return fapl;
}

Handle link_create() {
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose, "cannot make link properties");
  check(H5Pset_create_intermediate_group(lcpl, 1), "cannot set link properties");
  check(H5Pset_char_encoding(lcpl, H5T_CSET_UTF8), "cannot set link properties");
  return lcpl;
}

namespace {

// An external link (to another file) is never followed: a file's data stays inside it.
herr_t refuse_external_link(const char*, const char*, const char*, const char*, unsigned*, hid_t, void*) { return -1; }

// kind: H5P_LINK_ACCESS, or H5P_DATASET_ACCESS / H5P_GROUP_ACCESS (which derive from it).
Handle link_access(hid_t kind) {
  Handle lapl(H5Pcreate(kind), H5Pclose, "cannot make link properties");
  check(H5Pset_elink_cb(lapl, refuse_external_link, nullptr), "cannot set link properties");
  return lapl;
}

// Names the first link of path that points into another file (the callback above would only
// make the open fail with HDF5's "traversal operator failed").
void refuse_external_links(hid_t loc, const std::string& path, const Handle& lapl) {
  for (std::size_t end = path.find('/', 1);; end = path.find('/', end + 1)) {
    const std::string prefix = path.substr(0, end);
    H5L_info_t info{};
    if (!prefix.empty() && prefix != "/" && H5Lexists(loc, prefix.c_str(), lapl) > 0 &&
        H5Lget_info(loc, prefix.c_str(), &info, lapl) >= 0 && info.type == H5L_TYPE_EXTERNAL)
      throw H5Failure("\"" + prefix + "\" is an external link to another file, which plugfit does not follow");
    if (end == std::string::npos) return;
  }
}

// Only data stored in the file itself, raw or with the filters libhdf5 builds in: no external
// raw storage (a kernel that reads /etc/passwd), no virtual datasets (other files' data), no
// filter but deflate, shuffle and fletcher32 (anything else would load a plugin).
void check_storage(hid_t dataset, const std::string& path) {
  const Handle dcpl(H5Dget_create_plist(dataset), H5Pclose, "cannot read the storage of \"" + path + "\"");
  const H5D_layout_t layout = H5Pget_layout(dcpl);
  if (layout == H5D_VIRTUAL)
    throw H5Failure("the dataset \"" + path + "\" is a virtual dataset (data from other files), which plugfit does not read");
  if (H5Pget_external_count(dcpl) > 0)
    throw H5Failure("the dataset \"" + path + "\" keeps its data in external files, which plugfit does not read");
  const int filters = H5Pget_nfilters(dcpl);
  for (int i = 0; i < filters; ++i) {
    unsigned flags = 0, config = 0;
    std::size_t count = 0;
    const H5Z_filter_t id = H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &count, nullptr, 0, nullptr, &config);
    if (id != H5Z_FILTER_DEFLATE && id != H5Z_FILTER_SHUFFLE && id != H5Z_FILTER_FLETCHER32)
      throw H5Failure("the dataset \"" + path + "\" uses the HDF5 filter " + std::to_string(id) +
                      " (plugfit reads only deflate, shuffle and fletcher32)");
  }
}

}  // namespace

bool path_exists(hid_t loc, const std::string& path) {
  const Handle lapl = link_access(H5P_LINK_ACCESS);
  for (std::size_t end = path.find('/');; end = path.find('/', end + 1)) {
    const std::string prefix = path.substr(0, end);
    const htri_t found = H5Lexists(loc, prefix.c_str(), lapl);
    if (found < 0) fail("cannot look up \"" + prefix + "\"");
    if (found == 0) return false;
    if (end == std::string::npos) return true;
  }
}

Handle open_group(hid_t loc, const std::string& path) {
  const Handle lapl = link_access(H5P_GROUP_ACCESS);
  refuse_external_links(loc, path, lapl);
  return Handle(H5Gopen2(loc, path.c_str(), lapl), H5Gclose, "cannot open the group \"" + path + "\"");
}

Handle create_group(hid_t loc, const std::string& path) {
  const Handle lcpl = link_create();
  return Handle(H5Gcreate2(loc, path.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
                "cannot create the group \"" + path + "\"");
}

Handle open_dataset(hid_t loc, const std::string& path) {
  const Handle lapl = link_access(H5P_DATASET_ACCESS);
  refuse_external_links(loc, path, lapl);
  Handle dataset(H5Dopen2(loc, path.c_str(), lapl), H5Dclose, "cannot open the dataset \"" + path + "\"");
  check_storage(dataset, path);
  return dataset;
}

bool has_attr(hid_t obj, const std::string& name) {
  const htri_t found = H5Aexists(obj, name.c_str());
  if (found < 0) fail("cannot look up " + attr_what(name));
  return found > 0;
}

std::string read_string_attr(hid_t obj, const std::string& name) {
  Handle attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose, "cannot open " + attr_what(name));
  Handle type(H5Aget_type(attr), H5Tclose, "cannot read the type of " + attr_what(name));
  Handle space(H5Aget_space(attr), H5Sclose, "cannot read the shape of " + attr_what(name));
  if (H5Tget_class(type) != H5T_STRING) throw H5Failure(attr_what(name) + " is not a string");
  if (H5Sget_simple_extent_npoints(space) != 1) throw H5Failure(attr_what(name) + " is not one string");
  return read_attr_strings(attr, type, 1, name).front();
}

std::vector<std::string> read_string_list_attr(hid_t obj, const std::string& name) {
  if (has_attr(obj, name)) return read_one_list(obj, name);
  if (!has_attr(obj, name + "0")) throw H5Failure("there is no attribute \"" + name + "\"");
  std::vector<std::string> out;
  for (int chunk = 0; has_attr(obj, name + std::to_string(chunk)); ++chunk)
    for (auto& s : read_one_list(obj, name + std::to_string(chunk))) out.push_back(std::move(s));
  return out;
}

std::int64_t read_int_attr(hid_t obj, const std::string& name) {
  Handle attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose, "cannot open " + attr_what(name));
  Handle type(H5Aget_type(attr), H5Tclose, "cannot read the type of " + attr_what(name));
  Handle space(H5Aget_space(attr), H5Sclose, "cannot read the shape of " + attr_what(name));
  if (H5Tget_class(type) != H5T_INTEGER || H5Sget_simple_extent_npoints(space) != 1)
    throw H5Failure(attr_what(name) + " is not one integer");
  std::int64_t value = 0;
  check(H5Aread(attr, H5T_NATIVE_INT64, &value), "cannot read " + attr_what(name));
  return value;
}

void write_string_attr(hid_t obj, const std::string& name, const std::string& value) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose, "cannot make a string type");
  check(H5Tset_size(type, H5T_VARIABLE), "cannot make a string type");
  check(H5Tset_cset(type, H5T_CSET_UTF8), "cannot make a string type");
  const Handle space = scalar_space();
  const char* data = value.c_str();
  write_attr(obj, name, type, type, space, &data);
}

void write_string_list_attr(hid_t obj, const std::string& name, const std::vector<std::string>& values) {
  std::size_t size = 1;
  bool ascii = true;
  for (const auto& v : values) {
    size = std::max(size, v.size());
    ascii = ascii && std::all_of(v.begin(), v.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  }
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose, "cannot make a string type");
  check(H5Tset_size(type, size), "cannot make a string type");
  check(H5Tset_strpad(type, H5T_STR_NULLPAD), "cannot make a string type");
  check(H5Tset_cset(type, ascii ? H5T_CSET_ASCII : H5T_CSET_UTF8), "cannot make a string type");
  const Handle space = space_of({values.size()});
  std::string buffer(std::max<std::size_t>(values.size(), 1) * size, '\0');
  for (std::size_t i = 0; i < values.size(); ++i) buffer.replace(i * size, values[i].size(), values[i]);
  write_attr(obj, name, type, type, space, buffer.data());
}

void write_int64_attr(hid_t obj, const std::string& name, std::int64_t value) {
  const Handle space = scalar_space();
  write_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, space, &value);
}

void write_uint32_attr(hid_t obj, const std::string& name, std::uint32_t value) {
  const Handle space = scalar_space();
  write_attr(obj, name, H5T_STD_U32LE, H5T_NATIVE_UINT32, space, &value);
}

Shape dataset_shape(hid_t dataset) {
  Handle space(H5Dget_space(dataset), H5Sclose, "cannot read a dataset's shape");
  const H5S_class_t kind = H5Sget_simple_extent_type(space);
  if (kind == H5S_SCALAR) return {};
  if (kind != H5S_SIMPLE) throw H5Failure("a dataset has no shape (null dataspace)");
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) fail("cannot read a dataset's shape");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (H5Sget_simple_extent_dims(space, dims.data(), nullptr) < 0) fail("cannot read a dataset's shape");
  return Shape(dims.begin(), dims.end());
}

std::vector<float> read_floats(hid_t dataset, const Shape& shape, const std::string& what) {
  Handle type(H5Dget_type(dataset), H5Tclose, "cannot read the type of " + what);
  if (H5Tget_class(type) != H5T_FLOAT) throw H5Failure(what + " does not hold floating-point numbers");
  std::vector<float> values(element_count(shape, what));
  if (!values.empty())
    check(H5Dread(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), "cannot read " + what);
  return values;
}

std::int64_t read_scalar_int(hid_t dataset, const std::string& what) {
  Handle type(H5Dget_type(dataset), H5Tclose, "cannot read the type of " + what);
  if (const Shape shape = dataset_shape(dataset); !shape.empty() && element_count(shape, what) != 1)
    throw H5Failure(what + " is not a scalar");
  if (H5Tget_class(type) == H5T_FLOAT) return static_cast<std::int64_t>(read_scalar_double(dataset, what));
  if (H5Tget_class(type) != H5T_INTEGER) throw H5Failure(what + " is not a number");
  std::int64_t value = 0;
  check(H5Dread(dataset, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value), "cannot read " + what);
  return value;
}

double read_scalar_double(hid_t dataset, const std::string& what) {
  Handle type(H5Dget_type(dataset), H5Tclose, "cannot read the type of " + what);
  if (const Shape shape = dataset_shape(dataset); !shape.empty() && element_count(shape, what) != 1)
    throw H5Failure(what + " is not a scalar");
  const H5T_class_t kind = H5Tget_class(type);
  if (kind != H5T_FLOAT && kind != H5T_INTEGER) throw H5Failure(what + " is not a number");
  double value = 0;
  check(H5Dread(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value), "cannot read " + what);
  return value;
}

Handle write_floats(hid_t loc, const std::string& path, const Shape& shape, const std::vector<float>& values) {
  const Handle space = space_of(shape);
  const Handle lcpl = link_create();
  Handle dataset(H5Dcreate2(loc, path.c_str(), H5T_IEEE_F32LE, space, lcpl, H5P_DEFAULT, H5P_DEFAULT), H5Dclose,
                 "cannot create the dataset \"" + path + "\"");
  if (!values.empty())
    check(H5Dwrite(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
          "cannot write the dataset \"" + path + "\"");
  return dataset;
}

std::vector<std::string> link_names(hid_t group) {
  std::vector<std::string> names;
  hsize_t index = 0;
  if (H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &index, collect_name, &names) < 0) fail("cannot list a group");
  return names;
}

}  // namespace plugfit_hdf5
