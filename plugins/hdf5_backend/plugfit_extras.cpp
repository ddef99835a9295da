#include "plugfit_extras.hpp"

namespace plugfit_hdf5 {

namespace {

using plugfit::CheckpointCorrupt;
using plugfit::Json;

std::string escape_name(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (c == '%') out += "%25";
    else if (c == '/') out += "%2F";
    else out += c;
  }
  return out;
}

std::uint32_t crc_of(const std::vector<float>& values) {
  return plugfit::crc32_of(values.data(), values.size() * sizeof(float));
}

std::uint32_t header_crc(const std::string& info_text, const std::string& tensors_text) {
  return plugfit::crc32_of(tensors_text.data(), tensors_text.size(),
                           plugfit::crc32_of(info_text.data(), info_text.size()));
}

}  // namespace

void write_plugfit_group(hid_t file, const StoredCheckpoint& checkpoint,
                         const std::map<std::string, std::string>& keras_datasets) {
  const Handle group = create_group(file, "plugfit");
  Json manifest = Json::array();
  for (const auto& t : checkpoint.record.tensors) {
    std::string path;
    if (const auto it = keras_datasets.find(t.name); it != keras_datasets.end()) {
      path = it->second;
    } else {
      path = "/plugfit/tensors/" + escape_name(t.name);
      write_floats(file, path, t.shape, t.values);
    }
    manifest.push_back({t.name, path, crc_of(t.values)});
  }
  const std::string info_text = checkpoint.record.info.dump();
  const std::string tensors_text = manifest.dump();
  write_int64_attr(group, "format", kPlugfitGroupFormat);
  write_string_attr(group, "checkpoint", checkpoint.name);
  write_int64_attr(group, "save_seq", checkpoint.save_seq);
  write_string_attr(group, "info", info_text);
  write_string_attr(group, "tensors", tensors_text);
  write_uint32_attr(group, "crc32", header_crc(info_text, tensors_text));
}

bool has_plugfit_group(hid_t file) { return path_exists(file, "plugfit"); }

StoredCheckpoint read_plugfit_group(hid_t file, const std::string& label, bool with_tensors) {
  const std::string where = label + ": the plugfit group";
  StoredCheckpoint out;
  out.written_by_plugfit = true;
  std::string info_text;
  std::string tensors_text;
  std::int64_t stored_crc = 0;
  try {
    const Handle group = open_group(file, "plugfit");
    const std::int64_t format = read_int_attr(group, "format");
    if (format != kPlugfitGroupFormat)
      throw CheckpointCorrupt(where + " has format " + std::to_string(format) + "; this plugfit reads format " +
                              std::to_string(kPlugfitGroupFormat));
    out.name = read_string_attr(group, "checkpoint");
    out.save_seq = read_int_attr(group, "save_seq");
    info_text = read_string_attr(group, "info");
    tensors_text = read_string_attr(group, "tensors");
    stored_crc = read_int_attr(group, "crc32");
  } catch (const H5Failure& e) {
    throw CheckpointCorrupt(where + " is damaged (" + e.what() + ")");
  }
  if (stored_crc != static_cast<std::int64_t>(header_crc(info_text, tensors_text)))
    throw CheckpointCorrupt(where + "'s attributes info and tensors fail their checksum (crc32)");
  Json manifest;
  try {
    out.record.info = Json::parse(info_text);
    manifest = Json::parse(tensors_text);
  } catch (const std::exception&) {
    throw CheckpointCorrupt(where + "'s attribute info or tensors is not JSON");
  }
  if (!out.record.info.is_object() || !manifest.is_array())
    throw CheckpointCorrupt(where + "'s attribute info is not an object or tensors not a list");
  if (!with_tensors) return out;
  for (const auto& entry : manifest) {
    if (!entry.is_array() || entry.size() != 3 || !entry[0].is_string() || !entry[1].is_string() ||
        !entry[2].is_number_unsigned())
      throw CheckpointCorrupt(where + "'s attribute tensors has an entry that is not [name, dataset, crc32]: " +
                              entry.dump());
    plugfit::NamedTensor t;
    t.name = entry[0].get<std::string>();
    const std::string path = entry[1].get<std::string>();
    const std::string what = label + ": the dataset \"" + path + "\" (tensor \"" + t.name + "\")";
    try {
      const Handle dataset = open_dataset(file, path);
      const Handle type(H5Dget_type(dataset), H5Tclose, "cannot read the type of " + what);
      if (H5Tequal(type, H5T_IEEE_F32LE) <= 0) throw CheckpointCorrupt(what + " is not float32");
      t.shape = dataset_shape(dataset);
      const Handle space(H5Dget_space(dataset), H5Sclose, "cannot read the shape of " + what);
      const std::size_t count = plugfit::shape_size(t.shape);
      // The bytes the file holds for it bound what is read: a damaged shape cannot make plugfit
      // allocate more than the file could hold.
      hsize_t file_size = 0;
      if (H5Fget_filesize(file, &file_size) < 0) fail("cannot size the file");
      if (H5Sget_simple_extent_npoints(space) != static_cast<hssize_t>(count) ||
          H5Dget_storage_size(dataset) != count * sizeof(float) || count * sizeof(float) > file_size)
        throw CheckpointCorrupt(what + " has a shape " + plugfit::full_shape_str(t.shape) +
                                " that its stored bytes do not fill");
      t.values = read_floats(dataset, t.shape, what);
    } catch (const H5Failure& e) {
      throw CheckpointCorrupt(what + " cannot be read (" + e.what() + ")");
    }
    if (crc_of(t.values) != entry[2].get<std::uint32_t>())
      throw CheckpointCorrupt(what + " fails its checksum (crc32)");
    out.record.tensors.push_back(std::move(t));
  }
  return out;
}

}  // namespace plugfit_hdf5
