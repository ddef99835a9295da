// Shared by the fuzz targets (one per reader, tests/fuzz/fuzz_*.cpp): each defines libFuzzer's
// LLVMFuzzerTestOneInput, linked either with libFuzzer (-Dfuzzing=true, clang, scripts/fuzz) or
// with replay_main.cpp, which runs every file of a corpus once (the regression tests).
//
// A target hands a reader the input as a file (most readers take paths) in a scratch folder of
// its own, and accepts plugfit's errors (bad input is refused, that is the point); a crash, a
// sanitizer report, a hang or an escaping non-plugfit exception is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace plugfit_fuzz {

// The input as bytes.
inline std::string_view bytes_of(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A scratch folder for this process, emptied by every call (under $TMPDIR, in RAM when
// /dev/shm is there).
std::filesystem::path fresh_scratch();

// Writes bytes to path (folders created).
void write_file(const std::filesystem::path& path, std::string_view bytes);

// Unpacks a folder packed by tests/fuzz/pack_folder.py into root: records of
// [u16 name length][name][u32 size][bytes], little-endian; names are relative paths of plain
// components ([A-Za-z0-9._-], no "." or ".."), others are skipped. Stops at the first record
// that does not fit.
void unpack_folder(std::string_view packed, const std::filesystem::path& root);

// The plugfit command in this process: its exit code; it prints its one-line error to stderr.
int run_plugfit(std::initializer_list<std::string> args);

}  // namespace plugfit_fuzz
