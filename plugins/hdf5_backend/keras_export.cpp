// write_keras_file: a checkpoint as the Keras file its format names (keras_file.hpp), laid out
// as Keras 3.8's legacy .h5 writer, Keras 3's .weights.h5 writer or Keras 3.10's .keras archive
// lays it out, and the rest in the /plugfit group (plugfit_extras.hpp).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <set>

#include "isolated_read.hpp"
#include "keras_bidirectional.hpp"
#include "keras_config.hpp"
#include "keras_file.hpp"
#include "keras_layout.hpp"
#include "plugfit_extras.hpp"
#include "zip_writer.hpp"

namespace plugfit_hdf5 {

namespace {

using plugfit::InputError;
using plugfit::Json;
using plugfit::RuntimeFailure;
using Datasets = std::map<std::string, std::string>;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Keras's json.dumps of a config (the legacy writer stores it as bytes: ASCII only).
std::string ascii_json(const KerasJson& j) { return python_json_text(j); }

void check_record(const plugfit::CheckpointRecord& record) {
  std::set<std::string> names;
  for (const auto& t : record.tensors) {
    if (!names.insert(t.name).second) throw InputError("the checkpoint holds two tensors named \"" + t.name + "\"");
    if (t.values.size() != plugfit::shape_size(t.shape))
      throw InputError("the tensor \"" + t.name + "\" holds " + std::to_string(t.values.size()) +
                       " values, which do not fill its shape " + plugfit::full_shape_str(t.shape));
  }
}

// Keras 3.8's legacy model.save("m.h5").
void write_legacy_layout(hid_t file, const StoredCheckpoint& checkpoint, const KerasLayout& layout, Datasets& datasets) {
  const Json& info = checkpoint.record.info;
  const std::string version = keras_version_for(KerasJsonStyle::legacy_h5);
  write_vlen_string_attr(file, "backend", "tensorflow", StringCset::utf8);
  write_vlen_string_attr(file, "keras_version", version, StringCset::utf8);
  if (info.contains("model")) {
    write_vlen_string_attr(file, "model_config", ascii_json(keras_model_config(info, KerasJsonStyle::legacy_h5)),
                           StringCset::ascii);
    const KerasJson training = keras_compile_config(info, KerasJsonStyle::legacy_h5);
    if (!training.is_null()) write_vlen_string_attr(file, "training_config", ascii_json(training), StringCset::ascii);
  }
  const Handle weights = create_group(file, "model_weights");
  write_vlen_string_attr(weights, "backend", "tensorflow", StringCset::ascii);
  write_vlen_string_attr(weights, "keras_version", version, StringCset::ascii);
  std::vector<std::string> layer_names;
  for (const auto& layer : layout.layers) layer_names.push_back(layer.name);
  write_vlen_string_list_attr(weights, "layer_names", layer_names);
  for (const auto& layer : layout.layers) {
    const Handle group = create_group(weights, layer.name);
    std::vector<std::string> names;
    for (const auto* w : layer.weights) {
      // Keras 3 names a weight by its path, "<model>/<layer>/<weight>", and h5py nests it.
      const std::string path = layout.model_name + "/" + layer.name + "/" + keras3_weight_path(layer, *w);
      write_floats(group, path, w->shape, w->values);
      datasets[w->name] = "/model_weights/" + layer.name + "/" + path;
      names.push_back(path);
    }
    write_vlen_string_list_attr(group, "weight_names", names);
  }
  const Handle top = create_group(weights, "top_level_model_weights");
  write_vlen_string_list_attr(top, "weight_names", {});
  if (!layout.optimizer) return;
  const KerasOptimizerState& opt = *layout.optimizer;
  const Handle group = create_group(file, "optimizer_weights");
  std::vector<std::string> names = {opt.name + "/iteration", opt.name + "/learning_rate"};
  write_int64_scalar(group, names[0], opt.iterations);
  write_float32_scalar(group, names[1], opt.learning_rate);
  for (const auto& slot : opt.slots) {
    const std::string path = opt.name + "/" + slot.variable;
    write_floats(group, path, slot.tensor->shape, slot.tensor->values);
    datasets[slot.tensor->name] = "/optimizer_weights/" + path;
    names.push_back(path);
  }
  write_vlen_string_list_attr(group, "weight_names", names);
}

Handle create_vars(hid_t file, const std::string& path, const std::string& name) {
  Handle group = create_group(file, path);
  write_vlen_string_attr(group, "name", name, StringCset::utf8);
  return group;
}

// Keras 3's save_weights("m.weights.h5"), also the archive's model.weights.h5.
void write_weights_layout(hid_t file, const KerasLayout& layout, Datasets& datasets) {
  create_group(file, "layers");
  for (const auto& layer : layout.layers) {
    if (write_keras_bidirectional_weights(file, layer, datasets)) continue;
    // A recurrent layer's variables are its cell's (layers/lstm/cell/vars), its own vars empty.
    std::string path = "layers/" + layer.weights_group + "/vars";
    std::string vars_name = layer.name;
    if (!layer.nesting.attribute.empty()) {
      create_vars(file, path, layer.name);
      path = "layers/" + layer.weights_group + "/" + layer.nesting.attribute + "/vars";
      vars_name = layer.nesting.scope;
    }
    const Handle vars = create_vars(file, path, vars_name);
    for (std::size_t i = 0; i < layer.weights.size(); ++i) {
      write_floats(vars, std::to_string(i), layer.weights[i]->shape, layer.weights[i]->values);
      datasets[layer.weights[i]->name] = "/" + path + "/" + std::to_string(i);
    }
  }
  if (layout.optimizer) {
    const KerasOptimizerState& opt = *layout.optimizer;
    const Handle vars = create_vars(file, "optimizer/vars", opt.name);
    write_int64_scalar(vars, "0", opt.iterations);
    write_float32_scalar(vars, "1", opt.learning_rate);
    for (std::size_t i = 0; i < opt.slots.size(); ++i) {
      const std::string index = std::to_string(i + 2);
      write_floats(vars, index, opt.slots[i].tensor->shape, opt.slots[i].tensor->values);
      datasets[opt.slots[i].tensor->name] = "/optimizer/vars/" + index;
    }
  }
  create_vars(file, "vars", layout.model_name);
}

void write_hdf5_content(hid_t file, KerasFormat format, const StoredCheckpoint& checkpoint) {
  const KerasLayout layout = keras_layout(checkpoint.record);
  Datasets datasets;
  if (format == KerasFormat::legacy_h5) write_legacy_layout(file, checkpoint, layout, datasets);
  else write_weights_layout(file, layout, datasets);
  write_plugfit_group(file, checkpoint, datasets);
}

// model.weights.h5 built in memory (HDF5's core driver, no backing store) for the archive.
// Not through H5Fget_file_image: HDF5 1.10 copies an open 1.8-format file's superblock with its
// status flags cleared but its checksum left as it was, and no reader opens that. The bytes are
// taken instead when the driver frees its buffer at close, after HDF5 has written the closed
// file's superblock, and cut at the end of file address the superblock records.
struct ImageCapture {
  std::map<void*, std::size_t> sizes;  // the driver's buffers and their sizes
  std::string image;
};

void* image_malloc(std::size_t size, H5FD_file_image_op_t, void* udata) {
  void* p = std::malloc(size);
  if (p != nullptr) static_cast<ImageCapture*>(udata)->sizes[p] = size;
  return p;
}
void* image_memcpy(void* dest, const void* src, std::size_t size, H5FD_file_image_op_t, void*) {
  return std::memcpy(dest, src, size);
}
void* image_realloc(void* ptr, std::size_t size, H5FD_file_image_op_t, void* udata) {
  auto& sizes = static_cast<ImageCapture*>(udata)->sizes;
  void* p = std::realloc(ptr, size);
  if (p != nullptr) {
    sizes.erase(ptr);
    sizes[p] = size;
  }
  return p;
}
herr_t image_free(void* ptr, H5FD_file_image_op_t op, void* udata) {
  auto* capture = static_cast<ImageCapture*>(udata);
  if (op == H5FD_FILE_IMAGE_OP_FILE_CLOSE && ptr != nullptr && capture->sizes.count(ptr) != 0)
    capture->image.assign(static_cast<const char*>(ptr), capture->sizes[ptr]);
  capture->sizes.erase(ptr);
  std::free(ptr);
  return 0;
}
void* udata_copy(void* udata) { return udata; }
herr_t udata_free(void*) { return 0; }

std::string weights_image(const StoredCheckpoint& checkpoint) {
  ImageCapture capture;
  {
    const Handle fapl = file_access();
    if (H5Pset_fapl_core(fapl, 64 * 1024, 0) < 0) fail("cannot set up an in-memory HDF5 file");
    H5FD_file_image_callbacks_t callbacks = {image_malloc, image_memcpy, image_realloc, image_free,
                                             udata_copy,   udata_free,   &capture};
    if (H5Pset_file_image_callbacks(fapl, &callbacks) < 0) fail("cannot set up an in-memory HDF5 file");
    Handle file(H5Fcreate("model.weights.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl), H5Fclose,
                "cannot create the archive's model.weights.h5");
    write_hdf5_content(file, KerasFormat::weights_h5, checkpoint);
    file.close("cannot finish the archive's model.weights.h5");
  }
  // Superblock version 2: signature (8), version, offset size, length size, flags, then the
  // base, extension and end of file addresses (8 bytes each, little endian).
  constexpr std::size_t kEofAt = 12 + 8 + 8;
  if (capture.image.size() < kEofAt + 8 || capture.image[8] != 2 || capture.image[9] != 8)
    throw RuntimeFailure("the in-memory model.weights.h5 has no superblock plugfit knows");
  std::uint64_t eof = 0;
  for (int i = 7; i >= 0; --i) eof = (eof << 8) | static_cast<unsigned char>(capture.image[kEofAt + static_cast<std::size_t>(i)]);
  if (eof > capture.image.size()) throw RuntimeFailure("the in-memory model.weights.h5 ends before its end of file address");
  capture.image.resize(static_cast<std::size_t>(eof));
  return capture.image;
}

// saving_lib's date_saved: local time as "%Y-%m-%d@%H:%M:%S".
std::string date_saved(std::time_t now) {
  std::tm local{};
  localtime_r(&now, &local);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d@%H:%M:%S", &local);
  return text;
}

void write_archive(const std::filesystem::path& path, const StoredCheckpoint& checkpoint) {
  const std::time_t now = std::time(nullptr);
  const Json& info = checkpoint.record.info;
  KerasJson metadata = KerasJson::object();
  metadata["keras_version"] = keras_version_for(KerasJsonStyle::archive);
  metadata["date_saved"] = date_saved(now);
  const KerasJson config = info.contains("model") ? keras_model_config(info, KerasJsonStyle::archive) : KerasJson::object();
  write_zip(path, {{"metadata.json", python_json_text(metadata), std::nullopt},
                   {"config.json", python_json_text(config), std::nullopt},
                   {"model.weights.h5", weights_image(checkpoint), now}});
}

void fsync_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw RuntimeFailure("cannot open " + path.string() + " to flush it: " + std::strerror(errno));
  const int status = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (status != 0) throw RuntimeFailure("cannot flush " + path.string() + " to disk: " + std::strerror(error));
}

}  // namespace

KerasFormat keras_format_for(const std::filesystem::path& path) {
  const std::string name = path.filename().string();
  if (ends_with(name, ".keras")) return KerasFormat::archive;
  if (ends_with(name, ".weights.h5")) return KerasFormat::weights_h5;
  return KerasFormat::legacy_h5;
}

void write_keras_file(const std::filesystem::path& path, KerasFormat format, const StoredCheckpoint& checkpoint) {
  check_record(checkpoint.record);
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(path, ec)))
    throw RuntimeFailure("cannot write " + path.string() + ": something already exists there");
  quiet_errors();  // HDF5's failures become exceptions with its reason, not printed stacks
  try {
    if (format == KerasFormat::archive) {
      write_archive(path, checkpoint);
    } else {
      const Handle fapl = file_access();
      // Room for the stamp that lets plugfit read its own file in process (isolated_read.hpp).
      const Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose, "cannot set up " + path.string());
      if (H5Pset_userblock(fcpl, kStampBytes) < 0) fail("cannot reserve the user block of " + path.string());
      Handle file(H5Fcreate(path.c_str(), H5F_ACC_EXCL, fcpl, fapl), H5Fclose, "cannot create " + path.string());
      write_hdf5_content(file, format, checkpoint);
      file.close("cannot finish " + path.string());
      stamp_file(path);
    }
    fsync_file(path);
  } catch (const H5Failure& e) {
    std::filesystem::remove(path, ec);
    throw RuntimeFailure("cannot write " + path.string() + ": " + e.what());
  } catch (...) {
    std::filesystem::remove(path, ec);
    throw;
  }
}

}  // namespace plugfit_hdf5
