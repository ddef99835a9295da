// Replacing a file all at once: a reader sees the old file or the new one, never a torn one.
#pragma once

#include <string>
#include <string_view>

namespace plugfit {

enum class FileDurability {
  kRenamed,  // atomic against readers and crashes of this process; the OS may still lose it
  kSynced,   // also survives a power cut: the file and its folder are fsynced around the rename
};

// Writes text to path through a temporary file ".tmp-NAME-PID-N" in the same folder (so the
// rename stays on one file system; DirBackend removes a dead process's leftovers by that name)
// and a rename over path.
// requires: path's folder exists. ensures: on success path holds exactly text and no temporary
// file remains; on failure path is untouched and the temporary file is removed.
// Returns an empty string on success, else why it failed (the caller words the error).
std::string write_file_atomically(const std::string& path, std::string_view text,
                                  FileDurability durability = FileDurability::kRenamed);

}  // namespace plugfit
