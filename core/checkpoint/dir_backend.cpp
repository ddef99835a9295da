#include "dir_backend.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <string_view>

#include <plugfit/npy.hpp>

#include "../util/atomic_file.hpp"

namespace plugfit {

namespace fs = std::filesystem;

namespace {

constexpr int kFormat = 1;
std::atomic<unsigned> save_counter{0};

[[noreturn]] void io_failure(const std::string& what, const fs::path& path, int err) {
  throw RuntimeFailure(what + " " + path.string() + ": " + std::strerror(err));
}

// Writes the buffers to a new file and starts its writeback; returns the open descriptor. The
// caller makes it durable with sync_all(): writeback of one file then overlaps with checksumming
// and writing the next, instead of each fsync waiting for the disk in turn.
int write_file_started(const fs::path& path, std::initializer_list<std::pair<const void*, std::size_t>> parts) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) io_failure("cannot create", path, errno);
  std::vector<iovec> iov;
  for (const auto& [data, size] : parts)
    if (size > 0) iov.push_back({const_cast<void*>(data), size});
  std::size_t index = 0;
  while (index < iov.size()) {
    const ssize_t n = ::writev(fd, iov.data() + index, static_cast<int>(std::min<std::size_t>(iov.size() - index, IOV_MAX)));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      io_failure("cannot write", path, err);
    }
    auto left = static_cast<std::size_t>(n);
    while (index < iov.size() && left >= iov[index].iov_len) left -= iov[index++].iov_len;
    if (index < iov.size()) {
      iov[index].iov_base = static_cast<char*>(iov[index].iov_base) + left;
      iov[index].iov_len -= left;
    }
  }
  ::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  return fd;
}

// fsyncs and closes every descriptor, several at a time (each fsync mostly waits on the disk),
// and throws for the first that failed once all are closed.
void sync_all(std::vector<std::pair<int, fs::path>>& files) {
  std::atomic<std::size_t> next{0};
  std::vector<int> errors(files.size(), 0);
  auto work = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < files.size();)
      if (::fsync(files[i].first) != 0 && errno != EINVAL) errors[i] = errno;
  };
  std::vector<std::thread> pool;
  const std::size_t threads = std::min<std::size_t>(8, files.size());
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  for (auto& [fd, path] : files) ::close(fd);
  auto taken = std::move(files);
  files.clear();
  for (std::size_t i = 0; i < taken.size(); ++i)
    if (errors[i] != 0) io_failure("cannot flush", taken[i].second, errors[i]);
}

// Writes a whole file durably (for the small index).
int open_folder(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) io_failure("cannot open folder", dir, errno);
  return fd;
}

void fsync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) io_failure("cannot open folder", dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL) io_failure("cannot flush folder", dir, err);
}

// A file below an open folder (AT_FDCWD: any path), or nullopt when it is gone (a concurrent
// save replaced the folder). Only a regular file is read: the open does not wait (O_NONBLOCK: a
// FIFO cannot hang a load) and a last component that is a symlink is refused (O_NOFOLLOW).
// shown: how messages name the file (rel by default).
std::optional<std::string> read_file_at(int dir_fd, const std::string& rel, const std::string& what,
                                        const std::string& shown = "") {
  const std::string& name = shown.empty() ? rel : shown;
  const int fd = ::openat(dir_fd, rel.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    if (errno == ELOOP) throw CheckpointCorrupt(what + ": " + name + " is a symbolic link, not a file of the checkpoint");
    throw CheckpointCorrupt(what + ": cannot read " + name + " (" + std::strerror(errno) + ")");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw CheckpointCorrupt(what + ": " + name + " is not a regular file");
  }
  std::string data(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < data.size()) {
    const ssize_t n = ::read(fd, data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  data.resize(got);
  return data;
}

// A file the manifest names: a relative path inside the checkpoint's folder, each folder on the
// way opened without following symlinks, so nothing the manifest says reaches outside it.
std::optional<std::string> read_manifest_file(int folder_fd, const std::string& rel, const std::string& what) {
  std::vector<std::string> parts;
  for (std::size_t start = 0; start <= rel.size();) {
    const std::size_t end = std::min(rel.find('/', start), rel.size());
    parts.push_back(rel.substr(start, end - start));
    start = end + 1;
  }
  for (const auto& part : parts)
    if (part.empty() || part == "." || part == "..")
      throw CheckpointCorrupt(what + " is corrupt: its manifest names \"" + rel + "\", a path outside its folder");
  int dir = folder_fd;
  std::vector<int> opened;
  struct CloseAll {
    std::vector<int>& fds;
    ~CloseAll() {
      for (int fd : fds) ::close(fd);
    }
  } close_all{opened};
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    dir = ::openat(dir, parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0) {
      if (errno == ENOENT) return std::nullopt;
      throw CheckpointCorrupt(what + ": cannot read " + rel + " (" + parts[i] + ": " +
                              (errno == ELOOP || errno == ENOTDIR ? std::string("not a folder of the checkpoint")
                                                                  : std::string(std::strerror(errno))) +
                              ")");
    }
    opened.push_back(dir);
  }
  return read_file_at(dir, parts.back(), what, rel);
}

std::string read_file(const fs::path& path, const std::string& what) {
  auto data = read_file_at(AT_FDCWD, path.string(), what);
  if (!data) throw CheckpointCorrupt(what + ": " + path.filename().string() + " does not exist");
  return std::move(*data);
}

// Closes a folder descriptor on every path out.
struct FolderFd {
  int fd;
  ~FolderFd() {
    if (fd >= 0) ::close(fd);
  }
};

// "weights/dense/kernel" -> "tensors/weights/dense/kernel.npy"; refuses names that would leave
// the checkpoint's folder.
fs::path tensor_path(const std::string& name) {
  fs::path rel("tensors");
  std::size_t start = 0;
  while (start <= name.size()) {
    const std::size_t end = std::min(name.find('/', start), name.size());
    const std::string part = name.substr(start, end - start);
    if (part.empty() || part == "." || part == "..")
      throw InputError("tensor name \"" + name + "\" has an empty, \".\" or \"..\" component");
    rel /= part;
    start = end + 1;
  }
  return rel.replace_extension(rel.extension().string() + ".npy");
}

Json manifest_body(const Json& manifest) {
  Json body = manifest;
  body.erase("manifest_crc32");
  return body;
}

// A tensor file of a checkpoint: float32 as written by npy::preamble; anything the codec refuses,
// or another dtype, is corruption here.
NamedTensor read_tensor(const std::string& name, const std::string& bytes, const std::string& what) {
  NamedTensor tensor{name, {}, {}};
  npy::DType stored = npy::DType::float32;
  try {
    tensor.shape = npy::decode_values(bytes, what, tensor.values, &stored);
  } catch (const InputError& e) {
    throw CheckpointCorrupt(e.what());
  }
  if (stored != npy::DType::float32)
    throw CheckpointCorrupt(what + " holds '" + npy::dtype_name(stored) + "' data, not float32");
  return tensor;
}

bool process_alive(long pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

// plugfit's own temporary folders are named .tmp-NAME-PID-N.plugfit and .trash-NAME-PID-N.plugfit,
// so that the clean-up never touches a user's file that merely looks alike.
constexpr std::string_view kTemporarySuffix = ".plugfit";

std::string unique_suffix() {
  return std::to_string(::getpid()) + "-" + std::to_string(save_counter.fetch_add(1)) + std::string(kTemporarySuffix);
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The PID of a temporary folder plugfit made, or 0 when NAME is not one.
long temporary_owner(std::string_view name) {
  if (!name.starts_with(".tmp-") && !name.starts_with(".trash-")) return 0;
  if (!name.ends_with(kTemporarySuffix)) return 0;
  name.remove_suffix(kTemporarySuffix.size());
  const auto last = name.rfind('-');
  if (last == std::string_view::npos || last == 0 || !all_digits(name.substr(last + 1))) return 0;
  const auto before = name.rfind('-', last - 1);
  if (before == std::string_view::npos) return 0;
  const std::string_view pid = name.substr(before + 1, last - before - 1);
  return all_digits(pid) && pid.size() < 10 ? std::stol(std::string(pid)) : 0;
}

// Removes the temporary folders left by processes that are gone (a folder, never a symlink).
void remove_stale(const fs::path& root) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const long pid = temporary_owner(entry.path().filename().string());
    if (pid == 0 || !entry.is_directory(ec) || entry.is_symlink(ec)) continue;
    if (!process_alive(pid)) fs::remove_all(entry.path(), ec);
  }
}

}  // namespace

DirBackend::DirBackend(Config& config) : DirBackend(fs::path(config.require<std::string>("path"))) {}

DirBackend::DirBackend(fs::path root) : root_(fs::absolute(std::move(root)).lexically_normal()) {
  if (root_.filename().empty()) root_ = root_.parent_path();
  std::error_code ec;
  if (fs::is_regular_file(root_, ec))  // else list() would report no checkpoints in it
    throw InputError("the dir: location " + root_.string() +
                     " is a file, not a folder (a dir: location is a folder of checkpoints; give a Keras file as "
                     "hdf5:FILE)");
}

void DirBackend::save(const std::string& name, const CheckpointRecord& record) {
  check_checkpoint_name(name);
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec) throw RuntimeFailure("cannot create the checkpoint folder " + root_.string() + ": " + ec.message());
  remove_stale(root_);
  const fs::path tmp = root_ / (".tmp-" + name + "-" + unique_suffix());
  const fs::path target = root_ / name;
  try {
    fs::create_directory(tmp);
    std::vector<std::pair<int, fs::path>> pending;  // written, not yet durable
    struct CloseOnError {
      std::vector<std::pair<int, fs::path>>& files;
      ~CloseOnError() {
        for (auto& [fd, path] : files) ::close(fd);
      }
    } close_on_error{pending};
    Json files = Json::array();
    Json tensors = Json::array();
    auto add_file = [&](const fs::path& rel, std::initializer_list<std::pair<const void*, std::size_t>> parts) {
      fs::create_directories((tmp / rel).parent_path());
      pending.emplace_back(write_file_started(tmp / rel, parts), tmp / rel);
      if (pending.size() >= 256) sync_all(pending);  // bound the descriptors held open
      std::uint32_t crc = 0;
      std::size_t size = 0;
      for (const auto& [data, bytes] : parts) crc = crc32_of(data, bytes, crc), size += bytes;
      files.push_back({{"path", rel.string()}, {"size", size}, {"crc32", crc}});
    };
    const std::string info = record.info.dump();
    add_file("info.json", {{info.data(), info.size()}});
    for (const auto& t : record.tensors) {
      if (shape_size(t.shape) != t.values.size())
        throw InputError("tensor \"" + t.name + "\" has " + std::to_string(t.values.size()) + " values for shape " +
                         full_shape_str(t.shape));
      const fs::path rel = tensor_path(t.name);
      const std::string preamble = npy::preamble(t.shape);
      add_file(rel, {{preamble.data(), preamble.size()}, {t.values.data(), t.values.size() * sizeof(float)}});
      tensors.push_back({{"name", t.name}, {"path", rel.string()}});
    }
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    Json manifest = {{"format", kFormat},
                     {"name", name},
                     {"saved_ns", std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()},
                     {"files", files},
                     {"tensors", tensors}};
    manifest["manifest_crc32"] = crc32_of(manifest_body(manifest).dump().data(), manifest_body(manifest).dump().size());
    const std::string text = manifest.dump(1);
    pending.emplace_back(write_file_started(tmp / "manifest.json", {{text.data(), text.size()}}), tmp / "manifest.json");
    // Every file and folder is durable before the rename makes the checkpoint visible.
    for (const auto& entry : fs::recursive_directory_iterator(tmp))
      if (entry.is_directory()) pending.emplace_back(open_folder(entry.path()), entry.path());
    pending.emplace_back(open_folder(tmp), tmp);
    sync_all(pending);

    if (fs::exists(target)) {
      // Swap the new folder in atomically; the old contents end up in tmp and go.
      if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) != 0)
        io_failure("cannot replace", target, errno);
      fsync_dir(root_);
      fs::remove_all(tmp, ec);
    } else {
      if (::rename(tmp.c_str(), target.c_str()) != 0) io_failure("cannot rename into", target, errno);
      fsync_dir(root_);
    }
  } catch (const Error& e) {
    fs::remove_all(tmp, ec);
    throw RuntimeFailure("saving checkpoint \"" + name + "\" to " + uri() + " failed: " + e.what());
  } catch (const std::exception& e) {
    fs::remove_all(tmp, ec);
    throw RuntimeFailure("saving checkpoint \"" + name + "\" to " + uri() + " failed: " + e.what());
  }
}

CheckpointRecord DirBackend::load(const std::string& name) const {
  check_checkpoint_name(name);
  const fs::path dir = root_ / name;
  const std::string what = "checkpoint \"" + name + "\" in " + uri();
  // Reading through one folder descriptor pins one generation of the checkpoint: a concurrent
  // save that swaps a new folder in cannot mix its files into ours. If ours is deleted while we
  // read, a file goes missing, and the load starts over on the new generation.
  for (int attempt = 0; attempt < 8; ++attempt) {
    const FolderFd folder{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (folder.fd < 0) {
      if (errno == ENOENT) throw InputError(what + " does not exist");
      throw CheckpointCorrupt(what + ": cannot open it (" + std::strerror(errno) + ")");
    }
    std::optional<CheckpointRecord> record = load_generation(folder.fd, what);
    if (record) return std::move(*record);
  }
  throw CheckpointCorrupt(what + " kept changing while it was read");
}

std::optional<CheckpointRecord> DirBackend::load_generation(int folder_fd, const std::string& what) const {
  const auto manifest_text = read_file_at(folder_fd, "manifest.json", what);
  if (!manifest_text) return std::nullopt;
  Json manifest;
  try {
    manifest = Json::parse(*manifest_text);
  } catch (const nlohmann::json::exception&) {
    throw CheckpointCorrupt(what + " is corrupt: its manifest does not parse");
  }
  const std::string body = manifest_body(manifest).dump();
  if (manifest.value("manifest_crc32", std::uint32_t{0}) != crc32_of(body.data(), body.size()))
    throw CheckpointCorrupt(what + " is corrupt: its manifest fails its checksum");
  if (manifest.value("format", 0) != kFormat)
    throw CheckpointCorrupt(what + " has format " + std::to_string(manifest.value("format", 0)) +
                            ", this plugfit reads format " + std::to_string(kFormat));
  std::map<std::string, std::string> contents;
  for (const auto& f : manifest.at("files")) {
    const std::string rel = f.at("path").get<std::string>();
    auto bytes = read_manifest_file(folder_fd, rel, what);
    if (!bytes) return std::nullopt;
    if (bytes->size() != f.at("size").get<std::size_t>())
      throw CheckpointCorrupt(what + " is corrupt: " + rel + " has " + std::to_string(bytes->size()) +
                              " bytes, the manifest says " + std::to_string(f.at("size").get<std::size_t>()) +
                              " (truncated?)");
    if (crc32_of(bytes->data(), bytes->size()) != f.at("crc32").get<std::uint32_t>())
      throw CheckpointCorrupt(what + " is corrupt: " + rel + " fails its checksum");
    contents.emplace(rel, std::move(*bytes));
  }
  CheckpointRecord record;
  try {
    record.info = Json::parse(contents.at("info.json"));
  } catch (const std::exception&) {
    throw CheckpointCorrupt(what + " is corrupt: info.json does not parse");
  }
  for (const auto& t : manifest.at("tensors")) {
    const std::string rel = t.at("path").get<std::string>();
    auto it = contents.find(rel);
    if (it == contents.end()) throw CheckpointCorrupt(what + " is corrupt: " + rel + " is not in its manifest");
    record.tensors.push_back(read_tensor(t.at("name").get<std::string>(), it->second, what + ": " + rel));
  }
  return record;
}

std::vector<std::string> DirBackend::list() const {
  std::vector<std::pair<std::int64_t, std::string>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.front() == '.' || !entry.is_directory()) continue;
    std::int64_t saved = 0;  // an unreadable manifest sorts first: oldest
    try {
      saved = Json::parse(read_file(entry.path() / "manifest.json", name)).value("saved_ns", std::int64_t{0});
    } catch (const std::exception&) {
      if (!fs::exists(entry.path() / "manifest.json")) continue;  // not a checkpoint
    }
    found.emplace_back(saved, name);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> names;
  for (auto& [saved, name] : found) names.push_back(std::move(name));
  return names;
}

void DirBackend::remove(const std::string& name) {
  check_checkpoint_name(name);
  const fs::path dir = root_ / name;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  // Rename first, so that a crash mid-delete never leaves a half-deleted checkpoint listed.
  const fs::path trash = root_ / (".trash-" + name + "-" + unique_suffix());
  if (::rename(dir.c_str(), trash.c_str()) != 0) io_failure("cannot remove", dir, errno);
  fsync_dir(root_);
  fs::remove_all(trash, ec);
}

Json DirBackend::read_index() const {
  try {
    return Json::parse(read_file(root_ / "index.json", "index"));
  } catch (const std::exception&) {
    return Json::object();  // no index, or an unreadable one: the list is the truth
  }
}

void DirBackend::write_index(const Json& index) {
  std::error_code ec;
  fs::create_directories(root_, ec);
  const fs::path path = root_ / "index.json";
  if (const std::string why = write_file_atomically(path.string(), index.dump(1), FileDurability::kSynced); !why.empty())
    throw RuntimeFailure("cannot write " + path.string() + ": " + why);
}

}  // namespace plugfit
