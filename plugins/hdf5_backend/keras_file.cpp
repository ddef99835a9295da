// read_keras_file: the content of a file decides how it is read (keras_file.hpp).
#include "keras_file.hpp"

#include <fstream>

#include "keras3_import.hpp"
#include "keras_import.hpp"
#include "plugfit_extras.hpp"
#include "zip_reader.hpp"

namespace plugfit_hdf5 {

namespace {

using plugfit::InputError;
namespace fs = std::filesystem;

constexpr char kHdf5Signature[] = "\x89HDF\r\n\x1a\n";

std::string first_bytes(const fs::path& path, std::size_t count) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes(count, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(count));
  bytes.resize(static_cast<std::size_t>(std::max<std::streamsize>(in.gcount(), 0)));
  return bytes;
}

// A file that cannot be read whole: damage in a plugfit store's file, bad input in a user's own.
// sentence names the file and says what is wrong with it.
[[noreturn]] void unreadable(const fs::path& path, const std::string& sentence) {
  if (belongs_to_plugfit_store(path)) throw plugfit::CheckpointCorrupt(sentence);
  throw InputError(sentence);
}

StoredCheckpoint read_hdf5(const fs::path& path, const std::string& label, bool with_tensors) {
  const Handle fapl = file_access();
  Handle file;
  try {
    file = Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl), H5Fclose, "HDF5 cannot open it");
  } catch (const H5Failure& e) {
    unreadable(path, label + " is not a whole HDF5 file (truncated or damaged?): " + e.what());
  }
  if (has_plugfit_group(file)) return read_plugfit_group(file, label, with_tensors);
  StoredCheckpoint out;
  out.name = kKerasCheckpointName;
  if (is_keras_file(file)) {
    out.record = import_keras(file, label);
    return out;
  }
  if (is_keras3_weights_file(file)) {
    out.record = keras_record(read_keras3_weights(file, plugfit::Json(), plugfit::Json(), label), label);
    return out;
  }
  throw InputError(label +
                   " is an HDF5 file but no Keras file (no model_weights group or layer_names attribute as "
                   "Keras's .h5 has, no layers group as Keras 3's .weights.h5 has) and no plugfit checkpoint file");
}

StoredCheckpoint read_file(const fs::path& path, const std::string& label, bool with_tensors) {
  quiet_errors();
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError(label + " does not exist");
  if (fs::is_directory(path, ec)) throw InputError(label + " is a folder, not a Keras file");
  const std::string magic = first_bytes(path, 8);
  try {
    if (magic.rfind("PK\x03\x04", 0) == 0) return read_keras3_archive(path, label);
    if (magic == std::string(kHdf5Signature, 8) || H5Fis_hdf5(path.c_str()) > 0) return read_hdf5(path, label, with_tensors);
    throw InputError(label + (magic.empty() ? " is empty" : " is neither an HDF5 file nor a zip archive") +
                     ", so no Keras file (.h5, .weights.h5 or .keras)");
  } catch (const ZipFailure& e) {
    if (e.kind() == ZipFailure::Kind::not_zip) throw InputError(e.what());
    unreadable(path, e.what());
  } catch (const H5Failure& e) {
    unreadable(path, label + " cannot be read: " + e.what());
  } catch (const plugfit::Json::exception& e) {  // a config field of another type than Keras writes
    throw InputError(label + " holds a Keras config that plugfit cannot read: " + e.what());
  }
}

}  // namespace

StoredCheckpoint read_keras_file(const fs::path& path, const std::string& label) {
  return read_file(path, label, true);
}

StoredCheckpoint read_keras_file_header(const fs::path& path, const std::string& label) {
  return read_file(path, label, false);
}

}  // namespace plugfit_hdf5
