// Reading a zip archive (Keras 3's .keras files) over libzip, with the bounds checked before any
// size in the archive is trusted.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

struct zip;

namespace plugfit_hdf5 {

// Why an archive or a member could not be read; what() is one sentence naming the file.
class ZipFailure : public std::runtime_error {
 public:
  enum class Kind {
    not_zip,    // the file does not start as a zip archive does
    truncated,  // it starts as a zip but its end (the central directory) is missing
    too_large,  // a member declares more bytes than plugfit will read (a zip bomb?)
    damaged,    // anything else libzip refuses (a bad checksum, a short member)
  };
  ZipFailure(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

// A zip archive open for reading. Not thread-safe (libzip's handle is not).
class ZipArchive {
 public:
  // A member may declare at most this many bytes, and at most kMaxRatio times the archive's size.
  static constexpr std::uint64_t kMaxMemberBytes = std::uint64_t{4} << 30;
  static constexpr std::uint64_t kMaxRatio = 64;

  // Opens path. Throws ZipFailure (not_zip, truncated or damaged) naming path, with libzip's reason.
  explicit ZipArchive(const std::filesystem::path& path);
  ~ZipArchive();
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  // The members' names, in the archive's order.
  const std::vector<std::string>& members() const { return members_; }
  bool contains(const std::string& member) const;
  // The member's bytes, whole. requires: contains(member). Throws ZipFailure (too_large when its
  // declared size passes the bounds above, damaged when libzip fails or returns fewer bytes than
  // declared).
  std::vector<char> read(const std::string& member) const;

 private:
  std::filesystem::path path_;
  std::uint64_t archive_bytes_ = 0;
  zip* archive_ = nullptr;
  std::vector<std::string> members_;
};

}  // namespace plugfit_hdf5
