#include "zip_reader.hpp"

#include <zip.h>

#include <algorithm>
#include <fstream>
#include <memory>

namespace plugfit_hdf5 {

namespace {

std::string libzip_reason(zip_error_t* error) { return zip_error_strerror(error); }

// Whether the file starts with a zip's local file header ("PK\3\4").
bool starts_as_zip(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4;
}

}  // namespace

ZipArchive::ZipArchive(const std::filesystem::path& path) : path_(path) {
  std::error_code ec;
  archive_bytes_ = std::filesystem::file_size(path, ec);
  if (ec) throw ZipFailure(ZipFailure::Kind::damaged, "cannot read " + path.string() + ": " + ec.message());
  int code = 0;
  archive_ = zip_open(path.c_str(), ZIP_RDONLY, &code);
  if (archive_ == nullptr) {
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    const std::string reason = libzip_reason(&error);
    zip_error_fini(&error);
    if (code == ZIP_ER_NOZIP && starts_as_zip(path))
      throw ZipFailure(ZipFailure::Kind::truncated, path.string() +
                                                        " is a truncated zip archive: it starts as one but "
                                                        "its central directory is missing (libzip: " +
                                                        reason + ")");
    if (code == ZIP_ER_NOZIP)
      throw ZipFailure(ZipFailure::Kind::not_zip, path.string() + " is not a zip archive (libzip: " + reason + ")");
    throw ZipFailure(ZipFailure::Kind::damaged, "cannot open the zip archive " + path.string() + ": " + reason);
  }
  const zip_int64_t count = zip_get_num_entries(archive_, 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    const char* name = zip_get_name(archive_, static_cast<zip_uint64_t>(i), 0);
    if (name == nullptr) {
      const std::string reason = libzip_reason(zip_get_error(archive_));
      zip_discard(archive_);
      throw ZipFailure(ZipFailure::Kind::damaged,
                       path.string() + ": member " + std::to_string(i) + " has no readable name (" + reason + ")");
    }
    members_.emplace_back(name);
  }
}

ZipArchive::~ZipArchive() {
  if (archive_ != nullptr) zip_discard(archive_);  // read-only: nothing to write back
}

bool ZipArchive::contains(const std::string& member) const {
  return std::find(members_.begin(), members_.end(), member) != members_.end();
}

std::vector<char> ZipArchive::read(const std::string& member) const {
  const std::string what = "the member " + member + " of " + path_.string();
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_stat(archive_, member.c_str(), 0, &stat) != 0 || (stat.valid & ZIP_STAT_SIZE) == 0)
    throw ZipFailure(ZipFailure::Kind::damaged, "cannot read " + what + ": " + libzip_reason(zip_get_error(archive_)));
  if (stat.size > kMaxMemberBytes || stat.size > kMaxRatio * std::max<std::uint64_t>(archive_bytes_, 1))
    throw ZipFailure(ZipFailure::Kind::too_large, what + " declares " + std::to_string(stat.size) +
                                                      " bytes, more than plugfit reads from a " +
                                                      std::to_string(archive_bytes_) + "-byte archive");
  const auto close = [](zip_file_t* f) { zip_fclose(f); };
  const std::unique_ptr<zip_file_t, decltype(close)> file(zip_fopen(archive_, member.c_str(), 0), close);
  if (!file)
    throw ZipFailure(ZipFailure::Kind::damaged, "cannot open " + what + ": " + libzip_reason(zip_get_error(archive_)));
  std::vector<char> bytes(static_cast<std::size_t>(stat.size));
  std::uint64_t got = 0;
  while (got < stat.size) {
    const zip_int64_t n = zip_fread(file.get(), bytes.data() + got, stat.size - got);
    if (n < 0)
      throw ZipFailure(ZipFailure::Kind::damaged,
                       "cannot read " + what + ": " + libzip_reason(zip_file_get_error(file.get())));
    if (n == 0) break;
    got += static_cast<std::uint64_t>(n);
  }
  if (got != stat.size)
    throw ZipFailure(ZipFailure::Kind::damaged, what + " holds " + std::to_string(got) + " of the " +
                                                    std::to_string(stat.size) + " bytes it declares");
  return bytes;
}

}  // namespace plugfit_hdf5
