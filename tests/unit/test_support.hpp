// Shared by the unit tests: a registry of the built-in types and a temporary folder.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include <plugfit/registry.hpp>

#include "registry/builtins.hpp"

namespace plugfit::test {

inline Registry& make_builtins(Registry& registry) {
  register_builtins(registry);
  return registry;
}

inline const Registry& builtins() {
  static Registry storage;
  static const Registry& registry = make_builtins(storage);
  return registry;
}

// A fresh folder under /tmp, removed with everything in it.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string pattern = "/tmp/plugfit-test-XXXXXX";
    path = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace plugfit::test
