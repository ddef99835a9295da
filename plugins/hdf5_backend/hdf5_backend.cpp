// hdf5_backend: the "hdf5:FILE.h5" checkpoint backend. Every checkpoint of a run lives in one
// HDF5 file laid out as Keras's .h5, so that h5py and Keras tools read it, and .h5 files that
// Keras itself saved are read as one checkpoint named "keras" (see keras_import.hpp).
//
// Contract: plugfit/checkpoint.hpp's CheckpointBackend. HDF5 is not crash-safe when a file is
// changed in place, so a file is never changed: every save, remove and write_index writes
// FILE.h5.tmp-<pid>-<n> beside it (the kept checkpoints copied from the old file with H5Ocopy,
// raw and undecoded, then the change), fsyncs it, renames it over FILE.h5 and fsyncs the folder.
// A crash or a full disk leaves the old file whole; writers of one folder take turns (flock on
// the folder), readers need no lock. Each write copies the whole file: the cost of a save grows
// with the checkpoints kept. Two things keep that cost near the disk's rate: the kernel is told to
// start writing the new file's pages while it is still being written (after each dataset and each
// copied checkpoint), so the fsync before the rename does not find the whole file still dirty;
// and the old file, whose blocks are freed when its last descriptor closes, is closed on a
// background thread after the rename, so freeing them does not stall the save.
//
// Layout (HDF5 1.8 file format):
//   /                        attrs plugfit_format, plugfit_version, plugfit_latest, and as Keras
//                            writes them for the latest checkpoint: model_config, keras_version,
//                            backend
//   /model_weights           soft link to /checkpoints/<latest>/model_weights
//   /plugfit_optimizer       soft link to /checkpoints/<latest>/plugfit_optimizer
//   /plugfit_index           the write_index JSON (variable-length string dataset)
//   /checkpoints/<name>/     attrs plugfit_info (the record's info JSON), plugfit_tensors (JSON
//                            [[tensor name, dataset path], ...] in record order), plugfit_crc32
//                            (of both), plugfit_save_seq (save order), plugfit_format, and
//                            model_config (info["model"]), keras_version, backend
//     model_weights/         attrs layer_names (fixed-length byte strings), keras_version, backend
//       <layer>/             attr weight_names ["<layer>/kernel", ...]
//         <layer>/<weight>   float32 dataset of tensor "weights/<layer>/<weight>"
//     plugfit_optimizer/<slot>/<layer>/<weight>   tensor "optimizer/<slot>/<layer>/<weight>"
//     plugfit_other/<name, '/' and '%' escaped>   any other tensor
//   Every dataset has a plugfit_crc32 attribute, the CRC-32 of its float32 little-endian bytes,
//   checked on load with the info's: a damaged record throws CheckpointCorrupt.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <plugfit/sdk.hpp>
#include <set>

#include "h5.hpp"
#include "keras3_import.hpp"
#include "keras_file.hpp"
#include "keras_import.hpp"

namespace {

using namespace plugfit;
using namespace plugfit_hdf5;
namespace fs = std::filesystem;

static_assert(std::endian::native == std::endian::little, "checksums are of float32 little-endian bytes");

constexpr int kFormat = 1;
constexpr const char* kPluginVersion = "0.1.0";
// The Keras release whose .h5 layout this follows (its legacy loader reads these files), and
// its default backend: Keras tools read both attributes, and only Keras 1's values change anything.
constexpr const char* kKerasVersion = "3.8.0";
constexpr const char* kKerasBackend = "tensorflow";
constexpr const char* kKerasCheckpoint = "keras";  // the one checkpoint of a file Keras saved

std::atomic<unsigned> write_counter{0};

// A file whose close fails (a full disk: HDF5 flushes on close) stays in HDF5's table of open
// files, and HDF5 1.10.8's exit handler then crashes closing it again. Every file is closed
// before an operation returns, so the handler has nothing to do: it is turned off (this runs
// when the plugin is loaded, before any HDF5 call).
[[maybe_unused]] const bool hdf5_exit_handler_off = H5dont_atexit() >= 0;

[[noreturn]] void io_failure(const std::string& what, const fs::path& path, int err) {
  throw RuntimeFailure(what + " " + path.string() + ": " + std::strerror(err));
}

void fsync_path(const fs::path& path, bool directory) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));
  if (fd < 0) io_failure("cannot open", path, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && !(directory && err == EINVAL)) io_failure("cannot flush", path, err);
}

// Starts the kernel's writeback of a file being written, so that the fsync that ends the write
// waits for what is left rather than for the whole file. The descriptor is the one HDF5's sec2
// driver writes through (the file is created with that driver). Only a hint: a failure to start
// writeback is not an error here, since the fsync before the rename reports any write error.
class Writeback {
 public:
  Writeback() = default;
  explicit Writeback(hid_t file) {
    void* handle = nullptr;
    if (H5Fget_vfd_handle(file, H5P_DEFAULT, &handle) >= 0 && handle != nullptr) fd_ = *static_cast<int*>(handle);
  }
  void start() const {
    if (fd_ >= 0) ::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
  }

 private:
  int fd_ = -1;  // owned by HDF5's file, which outlives this
};

// Writers of one folder take turns: each write reads the old file and replaces it whole, so two
// at once would lose one's change.
class FolderLock {
 public:
  explicit FolderLock(const fs::path& dir) : fd_(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    if (fd_ < 0) io_failure("cannot open the folder", dir, errno);
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd_);
      io_failure("cannot lock the folder", dir, err);
    }
  }
  ~FolderLock() { ::close(fd_); }
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_;
};

bool process_alive(long pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

std::vector<std::string> split(const std::string& name) {
  std::vector<std::string> parts;
  for (std::size_t start = 0;;) {
    const std::size_t end = name.find('/', start);
    parts.push_back(name.substr(start, end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

std::string join(const std::vector<std::string>& parts, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < parts.size(); ++i) out += (i > from ? "/" : "") + parts[i];
  return out;
}

// One link name for any tensor name: '%' and '/' percent-encoded, "." and ".." kept off.
std::string escape(const std::string& name) {
  std::string out;
  for (char c : name) out += c == '%' ? "%25" : c == '/' ? "%2F" : std::string(1, c);
  if (out == "." || out == "..") out = out == "." ? "%2E" : "%2E%2E";
  return out;
}

std::uint32_t data_crc(const std::vector<float>& values) {
  return crc32_of(values.data(), values.size() * sizeof(float));
}

std::uint32_t header_crc(const std::string& info, const std::string& tensors) {
  return crc32_of(tensors.data(), tensors.size(), crc32_of(info.data(), info.size()));
}

// Where each tensor goes: Keras's layout for weights, plugfit's groups for optimizer slots, a
// flat group for the rest (and for any name whose path would collide with another's).
std::vector<std::string> dataset_paths(const CheckpointRecord& record) {
  std::vector<std::string> paths;
  std::set<std::string> names, datasets, groups;
  for (const auto& t : record.tensors) {
    if (t.name.empty() || t.name.find('\0') != std::string::npos)
      throw InputError("a tensor name is empty or holds a NUL character");
    if (!names.insert(t.name).second) throw InputError("the tensor \"" + t.name + "\" appears twice in the record");
    if (shape_size(t.shape) != t.values.size())
      throw InputError("tensor \"" + t.name + "\" has " + std::to_string(t.values.size()) + " values for shape " +
                       full_shape_str(t.shape));
    const auto parts = split(t.name);
    const bool clean = std::none_of(parts.begin(), parts.end(),
                                    [](const std::string& p) { return p.empty() || p == "." || p == ".."; });
    std::string path;
    if (clean && parts.size() >= 3 && parts[0] == "weights")
      path = "model_weights/" + parts[1] + "/" + join(parts, 1);
    else if (clean && parts.size() >= 4 && parts[0] == "optimizer")
      path = "plugfit_optimizer/" + join(parts, 1);
    bool collides = path.empty() || groups.count(path) != 0;
    for (std::size_t slash = path.find('/'); !collides && slash != std::string::npos; slash = path.find('/', slash + 1))
      collides = datasets.count(path.substr(0, slash)) != 0;
    if (collides) path = "plugfit_other/" + escape(t.name);
    datasets.insert(path);
    for (std::size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1))
      groups.insert(path.substr(0, slash));
    paths.push_back(std::move(path));
  }
  return paths;
}

void write_keras_version(hid_t obj) {
  write_string_attr(obj, "keras_version", kKerasVersion);
  write_string_attr(obj, "backend", kKerasBackend);
}

// /checkpoints/<name> for the record; when writeback is given (the file's own), the kernel's
// writeback is started after each dataset.
void write_checkpoint(hid_t checkpoints, const std::string& name, const CheckpointRecord& record, std::int64_t seq,
                      const Writeback& writeback = {}) {
  const std::vector<std::string> paths = dataset_paths(record);
  const Handle group = create_group(checkpoints, name);
  const Handle model_weights = create_group(group, "model_weights");
  Json manifest = Json::array();
  std::vector<std::string> layers;
  std::map<std::string, std::vector<std::string>> weight_names;
  for (std::size_t i = 0; i < record.tensors.size(); ++i) {
    const NamedTensor& t = record.tensors[i];
    const Handle dataset = write_floats(group, paths[i], t.shape, t.values);
    write_uint32_attr(dataset, "plugfit_crc32", data_crc(t.values));
    writeback.start();
    manifest.push_back({t.name, paths[i]});
    if (paths[i].rfind("model_weights/", 0) == 0) {
      const auto parts = split(t.name);
      if (weight_names.count(parts[1]) == 0) layers.push_back(parts[1]);
      weight_names[parts[1]].push_back(join(parts, 1));  // relative to the layer's group, as Keras reads it
    }
  }
  for (const auto& layer : layers)
    write_string_list_attr(open_group(model_weights, layer), "weight_names", weight_names[layer]);
  write_string_list_attr(model_weights, "layer_names", layers);
  write_keras_version(model_weights);

  const std::string info = record.info.dump();
  const std::string tensors = manifest.dump();
  write_int64_attr(group, "plugfit_format", kFormat);
  write_int64_attr(group, "plugfit_save_seq", seq);
  write_string_attr(group, "plugfit_info", info);
  write_string_attr(group, "plugfit_tensors", tensors);
  write_uint32_attr(group, "plugfit_crc32", header_crc(info, tensors));
  if (record.info.contains("model")) write_string_attr(group, "model_config", record.info["model"].dump());
  write_keras_version(group);
}

std::int64_t save_seq(hid_t checkpoints, const std::string& name) {
  try {
    return read_int_attr(open_group(checkpoints, name), "plugfit_save_seq");
  } catch (const H5Failure&) {
    return 0;  // unreadable: sorts first, as the oldest
  }
}

// Names in save order, oldest first.
std::vector<std::string> ordered_names(hid_t checkpoints) {
  std::vector<std::pair<std::int64_t, std::string>> found;
  for (auto& name : link_names(checkpoints)) found.emplace_back(save_seq(checkpoints, name), std::move(name));
  std::sort(found.begin(), found.end());
  std::vector<std::string> names;
  for (auto& [seq, name] : found) names.push_back(std::move(name));
  return names;
}

// The root's Keras view of the latest checkpoint.
void write_root(hid_t file, hid_t checkpoints) {
  write_int64_attr(file, "plugfit_format", kFormat);
  write_string_attr(file, "plugfit_version", kPluginVersion);
  write_keras_version(file);
  const auto names = ordered_names(checkpoints);
  if (names.empty()) return;
  const std::string& latest = names.back();
  write_string_attr(file, "plugfit_latest", latest);
  const Handle group = open_group(checkpoints, latest);
  if (has_attr(group, "model_config")) write_string_attr(file, "model_config", read_string_attr(group, "model_config"));
  const Handle lcpl = link_create();
  for (const char* link : {"model_weights", "plugfit_optimizer"}) {
    if (!path_exists(group, link)) continue;
    const std::string target = "/checkpoints/" + latest + "/" + link;
    if (H5Lcreate_soft(target.c_str(), file, link, lcpl, H5P_DEFAULT) < 0) fail("cannot link /" + std::string(link));
  }
}

enum class Layout { plugfit, keras };

class Hdf5Backend final : public CheckpointBackend {
 public:
  explicit Hdf5Backend(Config& config) : file_(fs::absolute(config.require<std::string>("path")).lexically_normal()) {
    if (file_.filename().empty())
      throw InputError("the hdf5: location " + file_.string() + " names a folder, not a file");
  }

  void save(const std::string& name, const CheckpointRecord& record) override {
    check_checkpoint_name(name);
    rewrite(
        "saving checkpoint \"" + name + "\" to " + uri(), [&](const std::string& n) { return n != name; },
        [&](hid_t checkpoints, std::int64_t seq, const Writeback& writeback) {
          write_checkpoint(checkpoints, name, record, seq, writeback);
        },
        nullptr);
  }

  CheckpointRecord load(const std::string& name) const override {
    quiet_errors();
    check_checkpoint_name(name);
    const std::string what = "checkpoint \"" + name + "\" in " + uri();
    std::error_code ec;
    if (!fs::exists(file_, ec)) throw InputError(what + " does not exist (there is no file " + file_.string() + ")");
    if (holds_only_keras(file_)) {  // any Keras format (.h5, .weights.h5, .keras), read by content
      if (name != kKerasCheckpoint)
        throw InputError(what + " does not exist (a file Keras saved holds one checkpoint, \"keras\")");
      return read_keras_file(file_, file_.string()).record;
    }
    const Handle file = open_for_reading();
    try {
      if (layout_of(file) == Layout::keras) {
        if (name != kKerasCheckpoint)
          throw InputError(what + " does not exist (a file Keras saved holds one checkpoint, \"keras\")");
        return import_keras(file, file_.string());
      }
      if (!path_exists(file, "checkpoints/" + name)) throw InputError(what + " does not exist");
      return read_checkpoint(open_group(file, "checkpoints/" + name), what);
    } catch (const H5Failure& e) {
      throw CheckpointCorrupt(what + " is corrupt: " + e.what());
    }
  }

  std::vector<std::string> list() const override {
    quiet_errors();
    std::error_code ec;
    if (!fs::exists(file_, ec)) return {};
    if (holds_only_keras(file_)) {
      read_keras_file(file_, file_.string());  // a file that is no Keras file says so here
      return {kKerasCheckpoint};
    }
    const Handle file = open_for_reading();
    try {
      if (layout_of(file) == Layout::keras) return {kKerasCheckpoint};
      return ordered_names(open_group(file, "checkpoints"));
    } catch (const H5Failure& e) {
      throw CheckpointCorrupt(uri() + " is corrupt: " + e.what());
    }
  }

  void remove(const std::string& name) override {
    check_checkpoint_name(name);
    const auto names = list();
    if (std::find(names.begin(), names.end(), name) == names.end()) return;
    rewrite(
        "removing checkpoint \"" + name + "\" from " + uri(), [&](const std::string& n) { return n != name; }, {},
        nullptr);
  }

  Json read_index() const override {
    quiet_errors();
    std::error_code ec;
    if (!fs::exists(file_, ec)) return Json::object();
    try {
      const Handle file = open_for_reading();
      if (!path_exists(file, "plugfit_index")) return Json::object();
      return Json::parse(read_string_dataset(file, "plugfit_index"));
    } catch (const std::exception&) {
      return Json::object();  // no index, or an unreadable one: the list is the truth
    }
  }

  void write_index(const Json& index) override {
    rewrite(
        "writing the index of " + uri(), [](const std::string&) { return true; }, {}, &index);
  }

  std::string uri() const override { return "hdf5:" + file_.string(); }

  ~Hdf5Backend() override { wait_for_old_file(); }
  Hdf5Backend(const Hdf5Backend&) = delete;
  Hdf5Backend& operator=(const Hdf5Backend&) = delete;

 private:
  Handle open_for_reading() const {
    std::error_code ec;
    if (fs::is_directory(file_, ec))
      throw InputError(uri() + " is a folder; an hdf5: location is a file (dir: stores checkpoints in a folder)");
    try {
      const Handle fapl = file_access();
      return Handle(H5Fopen(file_.c_str(), H5F_ACC_RDONLY, fapl), H5Fclose, "HDF5 cannot open it");
    } catch (const H5Failure& e) {
      throw CheckpointCorrupt(uri() + " is not a readable HDF5 file (truncated or damaged?): " + e.what());
    }
  }

  static bool holds_only_keras(const fs::path& file) {
    std::error_code ec;
    return !fs::is_directory(file, ec) && !belongs_to_plugfit_store(file);
  }

  Layout layout_of(hid_t file) const {
    if (path_exists(file, "checkpoints")) return Layout::plugfit;
    if (is_keras_file(file)) return Layout::keras;
    import_keras(file, file_.string());  // throws the explanation
    return Layout::keras;
  }

  static CheckpointRecord read_checkpoint(const Handle& group, const std::string& what) {
    const std::string info = read_string_attr(group, "plugfit_info");
    const std::string tensors = read_string_attr(group, "plugfit_tensors");
    if (static_cast<std::uint32_t>(read_int_attr(group, "plugfit_crc32")) != header_crc(info, tensors))
      throw CheckpointCorrupt(what +
                              " is corrupt: its plugfit_info and plugfit_tensors attributes fail their checksum");
    if (const auto format = read_int_attr(group, "plugfit_format"); format != kFormat)
      throw CheckpointCorrupt(what + " has format " + std::to_string(format) + ", this plugin reads format " +
                              std::to_string(kFormat));
    CheckpointRecord record;
    Json manifest;
    try {
      record.info = Json::parse(info);
      manifest = Json::parse(tensors);
    } catch (const std::exception&) {
      throw CheckpointCorrupt(what + " is corrupt: its plugfit_info or plugfit_tensors attribute does not parse");
    }
    for (const auto& entry : manifest) {
      const std::string path = entry.at(1).get<std::string>();
      const Handle dataset = open_dataset(group, path);
      NamedTensor t{entry.at(0).get<std::string>(), dataset_shape(dataset), {}};
      t.values = read_floats(dataset, t.shape, "the dataset \"" + path + "\"");
      if (static_cast<std::uint32_t>(read_int_attr(dataset, "plugfit_crc32")) != data_crc(t.values))
        throw CheckpointCorrupt(what + " is corrupt: the dataset " + path + " fails its checksum");
      record.tensors.push_back(std::move(t));
    }
    return record;
  }

  // Removes FILE.h5.tmp-<pid>-<n> files whose writer is gone (it was killed mid-write).
  void remove_stale_temporaries() const {
    const std::string prefix = file_.filename().string() + ".tmp-";
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(file_.parent_path(), ec)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind(prefix, 0) != 0) continue;
      const std::string rest = name.substr(prefix.size());
      const long pid = std::strtol(rest.substr(0, rest.find('-')).c_str(), nullptr, 10);
      if (!process_alive(pid)) fs::remove(entry.path(), ec);
    }
  }

  // Writes a new file holding the old one's checkpoints that keep() accepts, then add()'s, and
  // index (or the old index when null), and renames it over the old file.
  void rewrite(const std::string& action, const std::function<bool(const std::string&)>& keep,
               const std::function<void(hid_t, std::int64_t, const Writeback&)>& add, const Json* index) {
    quiet_errors();
    std::error_code ec;
    fs::create_directories(file_.parent_path(), ec);
    if (ec)
      throw RuntimeFailure(action + " failed: cannot create the folder " + file_.parent_path().string() + ": " +
                           ec.message());
    const fs::path tmp = file_.string() + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(write_counter++);
    try {
      const FolderLock lock(file_.parent_path());
      wait_for_old_file();
      remove_stale_temporaries();
      {
        Handle old;
        std::optional<Layout> layout;
        if (fs::exists(file_, ec)) {
          old = open_for_reading();
          layout = layout_of(old);
        }
        const Handle fapl = file_access();
        if (H5Pset_fapl_sec2(fapl) < 0) fail("cannot set the file driver");  // Writeback needs its descriptor
        Handle file(H5Fcreate(tmp.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl), H5Fclose, "cannot create " + tmp.string());
        const Writeback writeback(file);
        Handle checkpoints = create_group(file, "checkpoints");
        std::int64_t next_seq = 1;
        if (layout == Layout::plugfit) {
          const Handle old_checkpoints = open_group(old, "checkpoints");
          const Handle lcpl = link_create();
          for (const auto& name : link_names(old_checkpoints)) {
            next_seq = std::max(next_seq, save_seq(old_checkpoints, name) + 1);
            if (!keep(name)) continue;
            if (H5Ocopy(old_checkpoints, name.c_str(), checkpoints, name.c_str(), H5P_DEFAULT, lcpl) < 0)
              fail("cannot copy checkpoint \"" + name + "\" from the old file (remove it, or save to another file)");
            writeback.start();
          }
          if (index == nullptr && path_exists(old, "plugfit_index") &&
              H5Ocopy(old, "plugfit_index", file, "plugfit_index", H5P_DEFAULT, lcpl) < 0)
            fail("cannot copy the index from the old file");
        } else if (layout == Layout::keras) {
          // A file Keras saved becomes a plugfit file: its model is kept as checkpoint "keras".
          if (keep(kKerasCheckpoint))
            write_checkpoint(checkpoints, kKerasCheckpoint, import_keras(old, file_.string()), next_seq, writeback);
          ++next_seq;
        }
        old.reset();
        if (add) add(checkpoints, next_seq, writeback);
        if (index != nullptr) write_string_dataset(file, "plugfit_index", index->dump());
        write_root(file, checkpoints);
        checkpoints.reset();
        file.close("cannot write " + tmp.string());
      }
      fsync_path(tmp, false);
      // The old file stays open across the rename: its blocks are freed when this closes, on a
      // background thread (the last close of a large unlinked file can take tens of milliseconds).
      const int old_fd = ::open(file_.c_str(), O_RDONLY | O_CLOEXEC);
      if (::rename(tmp.c_str(), file_.c_str()) != 0) {
        const int err = errno;
        if (old_fd >= 0) ::close(old_fd);
        io_failure("cannot rename into", file_, err);
      }
      if (old_fd >= 0) close_old_file(old_fd);
      fsync_path(file_.parent_path(), true);
    } catch (const std::exception& e) {
      fs::remove(tmp, ec);
      throw RuntimeFailure(action + " failed: " + e.what());
    }
  }

  // Closes fd (an old file that the rename unlinked) on a background thread.
  void close_old_file(int fd) {
    const std::lock_guard<std::mutex> guard(closing_mutex_);
    if (closing_.valid()) closing_.wait();
    try {
      closing_ = std::async(std::launch::async, [fd] { ::close(fd); });
    } catch (const std::system_error&) {
      ::close(fd);  // no thread to spare: close it here
    }
  }

  // Waits until the old file of the previous write is closed, so that its space is back.
  void wait_for_old_file() {
    const std::lock_guard<std::mutex> guard(closing_mutex_);
    if (closing_.valid()) closing_.get();
  }

  fs::path file_;
  std::mutex closing_mutex_;
  std::future<void> closing_;  // the background close of the last write's old file
};

void register_types(Registrar& registrar) { registrar.add_checkpoint_backend<Hdf5Backend>("hdf5"); }

}  // namespace

PLUGFIT_PLUGIN_DESCRIBED("hdf5_backend", "0.1.0",
                         "hdf5: checkpoints in one HDF5 file laid out as Keras's .h5; reads .h5 files Keras saved",
                         register_types)
