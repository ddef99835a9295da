// Writing a zip archive as Keras 3's saving_lib writes a .keras file (Python's zipfile): members
// stored uncompressed, in the order given, MS-DOS attributes 0600.
#pragma once

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace plugfit_hdf5 {

struct ZipMember {
  std::string name;
  std::string bytes;
  // The member's modification time (local time, as zipfile records it); nullopt for 1980-01-01
  // 00:00, zipfile's date for members written through ZipFile.open(name, "w").
  std::optional<std::time_t> modified;
};

// Writes a new zip archive at path holding members in order.
// requires: nothing exists at path. Throws plugfit::RuntimeFailure naming path with libzip's
// reason; on a throw nothing is left at path. The file is not fsynced (the caller does).
void write_zip(const std::filesystem::path& path, const std::vector<ZipMember>& members);

}  // namespace plugfit_hdf5
