// hdf5_backend: the "hdf5:FILE" checkpoint backend, a store of Keras files, one per checkpoint.
// FILE always holds the most recently saved checkpoint, as Keras's ModelCheckpoint(filepath=FILE)
// leaves it, in the format FILE's name asks for (keras_format_for: run.keras an archive, run.h5 a
// legacy .h5, run.weights.h5 a Keras 3 weights file); Keras and h5py read it as their own.
//
// Layout:
//   FILE                                the latest checkpoint (write_keras_file)
//   FILE.checkpoints/<name><ext>        every other checkpoint, same format (ext: FILE's)
//   FILE.checkpoints/index.json         the write_index JSON
//   FILE.checkpoints/.save_order.json   a cache: file identity (device, inode, size, mtime) ->
//                                       checkpoint name and save_seq, so that list() and save()
//                                       need not read whole files; a file it does not match is
//                                       read (read_keras_file), so the cache is never the truth
// The sidecar is made when it first has something to hold (a second checkpoint, the index): a
// location of one checkpoint (ModelCheckpoint's best.keras) is one file, as Keras leaves it.
// A FILE that Keras wrote (read_keras_file: not written_by_plugfit) is the checkpoint "keras"
// (save_seq 0, listed first); the first save keeps it byte for byte as FILE.checkpoints/keras<ext>.
//
// Contract: plugfit/checkpoint.hpp's CheckpointBackend. No file is changed in place. A save
// writes FILE.tmp-<pid>-<n> (write_keras_file fsyncs it); when FILE holds another checkpoint X,
// FILE is first hard-linked (copied where links fail) into the sidecar as X<ext>; then the
// temporary is renamed over FILE and an older sidecar copy of the saved name is unlinked. Every
// step is one rename, link or unlink followed by an fsync of its folder, so a crash at any
// instant leaves every checkpoint whole (at worst a name twice, FILE's copy winning), and a full
// disk leaves the old state. A save writes one checkpoint whatever the count held; its save_seq
// is 1 + FILE's (the latest save's, the highest held). remove(FILE's checkpoint) renames the newest
// other one over FILE (none left: FILE is removed). Writers of one folder take turns (flock on
// FILE's folder) and remove the temporaries of dead writers; readers need no lock (list() and
// load() try again when FILE changed while they read).
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <plugfit/sdk.hpp>
#include <tuple>

#include "h5.hpp"
#include "keras_file.hpp"

namespace {

using namespace plugfit;
using namespace plugfit_hdf5;
namespace fs = std::filesystem;

constexpr const char* kOrderCache = ".save_order.json";
constexpr const char* kIndex = "index.json";

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

std::string temporary_suffix() {
  return ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(write_counter++);
}

// Writers of one folder take turns: a save reads what FILE holds before it moves it aside.
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

// Removes <prefix><pid>-<n>... files in dir whose writer is gone (it was killed mid-write).
void remove_stale_temporaries(const fs::path& dir, const std::string& prefix) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (!process_alive(pid)) fs::remove(entry.path(), ec);
  }
}

// Which file a path names now: a file replaced by a rename, or changed in place, differs.
struct FileId {
  std::uint64_t device = 0, inode = 0, size = 0, mtime_ns = 0;
  bool operator==(const FileId&) const = default;
  bool same_inode(const FileId& o) const { return device == o.device && inode == o.inode; }
};

std::optional<FileId> identify(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::nullopt;
    io_failure("cannot stat", path, errno);
  }
  return FileId{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                static_cast<std::uint64_t>(st.st_size),
                static_cast<std::uint64_t>(st.st_mtim.tv_sec) * 1000000000ull +
                    static_cast<std::uint64_t>(st.st_mtim.tv_nsec)};
}

// One checkpoint file of the store: what it holds and which file it is.
struct Held {
  fs::path path;
  FileId id;
  std::string name;
  std::int64_t seq = 0;
};

// The save-order cache's entries: a file is known by its identity (the path is not used).
using Cache = std::vector<Held>;

// The store's state at one instant: FILE's checkpoint, and the sidecar's others.
struct Snapshot {
  std::optional<Held> latest;
  std::vector<Held> others;
  const Held* other(const std::string& name) const {
    for (const auto& h : others)
      if (h.name == name) return &h;
    return nullptr;
  }
};

class Hdf5Backend final : public CheckpointBackend {
 public:
  explicit Hdf5Backend(Config& config)
      : file_(fs::absolute(config.require<std::string>("path")).lexically_normal()),
        sidecar_(file_.string() + ".checkpoints"),
        format_(keras_format_for(file_)),
        ext_(sidecar_extension(file_, format_)) {
    if (file_.filename().empty())
      throw InputError("the hdf5: location " + file_.string() + " names a folder, not a file");
  }

  void save(const std::string& name, const CheckpointRecord& record) override {
    check_checkpoint_name(name);
    const std::string action = "saving checkpoint \"" + name + "\" to " + uri();
    const fs::path tmp = file_.string() + temporary_suffix();
    try {
      // Only FILE is looked at (its save_seq is the highest: it is always the latest save), and the
      // one sidecar path of the name: the cost does not grow with the checkpoints held.
      const auto lock = begin_write();
      auto cache = read_cache();
      std::optional<Held> latest;
      if (const auto file_id = identify(file_)) latest = held(file_, *file_id, cache);
      std::int64_t seq = latest ? latest->seq : 0;
      for (const auto& h : cache) seq = std::max(seq, h.seq);
      ++seq;
      write_keras_file(tmp, format_, {name, seq, true, record});
      if (latest && latest->name != name) keep_in_sidecar(*latest, cache);
      if (::rename(tmp.c_str(), file_.c_str()) != 0) io_failure("cannot rename into", file_, errno);
      fsync_path(file_.parent_path(), true);
      const fs::path stale = sidecar_path(name);  // the name's older copy, now superseded by FILE
      if (const auto stale_id = identify(stale)) {
        if (::unlink(stale.c_str()) != 0 && errno != ENOENT) io_failure("cannot remove", stale, errno);
        fsync_path(sidecar_, true);
        forget(cache, *stale_id);
      }
      remember(cache, {file_, identify(file_).value_or(FileId{}), name, seq});
      write_cache(cache);
    } catch (const std::exception& e) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw RuntimeFailure(action + " failed: " + e.what());
    }
  }

  CheckpointRecord load(const std::string& name) const override {
    check_checkpoint_name(name);
    const std::string what = "checkpoint \"" + name + "\" in " + uri();
    refuse_folder();
    // A writer may move FILE's checkpoint aside while this reads: FILE changed, so try again.
    for (int attempt = 0; attempt < 20; ++attempt) {
      const auto file_id = identify(file_);
      try {
        if (auto record = load_from(name, file_id)) return std::move(*record);
      } catch (const Error&) {
        if (identify(file_) == file_id) throw;
        continue;
      }
      if (identify(file_) == file_id) break;
    }
    throw InputError(what + " does not exist" +
                     (fs::exists(file_) || fs::exists(sidecar_) ? "" : " (there is no file " + file_.string() + ")"));
  }

  std::vector<std::string> list() const override {
    refuse_folder();
    auto cache = read_cache();
    const Snapshot now = snapshot(cache);
    std::vector<const Held*> held;
    if (now.latest) held.push_back(&*now.latest);
    for (const auto& h : now.others)
      if (!now.latest || h.name != now.latest->name) held.push_back(&h);  // FILE's copy wins
    std::sort(held.begin(), held.end(),
              [](const Held* a, const Held* b) { return std::tie(a->seq, a->name) < std::tie(b->seq, b->name); });
    std::vector<std::string> names;
    for (const Held* h : held) names.push_back(h->name);
    return names;
  }

  void remove(const std::string& name) override {
    check_checkpoint_name(name);
    const std::string action = "removing checkpoint \"" + name + "\" from " + uri();
    if (!identify(file_) && !fs::exists(sidecar_)) return;
    try {
      const auto lock = begin_write();
      auto cache = read_cache();
      const Snapshot now = snapshot(cache);
      if (const Held* copy = now.other(name)) {
        if (::unlink(copy->path.c_str()) != 0 && errno != ENOENT) io_failure("cannot remove", copy->path, errno);
        fsync_path(sidecar_, true);
      }
      if (now.latest && now.latest->name == name) {
        // FILE keeps holding the latest checkpoint left: the newest of the sidecar's.
        const Held* newest = nullptr;
        for (const auto& h : now.others)
          if (h.name != name && (!newest || std::tie(h.seq, h.name) > std::tie(newest->seq, newest->name))) newest = &h;
        if (newest && ::rename(newest->path.c_str(), file_.c_str()) != 0) io_failure("cannot rename into", file_, errno);
        if (!newest && ::unlink(file_.c_str()) != 0) io_failure("cannot remove", file_, errno);
        fsync_path(file_.parent_path(), true);
        if (newest) fsync_path(sidecar_, true);
      }
      Cache live;  // the entries of the files held now: a crash's leftovers dropped
      const Snapshot after = snapshot(cache);
      if (after.latest) live.push_back(*after.latest);
      live.insert(live.end(), after.others.begin(), after.others.end());
      write_cache(live);
    } catch (const std::exception& e) {
      throw RuntimeFailure(action + " failed: " + e.what());
    }
  }

  Json read_index() const override {
    std::ifstream in(sidecar_ / kIndex, std::ios::binary);
    if (!in) return Json::object();
    const Json index = Json::parse(in, nullptr, false);
    return index.is_object() ? index : Json::object();  // an unreadable index: the list is the truth
  }

  void write_index(const Json& index) override {
    const fs::path tmp = sidecar_ / temporary_suffix();
    try {
      const auto lock = begin_write();
      make_sidecar();
      write_small_file(tmp, index.dump(), true);
      if (::rename(tmp.c_str(), (sidecar_ / kIndex).c_str()) != 0) io_failure("cannot rename into", sidecar_ / kIndex, errno);
      fsync_path(sidecar_, true);
    } catch (const std::exception& e) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw RuntimeFailure("writing the index of " + uri() + " failed: " + e.what());
    }
  }

  std::string uri() const override { return "hdf5:" + file_.string(); }

 private:
  // The sidecar's files end as FILE does (".keras", ".weights.h5", ".h5", ".hdf5"); a FILE named
  // otherwise stores legacy .h5 files named <name>.h5, so that index.json is never a checkpoint.
  static std::string sidecar_extension(const fs::path& file, KerasFormat format) {
    if (format == KerasFormat::archive) return ".keras";
    if (format == KerasFormat::weights_h5) return ".weights.h5";
    const std::string ext = file.extension().string();
    return ext == ".h5" || ext == ".hdf5" ? ext : ".h5";
  }

  fs::path sidecar_path(const std::string& name) const { return sidecar_ / (name + ext_); }

  void refuse_folder() const {
    std::error_code ec;
    if (fs::is_directory(file_, ec))
      throw InputError(uri() + " is a folder; an hdf5: location is a file (dir: stores checkpoints in a folder)");
  }

  // FILE's folder made, the writers' lock taken, dead writers' temporaries removed.
  std::unique_ptr<FolderLock> begin_write() const {
    refuse_folder();
    std::error_code ec;
    fs::create_directories(file_.parent_path(), ec);
    if (ec) throw RuntimeFailure("cannot create the folder " + file_.parent_path().string() + ": " + ec.message());
    auto lock = std::make_unique<FolderLock>(file_.parent_path());
    remove_stale_temporaries(file_.parent_path(), file_.filename().string() + ".tmp-");
    remove_stale_temporaries(sidecar_, ".tmp-");
    return lock;
  }

  // The sidecar is made only when it gets something to hold (a second checkpoint, the index): a
  // location of one checkpoint is one file, as Keras leaves it.
  void make_sidecar() const {
    std::error_code ec;
    fs::create_directories(sidecar_, ec);
    if (ec) throw RuntimeFailure("cannot create the folder " + sidecar_.string() + ": " + ec.message());
  }

  // Makes sidecar/<latest's name><ext> the file FILE is now (a hard link: O(1); a copy where the
  // file system refuses links), unless it already is.
  void keep_in_sidecar(const Held& latest, Cache& cache) const {
    make_sidecar();
    const fs::path dest = sidecar_path(latest.name);
    const auto there = identify(dest);
    if (there && there->same_inode(latest.id)) return;
    if (there) forget(cache, *there);  // an older copy (a crash after a save's rename): replaced
    const fs::path tmp = sidecar_ / (temporary_suffix() + ext_);
    if (::link(file_.c_str(), tmp.c_str()) != 0) {
      const int err = errno;
      if (err != EXDEV && err != EPERM && err != EMLINK && err != ENOTSUP) io_failure("cannot link", file_, err);
      std::error_code ec;
      if (!fs::copy_file(file_, tmp, ec) || ec) {
        fs::remove(tmp, ec);
        throw RuntimeFailure("cannot copy " + file_.string() + " to " + tmp.string() + ": " + ec.message());
      }
      fsync_path(tmp, false);
    }
    if (::rename(tmp.c_str(), dest.c_str()) != 0) {
      const int err = errno;
      ::unlink(tmp.c_str());
      io_failure("cannot rename into", dest, err);
    }
    fsync_path(sidecar_, true);
  }

  // The checkpoint from FILE (file_id: which file it is) when FILE holds it, else from the
  // sidecar; nothing when neither holds it.
  std::optional<CheckpointRecord> load_from(const std::string& name, const std::optional<FileId>& file_id) const {
    const fs::path side = sidecar_path(name);
    if (file_id) {
      const auto known = lookup(read_cache(), *file_id);
      if (!known || known->name == name) {
        try {
          StoredCheckpoint c = read_keras_file(file_, file_.string());
          if (c.name == name) return std::move(c.record);
        } catch (const Error&) {
          if (!identify(side)) throw;  // FILE is the only place the checkpoint could be
        }
      }
    }
    if (!identify(side)) return std::nullopt;
    // The user's own Keras file, kept aside by the first save, is still named as they gave it:
    // its record (and every message about it) reads as it did from FILE.
    return read_keras_file(side, name == kKerasCheckpointName ? file_.string() : side.string()).record;
  }

  // --- The save-order cache -------------------------------------------------------------------

  // The sidecar's cache file, with what this instance last knew (FILE alone has no cache file:
  // repeated saves to one file, ModelCheckpoint's, still need not read it back).
  Cache read_cache() const {
    Cache cache;
    std::ifstream in(sidecar_ / kOrderCache, std::ios::binary);
    const Json doc = in ? Json::parse(in, nullptr, false) : Json();
    if (doc.is_array()) {  // else torn, damaged or absent: every file is read instead
      for (const auto& e : doc) {
        if (!e.is_array() || e.size() != 6 || !e[4].is_string() || !e[5].is_number_integer()) continue;
        if (!std::all_of(e.begin(), e.begin() + 4, [](const Json& v) { return v.is_number_unsigned(); })) continue;
        cache.push_back({{}, {e[0].get<std::uint64_t>(), e[1].get<std::uint64_t>(), e[2].get<std::uint64_t>(),
                              e[3].get<std::uint64_t>()}, e[4].get<std::string>(), e[5].get<std::int64_t>()});
      }
    }
    for (const auto& h : known_)
      if (!lookup(cache, h.id)) cache.push_back(h);
    return cache;
  }

  static std::optional<Held> lookup(const Cache& cache, const FileId& id) {
    for (const auto& h : cache)
      if (h.id == id) return h;
    return std::nullopt;
  }

  static void forget(Cache& cache, const FileId& id) {
    std::erase_if(cache, [&](const Held& h) { return h.id.same_inode(id); });
  }

  static void remember(Cache& cache, const Held& held) {
    forget(cache, held.id);
    cache.push_back(held);
  }

  // Rewrites the cache. Advisory: not synced, a torn one is ignored, and failing to write it (a
  // full disk) fails nothing.
  void write_cache(const Cache& cache) const noexcept {
    known_ = cache;
    std::error_code ec;
    if (!fs::is_directory(sidecar_, ec)) return;  // FILE alone: no file for the cache
    try {
      write_cache_or_throw(cache);
    } catch (const std::exception&) {
      fs::remove(sidecar_ / kOrderCache, ec);  // not stale either: every file is read instead
    }
  }

  void write_cache_or_throw(const Cache& cache) const {
    Json doc = Json::array();
    for (const auto& h : cache) doc.push_back({h.id.device, h.id.inode, h.id.size, h.id.mtime_ns, h.name, h.seq});
    const fs::path tmp = sidecar_ / temporary_suffix();
    write_small_file(tmp, doc.dump(), false);
    if (::rename(tmp.c_str(), (sidecar_ / kOrderCache).c_str()) != 0) {
      ::unlink(tmp.c_str());
      io_failure("cannot rename into", sidecar_ / kOrderCache, errno);
    }
  }

  // What the file at path (identity id) holds: from the cache, else read (and cached in memory).
  Held held(const fs::path& path, const FileId& id, Cache& cache) const {
    if (auto known = lookup(cache, id)) {
      known->path = path;
      return *known;
    }
    const StoredCheckpoint c = read_keras_file_header(path, path.string());
    Held h{path, id, c.name, c.save_seq};
    remember(cache, h);
    return h;
  }

  // FILE and the sidecar's checkpoint files, read while FILE stayed the same file (a writer that
  // renames between the two reads makes it try again), names and save order from the cache.
  Snapshot snapshot(Cache& cache) const {
    std::optional<FileId> file_id;
    std::vector<std::pair<std::string, fs::path>> files;
    for (int attempt = 0; attempt < 20; ++attempt) {
      file_id = identify(file_);
      files.clear();
      std::error_code ec;
      for (const auto& entry : fs::directory_iterator(sidecar_, ec)) {
        const std::string leaf = entry.path().filename().string();
        if (leaf.empty() || leaf[0] == '.' || leaf.size() <= ext_.size() ||
            leaf.compare(leaf.size() - ext_.size(), ext_.size(), ext_) != 0)
          continue;
        files.emplace_back(leaf.substr(0, leaf.size() - ext_.size()), entry.path());
      }
      if (identify(file_) == file_id) break;
    }
    Snapshot now;
    if (file_id) now.latest = held(file_, *file_id, cache);
    for (const auto& [name, path] : files) {
      const auto id = identify(path);
      if (!id) continue;  // removed since the folder was read
      try {
        Held h = held(path, *id, cache);
        h.name = name;  // the file's name in the sidecar is the checkpoint's
        now.others.push_back(std::move(h));
      } catch (const Error&) {
        if (identify(path)) throw;
      }
    }
    return now;
  }

  static void write_small_file(const fs::path& path, const std::string& text, bool sync) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) io_failure("cannot create", path, errno);
    for (std::size_t done = 0; done < text.size();) {
      const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int err = n < 0 ? errno : ENOSPC;
        ::close(fd);
        ::unlink(path.c_str());
        io_failure("cannot write", path, err);
      }
      done += static_cast<std::size_t>(n);
    }
    if ((sync && ::fsync(fd) != 0) || ::close(fd) != 0) {
      const int err = errno;
      ::unlink(path.c_str());
      io_failure("cannot write", path, err);
    }
  }

  fs::path file_;
  fs::path sidecar_;
  mutable Cache known_;  // what this instance last wrote or read (identities, so never stale)
  KerasFormat format_;
  std::string ext_;
};

void register_types(Registrar& registrar) { registrar.add_checkpoint_backend<Hdf5Backend>("hdf5"); }

}  // namespace

PLUGFIT_PLUGIN_DESCRIBED("hdf5_backend", "0.2.0",
                         "hdf5: one Keras file per checkpoint (.h5, .weights.h5, .keras), the latest at FILE; "
                         "reads the files Keras saved",
                         register_types)
