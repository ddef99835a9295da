// INTERIM: replaced by keras_export.cpp and keras_file.cpp at merge
//
// A stand-in for keras_file.hpp's write_keras_file / read_keras_file so that the hdf5: store
// builds and is tested before the real ones (Keras's layouts for all three formats) are merged.
// Every format is written as one HDF5 file with everything under /plugfit: attrs format,
// checkpoint, save_seq, info, tensors ([[name, dataset path, crc32], ...]), crc32; the tensors
// at /plugfit/tensors/<escaped name>. A file without /plugfit is read through import_keras.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

#include "h5.hpp"
#include "keras_file.hpp"
#include "keras_import.hpp"

namespace plugfit_hdf5 {

namespace fs = std::filesystem;
using namespace plugfit;

namespace {

constexpr std::int64_t kFormat = 2;

std::string escape(const std::string& name) {
  std::string out;
  for (char c : name) out += c == '%' ? "%25" : c == '/' ? "%2F" : std::string(1, c);
  if (out == "." || out == "..") out = out == "." ? "%2E" : "%2E%2E";
  return out;
}

std::uint32_t header_crc(const std::string& info, const std::string& tensors) {
  return crc32_of(tensors.data(), tensors.size(), crc32_of(info.data(), info.size()));
}

std::uint32_t data_crc(const std::vector<float>& values) {
  return crc32_of(values.data(), values.size() * sizeof(float));
}

bool starts_with_hdf5_signature(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  in.read(magic, sizeof magic);
  return in.gcount() == 8 && std::memcmp(magic, "\x89HDF\r\n\x1a\n", 8) == 0;
}

void write_file(const fs::path& path, const StoredCheckpoint& checkpoint) {
  std::set<std::string> names;
  for (const auto& t : checkpoint.record.tensors) {
    if (t.name.empty() || t.name.find('\0') != std::string::npos)
      throw InputError("a tensor name is empty or holds a NUL character");
    if (!names.insert(t.name).second) throw InputError("the tensor \"" + t.name + "\" appears twice in the record");
    if (shape_size(t.shape) != t.values.size())
      throw InputError("tensor \"" + t.name + "\" has " + std::to_string(t.values.size()) + " values for shape " +
                       full_shape_str(t.shape));
  }
  const Handle fapl = file_access();
  Handle file(H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl), H5Fclose, "cannot create " + path.string());
  const Handle group = create_group(file, "plugfit");
  Json manifest = Json::array();
  for (const auto& t : checkpoint.record.tensors) {
    const std::string dataset = "plugfit/tensors/" + escape(t.name);
    write_floats(file, dataset, t.shape, t.values);
    manifest.push_back({t.name, dataset, data_crc(t.values)});
  }
  const std::string info = checkpoint.record.info.dump();
  const std::string tensors = manifest.dump();
  write_int64_attr(group, "format", kFormat);
  write_string_attr(group, "checkpoint", checkpoint.name);
  write_int64_attr(group, "save_seq", checkpoint.save_seq);
  write_string_attr(group, "info", info);
  write_string_attr(group, "tensors", tensors);
  write_uint32_attr(group, "crc32", header_crc(info, tensors));
  file.close("cannot write " + path.string());
}

StoredCheckpoint read_plugfit(hid_t file, const std::string& label) {
  const Handle group = open_group(file, "plugfit");
  const std::string info = read_string_attr(group, "info");
  const std::string tensors = read_string_attr(group, "tensors");
  if (static_cast<std::uint32_t>(read_int_attr(group, "crc32")) != header_crc(info, tensors))
    throw CheckpointCorrupt(label + " is corrupt: its /plugfit info and tensors attributes fail their checksum");
  if (const auto format = read_int_attr(group, "format"); format != kFormat)
    throw CheckpointCorrupt(label + " has format " + std::to_string(format) + ", this plugin reads format " +
                            std::to_string(kFormat));
  StoredCheckpoint out;
  out.written_by_plugfit = true;
  out.name = read_string_attr(group, "checkpoint");
  out.save_seq = read_int_attr(group, "save_seq");
  Json manifest;
  try {
    out.record.info = Json::parse(info);
    manifest = Json::parse(tensors);
  } catch (const std::exception&) {
    throw CheckpointCorrupt(label + " is corrupt: its /plugfit info or tensors attribute does not parse");
  }
  if (!manifest.is_array()) throw CheckpointCorrupt(label + " is corrupt: its /plugfit tensors is not a list");
  for (const auto& entry : manifest) {
    if (!entry.is_array() || entry.size() != 3 || !entry[0].is_string() || !entry[1].is_string() ||
        !entry[2].is_number_unsigned())
      throw CheckpointCorrupt(label + " is corrupt: an entry of its /plugfit tensors is not [name, path, crc32]");
    const std::string path = entry[1].get<std::string>();
    const Handle dataset = open_dataset(file, path);
    NamedTensor t{entry[0].get<std::string>(), dataset_shape(dataset), {}};
    t.values = read_floats(dataset, t.shape, "the dataset \"" + path + "\"");
    if (entry[2].get<std::uint32_t>() != data_crc(t.values))
      throw CheckpointCorrupt(label + " is corrupt: the dataset " + path + " fails its checksum");
    out.record.tensors.push_back(std::move(t));
  }
  return out;
}

}  // namespace

KerasFormat keras_format_for(const fs::path& path) {
  const std::string name = path.filename().string();
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".keras")) return KerasFormat::archive;
  if (ends_with(".weights.h5")) return KerasFormat::weights_h5;
  return KerasFormat::legacy_h5;
}

void write_keras_file(const fs::path& path, KerasFormat, const StoredCheckpoint& checkpoint) {
  quiet_errors();
  try {
    write_file(path, checkpoint);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw RuntimeFailure("cannot open " + path.string() + ": " + std::strerror(errno));
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) throw RuntimeFailure("cannot flush " + path.string() + ": " + std::strerror(err));
  } catch (const H5Failure& e) {
    std::error_code ec;
    fs::remove(path, ec);
    throw RuntimeFailure(e.what());
  } catch (...) {
    std::error_code ec;
    fs::remove(path, ec);
    throw;
  }
}

StoredCheckpoint read_keras_file(const fs::path& path, const std::string& label) {
  quiet_errors();
  if (!starts_with_hdf5_signature(path)) throw InputError(label + " is not a Keras file (neither HDF5 nor zip)");
  Handle file;
  try {
    const Handle fapl = file_access();
    file = Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl), H5Fclose, "HDF5 cannot open it");
  } catch (const H5Failure& e) {
    throw CheckpointCorrupt(label + " is not a readable HDF5 file (truncated or damaged?): " + e.what());
  }
  try {
    if (path_exists(file, "plugfit")) return read_plugfit(file, label);
    StoredCheckpoint keras;
    keras.name = "keras";
    keras.record = import_keras(file, label);
    return keras;
  } catch (const H5Failure& e) {
    throw CheckpointCorrupt(label + " is corrupt: " + e.what());
  }
}

}  // namespace plugfit_hdf5
