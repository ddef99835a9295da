#include "zip_writer.hpp"

#include <zip.h>

#include <plugfit/sdk.hpp>
#include <system_error>

namespace plugfit_hdf5 {

namespace {

[[noreturn]] void zip_fail(const std::filesystem::path& path, const std::string& what, const std::string& reason) {
  throw plugfit::RuntimeFailure("cannot write the archive " + path.string() + ": " + what + " (" + reason + ")");
}

constexpr zip_uint32_t kUserReadWrite = 0600u << 16;  // zipfile's default external_attr

}  // namespace

void write_zip(const std::filesystem::path& path, const std::vector<ZipMember>& members) {
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_EXCL, &error);
  if (archive == nullptr) {
    zip_error_t e;
    zip_error_init_with_code(&e, error);
    const std::string reason = zip_error_strerror(&e);
    zip_error_fini(&e);
    zip_fail(path, "cannot create it", reason);
  }
  try {
    for (const auto& m : members) {
      // libzip reads the buffers at zip_close: members outlives the archive handle.
      zip_source_t* source = zip_source_buffer(archive, m.bytes.data(), m.bytes.size(), 0);
      if (source == nullptr) zip_fail(path, "cannot add " + m.name, zip_strerror(archive));
      const zip_int64_t index = zip_file_add(archive, m.name.c_str(), source, ZIP_FL_ENC_UTF_8);
      if (index < 0) {
        zip_source_free(source);
        zip_fail(path, "cannot add " + m.name, zip_strerror(archive));
      }
      const auto i = static_cast<zip_uint64_t>(index);
      bool ok = zip_set_file_compression(archive, i, ZIP_CM_STORE, 0) == 0 &&
                zip_file_set_external_attributes(archive, i, 0, ZIP_OPSYS_DOS, kUserReadWrite) == 0;
      if (ok && m.modified) {
        ok = zip_file_set_mtime(archive, i, *m.modified, 0) == 0;
      } else if (ok) {
        ok = zip_file_set_dostime(archive, i, 0, (1u << 5) | 1u, 0) == 0;  // 1980-01-01 00:00:00
      }
      if (!ok) zip_fail(path, "cannot set the attributes of " + m.name, zip_strerror(archive));
    }
    if (zip_close(archive) != 0) zip_fail(path, "cannot finish it", zip_strerror(archive));
  } catch (...) {
    zip_discard(archive);
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
    throw;
  }
}

}  // namespace plugfit_hdf5
