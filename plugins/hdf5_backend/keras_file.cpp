// read_keras_file: the content of a file decides how it is read (keras_file.hpp).
#include "keras_file.hpp"

#include <sys/stat.h>

#include <fstream>
#include <mutex>
#include <optional>
#include <tuple>

#include "isolated_read.hpp"
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

// What the file's content says it is, read as that (libhdf5 parses it: isolated_read.hpp).
StoredCheckpoint read_content(const fs::path& path, const std::string& label, bool with_tensors) {
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

// Which file a path names now (a rename or a change in place makes another).
using FileKey = std::tuple<std::string, dev_t, ino_t, off_t, std::int64_t, std::int64_t>;
std::optional<FileKey> file_key(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileKey{path.string(), st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
}

// The last header read through a child, kept for the whole read that follows it (a store lists
// FILE, then loads it): one child per file opened, not one per read. That read takes it.
std::mutex last_header_mutex;
std::optional<std::pair<FileKey, StoredCheckpoint>> last_header;

StoredCheckpoint read_file(const fs::path& path, const std::string& label, bool with_tensors) {
  quiet_errors();
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError(label + " does not exist");
  if (fs::is_directory(path, ec)) throw InputError(label + " is a folder, not a Keras file");
  if (stamp_holds(path)) return read_content(path, label, with_tensors);
  const std::optional<FileKey> key = file_key(path);
  {
    const std::lock_guard lock(last_header_mutex);
    if (key && last_header && last_header->first == *key) {
      if (!with_tensors) return last_header->second;
      StoredCheckpoint whole = std::move(last_header->second);
      last_header.reset();
      return whole;
    }
  }
  // Whole, even for a header: a file without a valid stamp has no cheap header to trust.
  StoredCheckpoint checkpoint = read_in_child(path, label, [&] { return read_content(path, label, true); });
  if (!with_tensors && key) {
    const std::lock_guard lock(last_header_mutex);
    last_header.emplace(*key, checkpoint);
  }
  return checkpoint;
}

}  // namespace

StoredCheckpoint read_keras_file(const fs::path& path, const std::string& label) {
  return read_file(path, label, true);
}

StoredCheckpoint read_keras_file_header(const fs::path& path, const std::string& label) {
  return read_file(path, label, false);
}

}  // namespace plugfit_hdf5
