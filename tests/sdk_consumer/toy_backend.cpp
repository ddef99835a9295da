#include "toy_backend.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <utility>

#include <plugfit/npy.hpp>

namespace acme {

using namespace plugfit;
namespace fs = std::filesystem;

namespace {

static_assert(std::endian::native == std::endian::little, "the file format is little-endian");

constexpr char kMagic[8] = {'a', 'c', 'm', 'e', 't', 'o', 'y', 2};  // 2: tensors as .npy blobs
constexpr std::size_t kHeader = 32;
constexpr const char* kSuffix = ".ckpt";

std::atomic<unsigned> temp_counter{0};

[[noreturn]] void io_failure(const std::string& action, const std::string& what, const fs::path& path, int err) {
  throw RuntimeFailure(action + " failed: " + what + " " + path.string() + ": " + std::strerror(err));
}

// An open file descriptor, closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now, reporting the error (close can report a failed write-back).
  int close() {
    const int fd = std::exchange(fd_, -1);
    return fd >= 0 ? ::close(fd) : 0;
  }

 private:
  int fd_;
};

void write_all(int fd, const void* data, std::size_t size, const std::string& action, const fs::path& path) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) io_failure(action, "cannot write", path, errno);
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

// Reads size bytes at the current offset; false at a premature end of file.
bool read_all(int fd, void* data, std::size_t size, const std::string& action, const fs::path& path) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) io_failure(action, "cannot read", path, errno);
    if (n == 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

void fsync_folder(const fs::path& folder, const std::string& action) {
  Fd fd(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) io_failure(action, "cannot open the folder", folder, errno);
  if (::fsync(fd.get()) != 0 && errno != EINVAL) io_failure(action, "cannot flush the folder", folder, errno);
}

template <class T>
T read_le(const char* p) {
  T value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

template <class T>
void put_le(char* p, T value) {
  std::memcpy(p, &value, sizeof value);
}

std::uint32_t crc_of(const void* data, std::size_t size, std::uint32_t seed) {
  return size == 0 ? seed : crc32_of(data, size, seed);
}

// Holds the folder's writer lock (FOLDER/.lock) while alive.
class WriterLock {
 public:
  WriterLock(const fs::path& folder, const std::string& action)
      : fd_(::open((folder / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
    if (fd_.get() < 0) io_failure(action, "cannot open the lock file", folder / ".lock", errno);
    while (::flock(fd_.get(), LOCK_EX) != 0)
      if (errno != EINTR) io_failure(action, "cannot lock", folder / ".lock", errno);
  }

 private:
  Fd fd_;
};

bool process_alive(long pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

// The sequence number in a checkpoint file's header; 0 (oldest) when it has none.
std::uint64_t seq_of(const fs::path& file) {
  Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  char header[kHeader];
  if (fd.get() < 0 || ::pread(fd.get(), header, kHeader, 0) != static_cast<ssize_t>(kHeader) ||
      std::memcmp(header, kMagic, sizeof kMagic) != 0)
    return 0;
  return read_le<std::uint64_t>(header + 16);
}

}  // namespace

ToyBackend::ToyBackend(Config& config) : ToyBackend(fs::path(config.require<std::string>("path"))) {}

ToyBackend::ToyBackend(const fs::path& folder) : folder_(fs::absolute(folder).lexically_normal()) {
  if (folder_.filename().empty()) folder_ = folder_.parent_path();  // "toy:out/" is the folder out
  std::error_code ec;
  if (fs::exists(folder_, ec) && !fs::is_directory(folder_, ec))
    throw InputError(uri() + " is a file; a toy: location is a folder holding one file per checkpoint");
}

void ToyBackend::make_folder(const std::string& action) const {
  std::error_code ec;
  fs::create_directories(folder_, ec);
  if (ec) throw RuntimeFailure(action + " failed: cannot create the folder " + folder_.string() + ": " + ec.message());
}

template <class Write>
void ToyBackend::replace_file(const fs::path& target, const std::string& action, Write write) {
  const fs::path tmp = folder_ / (".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(temp_counter++));
  try {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (fd.get() < 0) io_failure(action, "cannot create", tmp, errno);
    write(fd.get(), tmp);
    if (::fsync(fd.get()) != 0) io_failure(action, "cannot flush", tmp, errno);
    if (fd.close() != 0) io_failure(action, "cannot close", tmp, errno);
    if (::rename(tmp.c_str(), target.c_str()) != 0) io_failure(action, "cannot rename over", target, errno);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  fsync_folder(folder_, action);
}

// The next save sequence number: one more than FOLDER/.seq's (or than every file's, when .seq is
// missing or damaged), recorded durably before the checkpoint is written, so that a crash can only
// skip a number, never hand one out twice. The caller holds the writer lock.
std::uint64_t ToyBackend::next_seq() {
  const fs::path counter = folder_ / ".seq";
  std::uint64_t last = 0;
  bool known = false;
  {
    Fd fd(::open(counter.c_str(), O_RDONLY | O_CLOEXEC));
    char bytes[12];
    if (fd.get() >= 0 && ::pread(fd.get(), bytes, sizeof bytes, 0) == static_cast<ssize_t>(sizeof bytes) &&
        crc32_of(bytes, 8) == read_le<std::uint32_t>(bytes + 8)) {
      last = read_le<std::uint64_t>(bytes);
      known = true;
    }
  }
  if (!known) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(folder_, ec)) {
      const std::string file = entry.path().filename().string();
      if (file[0] != '.' && entry.path().extension() == kSuffix) last = std::max(last, seq_of(entry.path()));
    }
  }
  const std::uint64_t seq = last + 1;
  char bytes[12];
  put_le(bytes, seq);
  put_le(bytes + 8, crc32_of(bytes, 8));
  const std::string action = "numbering a save in " + uri();
  Fd fd(::open(counter.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) io_failure(action, "cannot open", counter, errno);
  if (::pwrite(fd.get(), bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes))
    io_failure(action, "cannot write", counter, errno);
  if (::fsync(fd.get()) != 0) io_failure(action, "cannot flush", counter, errno);
  return seq;
}

void ToyBackend::remove_stale_temporaries() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder_, ec)) {
    const std::string file = entry.path().filename().string();
    if (file.rfind(".tmp-", 0) != 0) continue;
    if (!process_alive(std::strtol(file.c_str() + 5, nullptr, 10))) fs::remove(entry.path(), ec);
  }
}

void ToyBackend::save(const std::string& name, const CheckpointRecord& record) {
  check_checkpoint_name(name);
  const std::string action = "saving checkpoint \"" + name + "\" to " + uri();
  // Each tensor is stored as a whole .npy file (the SDK's codec), listed as [name, its bytes].
  Json manifest = Json::array();
  std::vector<std::string> preambles;
  std::uint64_t data_bytes = 0;
  for (const auto& t : record.tensors) {
    if (shape_size(t.shape) != t.values.size())
      throw InputError(action + " failed: tensor \"" + t.name + "\" has " + std::to_string(t.values.size()) +
                       " values for shape " + full_shape_str(t.shape));
    preambles.push_back(npy::preamble(t.shape));
    const std::uint64_t bytes = preambles.back().size() + t.values.size() * sizeof(float);
    manifest.push_back({t.name, bytes});
    data_bytes += bytes;
  }
  std::string json;
  try {
    json = Json{{"name", name}, {"info", record.info}, {"tensors", manifest}}.dump();
  } catch (const nlohmann::json::exception& e) {
    throw RuntimeFailure(action + " failed: its info is not valid JSON text (" + e.what() + ")");
  }
  if (json.size() > UINT32_MAX) throw RuntimeFailure(action + " failed: its info is over 4 GB of JSON");

  make_folder(action);
  const WriterLock lock(folder_, action);
  if (!cleaned_) {
    remove_stale_temporaries();
    cleaned_ = true;
  }
  const std::uint64_t seq = next_seq();
  replace_file(file_of(name), action, [&](int fd, const fs::path& tmp) {
    char header[kHeader];
    std::memcpy(header, kMagic, sizeof kMagic);
    put_le(header + 12, static_cast<std::uint32_t>(json.size()));
    put_le(header + 16, seq);
    put_le(header + 24, data_bytes);
    std::uint32_t crc = crc_of(header + 12, kHeader - 12, 0);
    crc = crc_of(json.data(), json.size(), crc);
    for (std::size_t i = 0; i < record.tensors.size(); ++i) {
      crc = crc_of(preambles[i].data(), preambles[i].size(), crc);
      crc = crc_of(record.tensors[i].values.data(), record.tensors[i].values.size() * sizeof(float), crc);
    }
    put_le(header + 8, crc);
    write_all(fd, header, kHeader, action, tmp);
    write_all(fd, json.data(), json.size(), action, tmp);
    for (std::size_t i = 0; i < record.tensors.size(); ++i) {
      write_all(fd, preambles[i].data(), preambles[i].size(), action, tmp);
      write_all(fd, record.tensors[i].values.data(), record.tensors[i].values.size() * sizeof(float), action, tmp);
    }
  });
}

CheckpointRecord ToyBackend::load(const std::string& name) const {
  check_checkpoint_name(name);
  const std::string what = "checkpoint \"" + name + "\" in " + uri();
  const std::string action = "loading " + what;
  const fs::path file = file_of(name);
  Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0 && errno == ENOENT) throw InputError(what + " does not exist");
  if (fd.get() < 0) io_failure(action, "cannot open", file, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) io_failure(action, "cannot stat", file, errno);
  const auto size = static_cast<std::uint64_t>(st.st_size);

  char header[kHeader];
  if (size < kHeader || !read_all(fd.get(), header, kHeader, action, file))
    throw CheckpointCorrupt(what + " is corrupt: " + file.string() + " is truncated (" + std::to_string(size) + " bytes)");
  if (std::memcmp(header, kMagic, sizeof kMagic) != 0)
    throw CheckpointCorrupt(what + " is corrupt: " + file.string() + " is not a toy checkpoint file (bad magic)");
  const auto json_bytes = read_le<std::uint32_t>(header + 12);
  const auto data_bytes = read_le<std::uint64_t>(header + 24);
  if (data_bytes > size || size != kHeader + json_bytes + data_bytes)
    throw CheckpointCorrupt(what + " is corrupt: " + file.string() + " holds " + std::to_string(size) +
                            " bytes, its header says " + std::to_string(kHeader + json_bytes + data_bytes) +
                            " (truncated?)");
  std::string json(json_bytes, '\0');
  if (!read_all(fd.get(), json.data(), json.size(), action, file))
    throw CheckpointCorrupt(what + " is corrupt: " + file.string() + " is truncated");
  std::uint32_t crc = crc_of(header + 12, kHeader - 12, 0);
  crc = crc_of(json.data(), json.size(), crc);

  // Until the CRC is checked, the JSON is only trusted as far as the file's size bounds it.
  Json meta;
  CheckpointRecord record;
  std::vector<std::string> blobs;
  std::uint64_t described = 0;
  try {
    meta = Json::parse(json);
    for (const auto& entry : meta.at("tensors")) {
      const auto bytes = entry.at(1).get<std::uint64_t>();
      if (bytes > data_bytes || described + bytes > data_bytes) throw std::length_error("");
      described += bytes;
      record.tensors.push_back({entry.at(0).get<std::string>(), {}, {}});
    }
  } catch (const std::exception&) {
    throw CheckpointCorrupt(what + " is corrupt: its JSON does not parse or does not describe its data");
  }
  if (described != data_bytes) throw CheckpointCorrupt(what + " is corrupt: its JSON does not describe its data");
  for (const auto& entry : meta.at("tensors")) {
    std::string blob(entry.at(1).get<std::uint64_t>(), '\0');
    if (!read_all(fd.get(), blob.data(), blob.size(), action, file))
      throw CheckpointCorrupt(what + " is corrupt: " + file.string() + " is truncated");
    crc = crc_of(blob.data(), blob.size(), crc);
    blobs.push_back(std::move(blob));
  }
  if (crc != read_le<std::uint32_t>(header + 8))
    throw CheckpointCorrupt(what + " is corrupt: " + file.string() + " fails its CRC-32");
  // The codec checks each blob's header, dtype and size; a refusal here is corruption.
  for (std::size_t i = 0; i < blobs.size(); ++i) {
    NamedTensor& t = record.tensors[i];
    try {
      t.shape = npy::decode_values(blobs[i], what + ": tensor \"" + t.name + "\"", t.values);
    } catch (const InputError& e) {
      throw CheckpointCorrupt(std::string(e.what()));
    }
  }
  if (!meta.contains("name") || meta["name"] != name || !meta.contains("info"))
    throw CheckpointCorrupt(what + " is corrupt: " + file.string() + " holds checkpoint " +
                            meta.value("name", Json()).dump());
  record.info = std::move(meta["info"]);
  return record;
}

std::vector<std::string> ToyBackend::list() const {
  std::vector<std::pair<std::uint64_t, std::string>> found;
  std::error_code ec;
  for (fs::directory_iterator it(folder_, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& path = it->path();
    const std::string file = path.filename().string();
    if (file[0] == '.' || path.extension() != kSuffix) continue;
    found.emplace_back(seq_of(path), file.substr(0, file.size() - std::strlen(kSuffix)));
  }
  if (ec && ec != std::errc::no_such_file_or_directory)
    throw RuntimeFailure("listing the checkpoints in " + uri() + " failed: " + ec.message());
  std::sort(found.begin(), found.end());
  std::vector<std::string> names;
  for (auto& [seq, name] : found) names.push_back(std::move(name));
  return names;
}

void ToyBackend::remove(const std::string& name) {
  check_checkpoint_name(name);
  const std::string action = "removing checkpoint \"" + name + "\" from " + uri();
  if (::unlink(file_of(name).c_str()) != 0) {
    if (errno == ENOENT) return;
    io_failure(action, "cannot remove", file_of(name), errno);
  }
  fsync_folder(folder_, action);
}

Json ToyBackend::read_index() const {
  Fd fd(::open((folder_ / ".index.json").c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Json::object();
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd.get(), buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Json::object();
    text.append(buffer, static_cast<std::size_t>(n));
  }
  const Json index = Json::parse(text, nullptr, false);
  return index.is_discarded() ? Json::object() : index;  // unreadable: the list is the truth
}

void ToyBackend::write_index(const Json& index) {
  const std::string action = "writing the index of " + uri();
  const std::string text = index.dump();
  make_folder(action);
  replace_file(folder_ / ".index.json", action,
               [&](int fd, const fs::path& tmp) { write_all(fd, text.data(), text.size(), action, tmp); });
}

void register_toy_backend(Registrar& registrar) { registrar.add_checkpoint_backend<ToyBackend>("toy"); }

}  // namespace acme
