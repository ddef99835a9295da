// Which HDF5 files libhdf5 may parse in plugfit's own process, and a child process for the rest.
//
// libhdf5 is not written for hostile input (single flipped bytes crash or hang 1.10.8), so a
// crash there must not be plugfit's. A file plugfit wrote carries a stamp in HDF5's user block
// (the 512 bytes before the superblock, which HDF5, h5py and Keras skip): the CRC-32 and size of
// everything after it. A file whose stamp holds is read in this process; any other (a Keras
// file, an archive, plugfit's own when damaged or from before the stamp) is read by a forked
// child under limits, and what it read comes back through a pipe. The stamp detects damage, not
// an attacker: a file crafted to carry a valid stamp is read in process.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "keras_file.hpp"

namespace plugfit_hdf5 {

// The user block's size that write_keras_file reserves for the stamp.
inline constexpr std::uint64_t kStampBytes = 512;

// Writes the stamp into the user block of the closed HDF5 file at path (made with a user block
// of kStampBytes). Throws plugfit::RuntimeFailure on an I/O failure.
void stamp_file(const std::filesystem::path& path);

// Whether the file at path carries a stamp that matches its content (one read of the file).
bool stamp_holds(const std::filesystem::path& path);

// A file that cannot be read whole: plugfit::CheckpointCorrupt in a plugfit store (so a resume
// falls back to the previous checkpoint), plugfit::InputError for a user's own file.
[[noreturn]] void unreadable(const std::filesystem::path& path, const std::string& sentence);

// The child's limits for a file of file_size bytes: 30 s plus 1 s per 16 MiB of wall time
// (PLUGFIT_FOREIGN_READ_SECONDS overrides), 1 GiB plus 16 times the file's size of memory on top
// of the process's own, no core file; where the kernel has seccomp, no exec, fork, socket,
// file writes or removals.
struct ChildLimits {
  double seconds = 30.0;
  std::uint64_t extra_memory_bytes = std::uint64_t{1} << 30;
};
ChildLimits child_limits_for(std::uint64_t file_size);

// Runs read() in a forked child under child_limits_for(path's size) and returns what it returned,
// or throws what it threw (InputError, CheckpointCorrupt, RuntimeFailure: the same kind and
// message). A child that crashes, outlives its time, runs out of memory or sends bytes that do
// not add up ends in one sentence naming label, through unreadable(). With
// PLUGFIT_READ_FOREIGN_IN_PROCESS=1 read() runs in this process (a debugger's or a sanitizer's
// view of the readers; libhdf5's crashes are then plugfit's).
StoredCheckpoint read_in_child(const std::filesystem::path& path, const std::string& label,
                               const std::function<StoredCheckpoint()>& read);

}  // namespace plugfit_hdf5
