// sqlite_backend: every checkpoint of a run in one SQLite database, for URIs "sqlite:FILE.db" (a
// relative FILE is relative to the working directory). Written against the SDK and sqlite3.h only;
// registers the checkpoint backend "sqlite".
//
// Contract (plugfit/checkpoint.hpp's, in SQLite terms):
//   save    one transaction (BEGIN IMMEDIATE; delete the name's old rows; insert; COMMIT) with
//           synchronous=FULL: after a crash the database holds the old record or the new one, never
//           a mix. A failure (disk full, file-size limit, I/O error) rolls back, keeping the previous
//           record, and is a RuntimeFailure naming the file.
//   load    one read transaction, so it sees a whole record while another process saves. Every part
//           is checked against its CRC-32: a mismatch, a missing tensor row, or an SQLite corruption
//           error (malformed or truncated file) is CheckpointCorrupt naming checkpoint, part and URI.
//   list    ordered by seq, which each save makes the largest: oldest save first.
//   Reading a database that does not exist creates nothing: list() is empty, read_index() is {},
//   load() is InputError "does not exist". The first save creates the folder too (as dir: does).
// Layout (PRAGMA user_version 1, application_id "PLFT"; a newer user_version is an InputError):
//   checkpoints(name PRIMARY KEY, seq, saved_ns, info JSON, info_crc, tensor_count)
//   tensors(checkpoint, position, name, shape JSON list, crc, data raw little-endian float32,
//           PRIMARY KEY(checkpoint, position))
//   meta(key PRIMARY KEY, value): key "index" holds the index document
//   info_crc = CRC-32 of name NUL info NUL tensor_count; crc = CRC-32 of name NUL shape NUL data.
// WAL journal, so that readers (`plugfit inspect`) and the writer never block each other; a busy
// timeout of 10 s for concurrent writers. One connection per backend object, opened on first use and
// guarded by a mutex. A connection belongs to the process that opened it (SQLite connections do not
// survive fork()): a forked child opens its own backend, best before the parent opens any.
// WAL checkpoints: not inside save() (SQLite's automatic checkpoint would copy every byte a second
// time, and fsync it, before the save returns). After each write commits, a background thread
// copies the WAL into the database on a connection of its own (PASSIVE, then TRUNCATE if no reader
// or writer is in the way). The committed data is already durable in the WAL, so a failed
// checkpoint is a warning on stderr, not an error. A save first waits for a running checkpoint, so
// the WAL holds at most one save's frames (plus small writes since) and cannot grow without bound.
// The thread belongs to the process that started it: a forked child never joins it.
// Writeback: the files are opened through a thin VFS shim that starts writeback (Linux
// sync_file_range, no wait) every 8 MB written, so that the fsync at commit finds little left to do.
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <plugfit/sdk.hpp>

namespace {

using namespace plugfit;
namespace fs = std::filesystem;

static_assert(std::endian::native == std::endian::little, "tensor data is stored as raw little-endian float32");

constexpr int kSchemaVersion = 1;
constexpr int kApplicationId = 0x504C4654;  // "PLFT": marks the file as plugfit's for `file` and for us
// Big pages: a 120 MB tensor is 2k overflow pages and WAL frames instead of 30k.
constexpr int kPageSize = 65536;
constexpr int kBusyTimeoutMs = 10000;

// The writeback VFS: SQLite's default VFS, with writeback of the main database and WAL files
// started every kWritebackStep bytes of a contiguous run of writes. Each wrapped file is our File
// followed by the default VFS's own.
namespace writeback {

constexpr sqlite3_int64 kWritebackStep = 8 << 20;

struct File {
  sqlite3_file base;
  int fd;  // a second descriptor of the file for sync_file_range, or -1
  sqlite3_int64 from, to;  // the run of writes not yet sent to writeback
  sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
};
static_assert(sizeof(File) % 8 == 0, "the real file that follows must stay aligned");

sqlite3_vfs* g_real = nullptr;
sqlite3_vfs g_vfs;
sqlite3_io_methods g_methods[3];  // for real files of io_methods version 1, 2 and 3

File* self(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
sqlite3_file* real(sqlite3_file* f) { return self(f)->real(); }
const sqlite3_io_methods* r(sqlite3_file* f) { return real(f)->pMethods; }

int xClose(sqlite3_file* f) {
  if (self(f)->fd >= 0) ::close(self(f)->fd);
  return r(f)->xClose(real(f));
}
int xRead(sqlite3_file* f, void* b, int n, sqlite3_int64 o) { return r(f)->xRead(real(f), b, n, o); }
// The errno of this thread's last failed write, sync or truncate. sqlite3_system_errno() is not
// set when COMMIT fails (OP_AutoCommit returns without SQLite's error bookkeeping), so a file-size
// limit or a full disk hit at commit read as a bare "disk I/O error" without this.
thread_local int last_io_errno = 0;
int noted(int rc) {
  if (rc != SQLITE_OK) last_io_errno = errno;
  return rc;
}

int xWrite(sqlite3_file* f, const void* b, int n, sqlite3_int64 o) {
  File* p = self(f);
  const int rc = noted(r(f)->xWrite(real(f), b, n, o));
  if (rc == SQLITE_OK && p->fd >= 0) {
    if (o < p->from || o > p->to) p->from = p->to = o;  // a new run
    p->to = std::max(p->to, o + n);
    if (p->to - p->from >= kWritebackStep) {
      ::sync_file_range(p->fd, p->from, p->to - p->from, SYNC_FILE_RANGE_WRITE);  // a hint: errors show at fsync
      p->from = p->to;
    }
  }
  return rc;
}
int xTruncate(sqlite3_file* f, sqlite3_int64 s) { return noted(r(f)->xTruncate(real(f), s)); }
int xSync(sqlite3_file* f, int flags) { return noted(r(f)->xSync(real(f), flags)); }
int xFileSize(sqlite3_file* f, sqlite3_int64* s) { return r(f)->xFileSize(real(f), s); }
int xLock(sqlite3_file* f, int l) { return r(f)->xLock(real(f), l); }
int xUnlock(sqlite3_file* f, int l) { return r(f)->xUnlock(real(f), l); }
int xCheckReservedLock(sqlite3_file* f, int* out) { return r(f)->xCheckReservedLock(real(f), out); }
int xFileControl(sqlite3_file* f, int op, void* arg) { return r(f)->xFileControl(real(f), op, arg); }
int xSectorSize(sqlite3_file* f) { return r(f)->xSectorSize(real(f)); }
int xDeviceCharacteristics(sqlite3_file* f) { return r(f)->xDeviceCharacteristics(real(f)); }
int xShmMap(sqlite3_file* f, int i, int s, int e, void volatile** pp) { return r(f)->xShmMap(real(f), i, s, e, pp); }
int xShmLock(sqlite3_file* f, int o, int n, int flags) { return r(f)->xShmLock(real(f), o, n, flags); }
void xShmBarrier(sqlite3_file* f) { r(f)->xShmBarrier(real(f)); }
int xShmUnmap(sqlite3_file* f, int d) { return r(f)->xShmUnmap(real(f), d); }
int xFetch(sqlite3_file* f, sqlite3_int64 o, int n, void** pp) { return r(f)->xFetch(real(f), o, n, pp); }
int xUnfetch(sqlite3_file* f, sqlite3_int64 o, void* p) { return r(f)->xUnfetch(real(f), o, p); }

int xOpen(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  File* p = self(f);
  p->base.pMethods = nullptr;
  p->fd = -1;
  p->from = p->to = 0;
  const int rc = g_real->xOpen(g_real, name, p->real(), flags, out_flags);
  const sqlite3_io_methods* methods = p->real()->pMethods;
  if (methods == nullptr) return rc;  // nothing to close
  if (rc == SQLITE_OK && name != nullptr && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL)) != 0)
    p->fd = ::open(name, O_RDONLY | O_CLOEXEC);  // without it, no writeback hints: still correct
  p->base.pMethods = &g_methods[std::clamp(methods->iVersion, 1, 3) - 1];
  return rc;
}

// The VFS's name, registered (not as the default) on first use.
const char* name() {
  static const char* const registered = [] {
    g_real = sqlite3_vfs_find(nullptr);
    g_vfs = *g_real;
    g_vfs.zName = "plugfit-writeback";
    g_vfs.szOsFile = static_cast<int>(sizeof(File)) + g_real->szOsFile;
    g_vfs.xOpen = xOpen;
    g_vfs.pNext = nullptr;
    for (int version = 1; version <= 3; ++version)
      g_methods[version - 1] = {version,     xClose,      xRead,           xWrite,        xTruncate,
                                xSync,       xFileSize,   xLock,           xUnlock,       xCheckReservedLock,
                                xFileControl, xSectorSize, xDeviceCharacteristics, xShmMap, xShmLock,
                                xShmBarrier, xShmUnmap,   xFetch,          xUnfetch};
    return sqlite3_vfs_register(&g_vfs, 0) == SQLITE_OK ? g_vfs.zName : nullptr;  // nullptr: the default VFS
  }();
  return registered;
}

}  // namespace writeback

// An SQLite failure inside the plugin. Each public operation turns it into the SDK's error types,
// naming itself and the URI.
class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  bool corrupt() const { return (code_ & 0xff) == SQLITE_CORRUPT || (code_ & 0xff) == SQLITE_NOTADB; }

 private:
  int code_;
};

[[noreturn]] void throw_sqlite(sqlite3* db, int rc) {
  std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const int primary = rc & 0xff;
  // "disk I/O error" alone does not say that the file grew past a limit or the disk is full.
  if (db != nullptr && (primary == SQLITE_IOERR || primary == SQLITE_FULL || primary == SQLITE_CANTOPEN)) {
    int err = sqlite3_system_errno(db);
    if (err == 0 && primary != SQLITE_CANTOPEN) err = writeback::last_io_errno;  // a failed COMMIT's
    if (err != 0) message += std::string(" (") + std::strerror(err) + ")";
  }
  writeback::last_io_errno = 0;  // consumed: never attached to a later, unrelated error
  throw SqliteError(rc, message);
}

void exec(sqlite3* db, const char* sql) {
  if (const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr); rc != SQLITE_OK) throw_sqlite(db, rc);
}

class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql) : db_(db) {
    const int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
    if (rc != SQLITE_OK) throw_sqlite(db, rc);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Text and blobs are bound SQLITE_STATIC: the caller keeps them alive until reset() or the end.
  Statement& bind(int index, std::string_view text) {
    return check(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8));
  }
  Statement& bind(int index, std::int64_t value) { return check(sqlite3_bind_int64(stmt_, index, value)); }
  Statement& bind_blob(int index, const void* data, std::size_t bytes) {
    // A null pointer would bind NULL rather than an empty blob.
    if (bytes == 0) return check(sqlite3_bind_zeroblob(stmt_, index, 0));
    return check(sqlite3_bind_blob64(stmt_, index, data, bytes, SQLITE_STATIC));
  }
  // True while there is a row.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw_sqlite(db_, rc);
  }
  void run() {
    while (step()) {
    }
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string text(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    if (data == nullptr) return std::string();
    return std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
  }

 private:
  Statement& check(int rc) {
    if (rc != SQLITE_OK) throw SqliteError(rc, sqlite3_errstr(rc));
    return *this;
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// Rolls back unless committed, so that a failed save leaves the previous record in place. Declared
// before the statements it covers, so that they are finalized first.
class Transaction {
 public:
  Transaction(sqlite3* db, const char* begin) : db_(db) { exec(db, begin); }
  ~Transaction() {
    if (!committed_ && sqlite3_get_autocommit(db_) == 0) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    exec(db_, "COMMIT");
    committed_ = true;
  }

 private:
  sqlite3* db_;
  bool committed_ = false;
};

class Blob {
 public:
  explicit Blob(sqlite3* db) : db_(db) {}
  ~Blob() { sqlite3_blob_close(blob_); }
  Blob(const Blob&) = delete;
  Blob& operator=(const Blob&) = delete;
  // Reads the data column of tensors row rowid into out.
  void read(std::int64_t rowid, void* out, std::size_t bytes) {
    // reopen moves an open handle to another row without preparing a new statement.
    int rc = blob_ == nullptr ? sqlite3_blob_open(db_, "main", "tensors", "data", rowid, 0, &blob_)
                              : sqlite3_blob_reopen(blob_, rowid);
    if (rc == SQLITE_OK && bytes != static_cast<std::size_t>(sqlite3_blob_bytes(blob_)))
      throw SqliteError(SQLITE_CORRUPT, "the data's length changed while reading");
    if (rc == SQLITE_OK && bytes > 0) rc = sqlite3_blob_read(blob_, out, static_cast<int>(bytes), 0);
    if (rc != SQLITE_OK) throw_sqlite(db_, rc);
  }

 private:
  sqlite3* db_;
  sqlite3_blob* blob_ = nullptr;
};

std::uint32_t info_crc(const std::string& name, const std::string& info, std::int64_t tensor_count) {
  const std::string text = name + '\0' + info + '\0' + std::to_string(tensor_count);
  return crc32_of(text.data(), text.size());
}

std::uint32_t tensor_crc(const std::string& name, const std::string& shape, const void* data, std::size_t bytes) {
  const std::string head = name + '\0' + shape + '\0';
  const std::uint32_t crc = crc32_of(head.data(), head.size());
  // Not crc32_of for no bytes: zlib answers 0, not the seed, for an empty tensor's null pointer.
  return bytes == 0 ? crc : crc32_of(data, bytes, crc);
}

// A shape as stored: a JSON list of non-negative integers. nullopt when it is anything else.
std::optional<Shape> parse_shape(const std::string& text) {
  const Json json = Json::parse(text, nullptr, false);
  if (!json.is_array()) return std::nullopt;
  Shape shape;
  std::size_t elements = 1;  // of the non-zero dimensions: a product that wraps could match a short blob
  for (const auto& dim : json) {
    if (!dim.is_number_unsigned()) return std::nullopt;
    shape.push_back(dim.get<std::size_t>());
    if (shape.back() != 0 && __builtin_mul_overflow(elements, shape.back(), &elements)) return std::nullopt;
  }
  if (elements > max_tensor_elements()) return std::nullopt;
  return shape;
}

// Checkpoints the WAL of one database file on a thread and a connection of its own. kick() asks for
// a checkpoint after a write; wait_idle() waits until none is asked for or running. Used only by the
// process that made it: a forked child leaks it (its thread does not exist there, and its mutex may
// have been held at the fork).
class BackgroundCheckpointer {
 public:
  explicit BackgroundCheckpointer(std::string path) : path_(std::move(path)) {}
  ~BackgroundCheckpointer() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  BackgroundCheckpointer(const BackgroundCheckpointer&) = delete;
  BackgroundCheckpointer& operator=(const BackgroundCheckpointer&) = delete;

  void kick() {
    {
      std::lock_guard lock(mutex_);
      pending_ = true;
      if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    }
    changed_.notify_all();
  }

  void wait_idle() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return !pending_ && !running_; });
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      changed_.wait(lock, [this] { return pending_ || stop_; });
      if (!pending_) break;  // stopping, and nothing left to checkpoint
      pending_ = false;
      running_ = true;
      lock.unlock();
      checkpoint();
      lock.lock();
      running_ = false;
      changed_.notify_all();
    }
    lock.unlock();
    sqlite3_close_v2(db_);  // not the last connection: the writer's stays open until after this
    db_ = nullptr;
  }

  void warn(const char* what, int rc) const {
    std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    if (const int err = db_ != nullptr ? sqlite3_system_errno(db_) : 0; err != 0)
      message += std::string(" (") + std::strerror(err) + ")";
    std::fprintf(stderr,
                 "plugfit: warning: %s the write-ahead log of sqlite:%s failed: %s (the saved checkpoints are "
                 "safe in the log; the next save tries again)\n",
                 what, path_.c_str(), message.c_str());
  }

  void checkpoint() {
    if (db_ == nullptr) {
      int rc = sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, writeback::name());
      if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes(db_, 1);
        sqlite3_busy_timeout(db_, kBusyTimeoutMs);
        // A read opens the WAL: a checkpoint of a connection that has not read does nothing.
        rc = sqlite3_exec(db_, "PRAGMA synchronous = FULL; SELECT count(*) FROM sqlite_schema", nullptr, nullptr,
                          nullptr);
      }
      if (rc != SQLITE_OK) {
        warn("opening a connection to checkpoint", rc);
        sqlite3_close_v2(db_);
        db_ = nullptr;
        return;
      }
    }
    // PASSIVE copies what no reader still needs, without blocking anyone. TRUNCATE then empties the
    // log if nobody is in the way; it does not wait (busy: a reader or a new save, which is normal).
    int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    if (rc == SQLITE_OK) {
      sqlite3_busy_timeout(db_, 0);
      rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
      sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    }
    if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) warn("checkpointing", rc);
  }

  const std::string path_;
  sqlite3* db_ = nullptr;  // the thread's own connection
  std::mutex mutex_;
  std::condition_variable changed_;
  bool pending_ = false, running_ = false, stop_ = false;
  std::thread thread_;
};

class SqliteBackend final : public CheckpointBackend {
 public:
  explicit SqliteBackend(Config& config) : SqliteBackend(config.require<std::string>("path")) {}

  explicit SqliteBackend(const std::string& location) {
    if (location.empty()) throw InputError("a sqlite: checkpoint URI needs a database file: \"sqlite:run.db\"");
    path_ = fs::absolute(location).lexically_normal();
    if (path_.filename().empty())
      throw InputError(uri() + " names a folder; the sqlite backend needs a database file such as \"sqlite:run.db\"");
    std::error_code ec;
    if (fs::exists(path_.parent_path(), ec) && !fs::is_directory(path_.parent_path(), ec))
      throw InputError(uri() + ": " + path_.parent_path().string() + " is a file, not a folder");
    if (fs::is_directory(path_, ec)) throw InputError(uri() + " is a folder, not an SQLite database file");
  }

  ~SqliteBackend() override {
    // A forked child must not close its parent's connection: SQLite would checkpoint and delete the
    // WAL under the parent's feet.
    if (owner_ != ::getpid()) {
      (void)checkpointer_.release();  // its thread is the parent's: never join it here
      return;
    }
    checkpointer_.reset();  // finishes the last checkpoint and closes its connection first
    if (db_ != nullptr) sqlite3_close_v2(db_);
  }
  SqliteBackend(const SqliteBackend&) = delete;
  SqliteBackend& operator=(const SqliteBackend&) = delete;

  void save(const std::string& name, const CheckpointRecord& record) override {
    check_checkpoint_name(name);
    const std::string failed = "saving checkpoint \"" + name + "\" to " + uri() + " failed";
    std::set<std::string_view> names;
    for (const auto& t : record.tensors) {
      if (shape_size(t.shape) != t.values.size())
        throw RuntimeFailure(failed + ": tensor \"" + t.name + "\" has " + std::to_string(t.values.size()) +
                             " values for shape " + full_shape_str(t.shape));
      if (t.name.empty() || !names.insert(t.name).second)
        throw RuntimeFailure(failed + ": tensor name \"" + t.name + "\" is empty or used twice");
    }
    std::string info;
    try {
      info = record.info.dump();
    } catch (const nlohmann::json::exception& e) {
      throw RuntimeFailure(failed + ": its info is not valid JSON text (" + e.what() + ")");
    }
    const auto tensor_count = static_cast<std::int64_t>(record.tensors.size());
    const auto saved_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();

    std::lock_guard lock(mutex_);
    writeback::last_io_errno = 0;  // only this save's failures explain its error
    try {
      connect(true);
      // The previous save's checkpoint first: then this save finds the WAL empty (or reusable), and
      // the WAL never holds more than one save's frames.
      checkpointer().wait_idle();
      const auto max_bytes = static_cast<std::size_t>(sqlite3_limit(db_, SQLITE_LIMIT_LENGTH, -1));
      Transaction transaction(db_, "BEGIN IMMEDIATE");
      Statement(db_, "DELETE FROM tensors WHERE checkpoint = ?1").bind(1, name).run();
      Statement(db_, "DELETE FROM checkpoints WHERE name = ?1").bind(1, name).run();
      Statement(db_,
                "INSERT INTO checkpoints(name, seq, saved_ns, info, info_crc, tensor_count) "
                "VALUES(?1, (SELECT coalesce(max(seq), 0) + 1 FROM checkpoints), ?2, ?3, ?4, ?5)")
          .bind(1, name)
          .bind(2, std::int64_t{saved_ns})
          .bind(3, info)
          .bind(4, std::int64_t{info_crc(name, info, tensor_count)})
          .bind(5, tensor_count)
          .run();
      Statement insert(db_,
                       "INSERT INTO tensors(checkpoint, position, name, shape, crc, data) "
                       "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
      for (std::size_t i = 0; i < record.tensors.size(); ++i) {
        const NamedTensor& t = record.tensors[i];
        const std::size_t bytes = t.values.size() * sizeof(float);
        if (bytes > max_bytes)
          throw RuntimeFailure(failed + ": tensor \"" + t.name + "\" holds " + std::to_string(bytes) +
                               " bytes; SQLite stores at most " + std::to_string(max_bytes) + " in one value");
        const std::string shape = Json(t.shape).dump();
        insert.bind(1, name)
            .bind(2, static_cast<std::int64_t>(i))
            .bind(3, t.name)
            .bind(4, shape)
            .bind(5, std::int64_t{tensor_crc(t.name, shape, t.values.data(), bytes)})
            .bind_blob(6, t.values.data(), bytes);  // no copy: SQLite reads the floats in place
        insert.run();
        insert.reset();  // before shape goes out of scope: it is bound SQLITE_STATIC
      }
      transaction.commit();
      checkpointer().kick();
    } catch (const SqliteError& e) {
      fail(failed, e);
    }
  }

  CheckpointRecord load(const std::string& name) const override {
    check_checkpoint_name(name);
    const std::string what = "checkpoint \"" + name + "\" in " + uri();
    std::lock_guard lock(mutex_);
    try {
      if (!connect(false))
        throw InputError(what + " does not exist" + (fs::exists(path_) ? "" : " (there is no such database)"));
      CheckpointRecord record;
      Transaction transaction(db_, "BEGIN");  // one snapshot for the record's rows
      Statement head(db_, "SELECT info, info_crc, tensor_count FROM checkpoints WHERE name = ?1");
      if (!head.bind(1, name).step()) throw InputError(what + " does not exist");
      const std::string info = head.text(0);
      const std::int64_t tensor_count = head.integer(2);
      if (static_cast<std::uint32_t>(head.integer(1)) != info_crc(name, info, tensor_count))
        throw CheckpointCorrupt(what + " is corrupt: its info fails its checksum");
      try {
        record.info = Json::parse(info);
      } catch (const nlohmann::json::exception&) {
        throw CheckpointCorrupt(what + " is corrupt: its info does not parse");
      }
      // length() and typeof() read the row's header only; the data is read once, into the tensor.
      Statement rows(db_,
                     "SELECT rowid, position, name, shape, crc, length(data), typeof(data) FROM tensors "
                     "WHERE checkpoint = ?1 ORDER BY position");
      rows.bind(1, name);
      Blob blob(db_);
      while (rows.step()) {
        const std::string tensor = rows.text(2), shape_text = rows.text(3);
        const std::string part = what + " is corrupt: tensor \"" + tensor + "\"";
        if (rows.integer(1) != static_cast<std::int64_t>(record.tensors.size()) || rows.text(6) != "blob")
          throw CheckpointCorrupt(what + " is corrupt: its tensor rows are out of order or malformed at \"" + tensor +
                                  "\"");
        const auto bytes = static_cast<std::size_t>(rows.integer(5));
        if (bytes % sizeof(float) != 0)
          throw CheckpointCorrupt(part + " holds " + std::to_string(bytes) + " bytes, not a whole number of floats");
        NamedTensor t{tensor, {}, std::vector<float>(bytes / sizeof(float))};
        blob.read(rows.integer(0), t.values.data(), bytes);
        if (static_cast<std::uint32_t>(rows.integer(4)) != tensor_crc(tensor, shape_text, t.values.data(), bytes))
          throw CheckpointCorrupt(part + " fails its checksum");
        const auto shape = parse_shape(shape_text);
        if (!shape || shape_size(*shape) != t.values.size())
          throw CheckpointCorrupt(part + " has shape " + shape_text + " for " + std::to_string(t.values.size()) +
                                  " values");
        t.shape = *shape;
        record.tensors.push_back(std::move(t));
      }
      if (static_cast<std::int64_t>(record.tensors.size()) != tensor_count)
        throw CheckpointCorrupt(what + " is corrupt: it has " + std::to_string(record.tensors.size()) +
                                " tensors, its info says " + std::to_string(tensor_count));
      return record;  // the read transaction rolls back: nothing to commit
    } catch (const SqliteError& e) {
      if (e.corrupt()) throw CheckpointCorrupt(what + " is corrupt: " + e.what());
      fail("loading " + what + " failed", e);
    }
  }

  std::vector<std::string> list() const override {
    std::lock_guard lock(mutex_);
    try {
      std::vector<std::string> names;
      if (!connect(false)) return names;
      Statement select(db_, "SELECT name FROM checkpoints ORDER BY seq");
      while (select.step()) {
        // plugfit writes only names check_checkpoint_name accepts; another is damage.
        std::string name = select.text(0);
        try {
          check_checkpoint_name(name);
        } catch (const InputError& e) {
          throw CheckpointCorrupt(uri() + " is corrupt: it lists a checkpoint named " +
                                  plugfit::json_excerpt(Json(name)) + ", which plugfit never writes");
        }
        names.push_back(std::move(name));
      }
      return names;
    } catch (const SqliteError& e) {
      fail("listing the checkpoints in " + uri() + " failed", e);
    }
  }

  void remove(const std::string& name) override {
    check_checkpoint_name(name);
    std::lock_guard lock(mutex_);
    try {
      if (!connect(false)) return;  // nothing to remove, and no empty database to leave behind
      Transaction transaction(db_, "BEGIN IMMEDIATE");
      Statement(db_, "DELETE FROM tensors WHERE checkpoint = ?1").bind(1, name).run();
      Statement(db_, "DELETE FROM checkpoints WHERE name = ?1").bind(1, name).run();
      transaction.commit();
      checkpointer().kick();
    } catch (const SqliteError& e) {
      fail("removing checkpoint \"" + name + "\" from " + uri() + " failed", e);
    }
  }

  Json read_index() const override {
    std::lock_guard lock(mutex_);
    try {
      if (!connect(false)) return Json::object();
      Statement select(db_, "SELECT value FROM meta WHERE key = 'index'");
      if (!select.step()) return Json::object();
      return Json::parse(select.text(0));
    } catch (const nlohmann::json::exception&) {
      return Json::object();  // an unreadable index: the list is the truth
    } catch (const SqliteError& e) {
      if (e.corrupt()) return Json::object();
      fail("reading the index of " + uri() + " failed", e);
    }
  }

  void write_index(const Json& index) override {
    const std::string text = index.dump();
    std::lock_guard lock(mutex_);
    try {
      connect(true);
      Statement(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES('index', ?1)").bind(1, text).run();
      checkpointer().kick();
    } catch (const SqliteError& e) {
      fail("writing the index of " + uri() + " failed", e);
    }
  }

  std::string uri() const override { return "sqlite:" + path_.string(); }

 private:
  [[noreturn]] void fail(const std::string& failed, const SqliteError& e) const {
    if (e.corrupt()) throw CheckpointCorrupt(failed + ": the database is corrupt (" + e.what() + ")");
    throw RuntimeFailure(failed + ": " + e.what());
  }

  // Opens the connection and checks the schema. With create, makes the file and the tables when
  // missing; without, returns false instead (no database, or one without checkpoints yet).
  bool connect(bool create) const {
    if (db_ != nullptr && owner_ != ::getpid())
      throw RuntimeFailure(uri() + " was opened by process " + std::to_string(owner_) +
                           "; a forked child must open its own backend (SQLite connections do not survive fork)");
    if (db_ == nullptr) {
      std::error_code ec;
      if (!create && !fs::exists(path_, ec)) return false;
      // The first save makes the database's folder, as dir: makes its own.
      if (create && !fs::create_directories(path_.parent_path(), ec) && ec)
        throw RuntimeFailure(uri() + ": cannot create the folder " + path_.parent_path().string() + ": " +
                             ec.message());
      sqlite3* db = nullptr;
      const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
      int rc = sqlite3_open_v2(path_.c_str(), &db, flags, writeback::name());
      if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes(db, 1);
        sqlite3_busy_timeout(db, kBusyTimeoutMs);
        // A database file is input: no writes to the schema behind SQLite's back, and no SQL
        // functions or virtual tables run from what a file's schema says (views, triggers).
        sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
        sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
        sqlite3_wal_autocheckpoint(db, 0);  // BackgroundCheckpointer's thread checkpoints instead
        // FULL: the WAL is fsynced at every commit, so a save that returned survives a power cut.
        // secure_delete off: Debian turns it on, which would zero every page a replaced record frees.
        rc = sqlite3_exec(db, "PRAGMA synchronous = FULL; PRAGMA secure_delete = OFF", nullptr, nullptr, nullptr);
      }
      if (rc != SQLITE_OK) {
        std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        if (const int err = db != nullptr ? sqlite3_system_errno(db) : 0; err != 0)
          message += std::string(" (") + std::strerror(err) + ")";
        sqlite3_close_v2(db);
        throw SqliteError(rc, message);
      }
      db_ = db;
      owner_ = ::getpid();
    }
    if (schema_ready_) return true;
    const Header header = read_header();
    if (header.version == 0) {
      check_not_foreign(header);
      if (!create) return false;
      create_schema();
    } else {
      check_header(header);
      check_schema();
    }
    schema_ready_ = true;
    return true;
  }

  struct Header {
    std::int64_t version, application, tables;
  };

  Header read_header() const {
    Statement version(db_, "PRAGMA user_version"), application(db_, "PRAGMA application_id"),
        tables(db_, "SELECT count(*) FROM sqlite_schema");
    version.step();
    application.step();
    tables.step();
    return {version.integer(0), application.integer(0), tables.integer(0)};
  }

  // A database without our user_version: empty, or some other program's, which we leave alone.
  void check_not_foreign(const Header& header) const {
    if (header.tables != 0 || (header.application != 0 && header.application != kApplicationId))
      throw InputError(uri() + " is an SQLite database of another program, not a plugfit checkpoint database");
  }

  void check_header(const Header& header) const {
    if (header.application != kApplicationId)
      throw InputError(uri() + " is an SQLite database of another program (application_id " +
                       std::to_string(header.application) + "), not a plugfit checkpoint database");
    if (header.version > kSchemaVersion)
      throw InputError(uri() + " has checkpoint schema version " + std::to_string(header.version) +
                       ", newer than this plugin's " + std::to_string(kSchemaVersion) +
                       "; upgrade the sqlite_backend plugin to read it");
  }

  // The file's schema is plugfit's three tables and their primary-key indexes, nothing else: a
  // "checkpoints" that is a view (over an endless recursive query, say) or a trigger would run
  // the file's own SQL inside every load.
  void check_schema() const {
    static const std::set<std::string> tables = {"checkpoints", "tensors", "meta"};
    Statement rows(db_, "SELECT type, name, tbl_name FROM sqlite_schema");
    std::set<std::string> seen;
    while (rows.step()) {
      const std::string type = rows.text(0), name = rows.text(1), table = rows.text(2);
      const bool ours = type == "table" ? tables.count(name) != 0
                                        : type == "index" && tables.count(table) != 0 &&
                                              name.rfind("sqlite_autoindex_" + table + "_", 0) == 0;
      if (!ours)
        throw InputError(uri() + " is not a plugfit checkpoint database: its schema has the " + type + " \"" + name +
                         "\", which plugfit does not make");
      if (type == "table") seen.insert(name);
    }
    if (seen != tables) throw InputError(uri() + " is not a plugfit checkpoint database: tables are missing from its schema");
  }

  void create_schema() const {
    // The page size only applies to an empty database, and WAL is set outside a transaction.
    exec(db_, ("PRAGMA page_size = " + std::to_string(kPageSize)).c_str());
    {
      Statement wal(db_, "PRAGMA journal_mode = WAL");
      if (!wal.step() || wal.text(0) != "wal")
        throw SqliteError(SQLITE_CANTOPEN, "cannot switch " + path_.string() + " to WAL mode (the journal mode is \"" +
                                               wal.text(0) + "\": does the filesystem support shared memory?)");
    }
    Transaction transaction(db_, "BEGIN IMMEDIATE");
    // Another process may have made the schema since read_header.
    const Header header = read_header();
    if (header.version != 0) return check_header(header);
    check_not_foreign(header);
    exec(db_,
         "CREATE TABLE checkpoints(name TEXT PRIMARY KEY NOT NULL, seq INTEGER NOT NULL, saved_ns INTEGER NOT NULL,"
         "  info TEXT NOT NULL, info_crc INTEGER NOT NULL, tensor_count INTEGER NOT NULL);"
         // crc before data: a column after a large blob is only reached by walking all its overflow pages.
         "CREATE TABLE tensors(checkpoint TEXT NOT NULL, position INTEGER NOT NULL, name TEXT NOT NULL,"
         "  shape TEXT NOT NULL, crc INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY(checkpoint, position));"
         "CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);");
    exec(db_, ("PRAGMA application_id = " + std::to_string(kApplicationId) +
               "; PRAGMA user_version = " + std::to_string(kSchemaVersion))
                  .c_str());
    transaction.commit();
  }

  fs::path path_;
  // Guards the connection: one SQLite transaction at a time per backend object.
  mutable std::mutex mutex_;
  mutable sqlite3* db_ = nullptr;
  mutable pid_t owner_ = 0;
  mutable bool schema_ready_ = false;
  std::unique_ptr<BackgroundCheckpointer> checkpointer_;  // made by the first write, in owner_

  BackgroundCheckpointer& checkpointer() {
    if (!checkpointer_) checkpointer_ = std::make_unique<BackgroundCheckpointer>(path_.string());
    return *checkpointer_;
  }
};

void register_types(Registrar& registrar) { registrar.add_checkpoint_backend<SqliteBackend>("sqlite"); }

}  // namespace

PLUGFIT_PLUGIN_DESCRIBED("sqlite_backend", "0.1.0",
                         "checkpoint backend \"sqlite\": every checkpoint of a run in one SQLite database file",
                         register_types)
