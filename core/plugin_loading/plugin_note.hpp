// Reading a plugin's ".note.plugfit" (plugfit/plugin.hpp) from its file, without loading it.
//
// Requires: path names the file to check. Ensures: nothing in the file runs; at most a few
// pages are read (the ELF header, the program headers and PT_NOTE segments of up to 64 KiB),
// every offset and size checked against the file's size first.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace plugfit {

struct PluginNote {
  std::uint32_t abi_major = 0, abi_minor = 0;
  std::string toolchain, name, version;
};

// The plugfit note of the shared library at path; std::nullopt when the file is an ELF shared
// library without one. Throws PluginError naming path when the file cannot be read, is not a
// 64-bit little-endian ELF shared library, or its note is malformed.
std::optional<PluginNote> read_plugin_note(const std::string& path);

}  // namespace plugfit
