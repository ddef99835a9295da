#include "atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace plugfit {

namespace {

std::atomic<unsigned> temp_counter{0};

// Writes all of text to fd; 0 or the errno of the failure.
int write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

int sync_folder(const std::filesystem::path& folder) {
  const int fd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  return rc != 0 && err != EINVAL ? err : 0;  // EINVAL: a file system without folder fsync
}

}  // namespace

std::string write_file_atomically(const std::string& path, std::string_view text, FileDurability durability) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  // Unique per process and per call, so concurrent writers of one path never share a temporary.
  const fs::path temp = target.parent_path() / (".tmp-" + target.filename().string() + "-" +
                                                std::to_string(::getpid()) + "-" +
                                                std::to_string(temp_counter.fetch_add(1)));
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) return std::strerror(errno);
  int err = write_all(fd, text);
  if (err == 0 && durability == FileDurability::kSynced && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err == 0 && ::rename(temp.c_str(), target.c_str()) != 0) err = errno;
  if (err != 0) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    return std::strerror(err);
  }
  if (durability == FileDurability::kSynced) {
    if (const int folder_err = sync_folder(target.parent_path()); folder_err != 0) return std::strerror(folder_err);
  }
  return {};
}

}  // namespace plugfit
