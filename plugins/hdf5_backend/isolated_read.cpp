// The stamp of plugfit's own HDF5 files and the child process for every other (isolated_read.hpp).
#include "isolated_read.hpp"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <span>
#include <vector>

#include "keras3_import.hpp"

namespace plugfit_hdf5 {

namespace {

namespace fs = std::filesystem;
using plugfit::RuntimeFailure;

constexpr char kStampMagic[] = "plugfit hdf5 stamp 1\n";

// "plugfit hdf5 stamp 1\ncrc32 XXXXXXXX\nsize N\n", zeros after it.
std::string stamp_text(std::uint32_t crc, std::uint64_t size) {
  char text[96];
  std::snprintf(text, sizeof text, "%scrc32 %08x\nsize %llu\n", kStampMagic, crc, static_cast<unsigned long long>(size));
  return text;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// CRC-32 of the bytes from kStampBytes to the end; nullopt when the file cannot be read.
std::optional<std::uint32_t> content_crc(int fd, std::uint64_t size) {
  std::vector<unsigned char> buffer(1 << 20);
  std::uint32_t crc = 0;
  for (std::uint64_t at = kStampBytes; at < size;) {
    const ssize_t n = ::pread(fd, buffer.data(), std::min<std::uint64_t>(buffer.size(), size - at), static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    crc = plugfit::crc32_of(buffer.data(), static_cast<std::size_t>(n), crc);
    at += static_cast<std::uint64_t>(n);
  }
  return crc;
}

// The bytes a child sends: a kind, then the checkpoint or the message.
enum class Outcome : std::uint8_t { checkpoint, input_error, corrupt, runtime_failure, out_of_memory };

void put(std::vector<std::byte>& out, const void* data, std::size_t n) {
  const auto* p = static_cast<const std::byte*>(data);
  out.insert(out.end(), p, p + n);
}

std::vector<std::byte> encode(const StoredCheckpoint& checkpoint) {
  std::vector<std::byte> out;
  const auto kind = static_cast<std::uint8_t>(Outcome::checkpoint);
  put(out, &kind, 1);
  const std::uint64_t name_size = checkpoint.name.size();
  put(out, &name_size, sizeof name_size);
  put(out, checkpoint.name.data(), checkpoint.name.size());
  put(out, &checkpoint.save_seq, sizeof checkpoint.save_seq);
  const std::uint8_t by_plugfit = checkpoint.written_by_plugfit ? 1 : 0;
  put(out, &by_plugfit, 1);
  const std::vector<std::byte> record = plugfit::record_to_bytes(checkpoint.record);
  put(out, record.data(), record.size());
  return out;
}

std::vector<std::byte> encode(Outcome kind, const std::string& message) {
  std::vector<std::byte> out;
  put(out, &kind, 1);
  put(out, message.data(), message.size());
  return out;
}

bool write_all(int fd, const std::vector<std::byte>& bytes) {
  for (std::size_t at = 0; at < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + at, bytes.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    at += static_cast<std::size_t>(n);
  }
  return true;
}

std::uint64_t address_space_bytes() {
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  unsigned long long pages = 0;
  if (statm != nullptr) {
    if (std::fscanf(statm, "%llu", &pages) != 1) pages = 0;
    std::fclose(statm);
  }
  return pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

// The child may read files, not change any or reach out: where the kernel has seccomp, exec,
// fork, sockets, ptrace, signals to others, writes other than to its pipe, and removals fail
// with EPERM. Best effort: a kernel or container without seccomp leaves the other limits.
void restrict_system_calls() {
#if defined(__x86_64__) || defined(__aarch64__)
#if defined(__x86_64__)
  constexpr std::uint32_t arch = AUDIT_ARCH_X86_64;
#else
  constexpr std::uint32_t arch = AUDIT_ARCH_AARCH64;
#endif
  constexpr std::uint32_t deny = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
  static const long denied[] = {
      SYS_execve, SYS_execveat, SYS_clone, SYS_socket, SYS_connect, SYS_bind, SYS_listen, SYS_accept4,
      SYS_ptrace, SYS_kill, SYS_unlinkat, SYS_renameat2, SYS_mkdirat, SYS_linkat, SYS_symlinkat, SYS_truncate,
      SYS_ftruncate, SYS_fchmod, SYS_fchmodat, SYS_fchown, SYS_fchownat, SYS_pwrite64, SYS_mknodat,
#ifdef SYS_clone3
      SYS_clone3,
#endif
#if defined(__x86_64__)
      SYS_fork, SYS_vfork, SYS_accept, SYS_unlink, SYS_rename, SYS_renameat, SYS_mkdir, SYS_rmdir, SYS_link,
      SYS_symlink, SYS_chmod, SYS_chown, SYS_lchown, SYS_creat, SYS_mknod,
#endif
  };
  std::vector<sock_filter> program = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, deny),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
#if defined(__x86_64__)
      // x32 system calls (numbers with bit 30 set) would pass the list below under other numbers.
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, deny),
#endif
  };
  for (const long nr : denied) {
    program.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<std::uint32_t>(nr), 0, 1));
    program.push_back(BPF_STMT(BPF_RET | BPF_K, deny));
  }
  // openat (and open) only to read: its flags argument without write, create or truncate bits.
  constexpr std::uint32_t writing = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND;
  auto flags_check = [&](long nr, int arg) {
    program.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<std::uint32_t>(nr), 0, 4));
    program.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<std::uint32_t>(offsetof(seccomp_data, args) + 8 * arg)));
    program.push_back(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, writing, 0, 1));
    program.push_back(BPF_STMT(BPF_RET | BPF_K, deny));
    program.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  };
  flags_check(SYS_openat, 2);
#if defined(__x86_64__)
  flags_check(SYS_open, 1);
#endif
  program.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  const sock_fprog filter{static_cast<unsigned short>(program.size()), program.data()};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0) ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter);
#endif
}

[[noreturn]] void child_main(int out_fd, const ChildLimits& limits, const std::function<StoredCheckpoint()>& read) {
  // A crash ends the child as the kernel ends it: the host's own crash handlers stay out.
  for (const int crash : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) ::signal(crash, SIG_DFL);
  const rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  const auto cpu_seconds = static_cast<rlim_t>(limits.seconds) + 2;
  const rlimit cpu{cpu_seconds, cpu_seconds};
  ::setrlimit(RLIMIT_CPU, &cpu);
  const rlim_t memory = address_space_bytes() + limits.extra_memory_bytes;
  const rlimit address_space{memory, memory};
  ::setrlimit(RLIMIT_AS, &address_space);
  restrict_system_calls();
  std::vector<std::byte> out;
  try {
    out = encode(read());
  } catch (const plugfit::CheckpointCorrupt& e) {
    out = encode(Outcome::corrupt, e.what());
  } catch (const plugfit::InputError& e) {
    out = encode(Outcome::input_error, e.what());
  } catch (const std::bad_alloc&) {
    out = encode(Outcome::out_of_memory, "");
  } catch (const std::exception& e) {
    out = encode(Outcome::runtime_failure, e.what());
  }
  ::_exit(write_all(out_fd, out) ? 0 : 3);
}

// What the child sent; any bytes that do not add up end as `broken`.
StoredCheckpoint decode(const std::vector<std::byte>& bytes, const fs::path& path, const std::string& label,
                        const std::string& broken) {
  if (bytes.empty()) unreadable(path, broken);
  const auto kind = static_cast<Outcome>(bytes[0]);
  const std::string message(reinterpret_cast<const char*>(bytes.data()) + 1, bytes.size() - 1);
  switch (kind) {
    case Outcome::input_error: throw plugfit::InputError(message);
    case Outcome::corrupt: throw plugfit::CheckpointCorrupt(message);
    case Outcome::runtime_failure: throw RuntimeFailure(message);
    case Outcome::out_of_memory:
      unreadable(path, label + " needs more memory to read than plugfit allows a file it did not write (1 GiB plus 16 "
                               "times the file's size)");
    case Outcome::checkpoint: break;
    default: unreadable(path, broken);
  }
  StoredCheckpoint out;
  std::size_t at = 1;
  auto take = [&](void* into, std::size_t n) {
    if (n > bytes.size() - at) unreadable(path, broken);
    std::memcpy(into, bytes.data() + at, n);
    at += n;
  };
  std::uint64_t name_size = 0;
  take(&name_size, sizeof name_size);
  if (name_size > bytes.size() - at) unreadable(path, broken);
  out.name.resize(static_cast<std::size_t>(name_size));
  take(out.name.data(), out.name.size());
  take(&out.save_seq, sizeof out.save_seq);
  std::uint8_t by_plugfit = 0;
  take(&by_plugfit, 1);
  out.written_by_plugfit = by_plugfit != 0;
  try {
    out.record = plugfit::record_from_bytes(std::span<const std::byte>(bytes).subspan(at), label);
  } catch (const plugfit::CheckpointCorrupt&) {
    unreadable(path, broken);
  }
  return out;
}

}  // namespace

void stamp_file(const fs::path& path) {
  const Fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  struct stat st {};
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0)
    throw RuntimeFailure("cannot open " + path.string() + " to stamp it: " + std::strerror(errno));
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const auto crc = content_crc(fd.get(), size);
  if (!crc) throw RuntimeFailure("cannot read back " + path.string() + " to stamp it: " + std::strerror(errno));
  const std::string text = stamp_text(*crc, size);
  if (::pwrite(fd.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
    throw RuntimeFailure("cannot stamp " + path.string() + ": " + std::strerror(errno));
}

bool stamp_holds(const fs::path& path) {
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat st {};
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  const auto size = static_cast<std::uint64_t>(st.st_size);
  char head[96] = {};
  if (size <= kStampBytes || ::pread(fd.get(), head, sizeof head - 1, 0) != static_cast<ssize_t>(sizeof head - 1))
    return false;
  if (std::strncmp(head, kStampMagic, sizeof kStampMagic - 1) != 0) return false;
  unsigned crc = 0;
  unsigned long long stamped_size = 0;
  if (std::sscanf(head + sizeof kStampMagic - 1, "crc32 %8x\nsize %llu\n", &crc, &stamped_size) != 2) return false;
  if (stamp_text(crc, stamped_size) != std::string(head, std::strlen(head)) || stamped_size != size) return false;
  const auto actual = content_crc(fd.get(), size);
  return actual && *actual == crc;
}

void unreadable(const fs::path& path, const std::string& sentence) {
  if (belongs_to_plugfit_store(path)) throw plugfit::CheckpointCorrupt(sentence);
  throw plugfit::InputError(sentence);
}

ChildLimits child_limits_for(std::uint64_t file_size) {
  ChildLimits limits;
  limits.seconds = 30.0 + double(file_size) / double(16 << 20);
  if (const char* seconds = std::getenv("PLUGFIT_FOREIGN_READ_SECONDS")) {
    char* end = nullptr;
    const double value = std::strtod(seconds, &end);
    if (end != seconds && *end == '\0' && value > 0.0 && value <= 86400.0) limits.seconds = value;
  }
  limits.extra_memory_bytes = (std::uint64_t{1} << 30) + 16 * file_size;
  return limits;
}

StoredCheckpoint read_in_child(const fs::path& path, const std::string& label,
                               const std::function<StoredCheckpoint()>& read) {
  const char* in_process = std::getenv("PLUGFIT_READ_FOREIGN_IN_PROCESS");
  if (in_process != nullptr && std::strcmp(in_process, "1") == 0) return read();
  std::error_code ec;
  const std::uint64_t file_size = fs::file_size(path, ec);
  const ChildLimits limits = child_limits_for(ec ? 0 : file_size);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw RuntimeFailure("cannot make a pipe to read " + label + ": " + std::strerror(errno));
  Fd in(fds[0]), out(fds[1]);
  std::fflush(nullptr);  // nothing buffered twice
  const pid_t pid = ::fork();
  if (pid < 0) throw RuntimeFailure("cannot start a process to read " + label + ": " + std::strerror(errno));
  if (pid == 0) {
    in.close();
    child_main(out.get(), limits, read);
  }
  out.close();
  // What a child may send: its file's tensors as float32 (float16 doubles them), with room.
  const std::uint64_t most = (std::uint64_t{1} << 30) + 16 * file_size;
  std::vector<std::byte> bytes;
  std::vector<std::byte> chunk(1 << 16);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(limits.seconds);
  bool timed_out = false, too_much = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd ready{in.get(), POLLIN, 0};
    const int polled = ::poll(&ready, 1, static_cast<int>(std::min<long long>(left.count(), 1 << 30)));
    if (polled < 0 && errno == EINTR) continue;
    if (polled == 0) continue;  // the deadline decides
    const ssize_t n = ::read(in.get(), chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (bytes.size() + static_cast<std::size_t>(n) > most) {
      too_much = true;
      break;
    }
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + n);
  }
  in.close();
  if (timed_out || too_much) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const std::string damaged = label + " is damaged or crafted: ";
  if (timed_out) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.0f", limits.seconds);
    unreadable(path, damaged + "the HDF5 library was still reading it after " + seconds +
                         " s (in a separate process, now stopped; PLUGFIT_FOREIGN_READ_SECONDS gives it longer)");
  }
  if (WIFSIGNALED(status)) {
    const int signal_number = WTERMSIG(status);
    const char* name = ::sigabbrev_np(signal_number);
    unreadable(path, damaged + "the HDF5 library crashed reading it (signal SIG" +
                         (name != nullptr ? std::string(name) : std::to_string(signal_number)) +
                         ", in a separate process)");
  }
  const std::string broken = damaged + "its reader's process ended without a whole result";
  if (too_much || !WIFEXITED(status) || WEXITSTATUS(status) != 0) unreadable(path, broken);
  return decode(bytes, path, label, broken);
}

}  // namespace plugfit_hdf5
