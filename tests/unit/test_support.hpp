// Shared by the unit tests: a registry of the built-in types and a temporary folder.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include <plugfit/registry.hpp>

#include "data/dataset.hpp"
#include "builtins/builtins.hpp"

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

// Three classes given by the sign pattern of two of four normal features: learnable by a small MLP.
inline Dataset blobs(std::size_t n, std::uint64_t seed) {
  Dataset d;
  d.spec = "blobs";
  d.x = Tensor::from_shape({n, 4});
  d.y = Tensor::from_shape({n});
  Rng rng(seed);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < 4; ++j) d.x(i, j) = static_cast<float>(rng.normal());
    d.y(i) = d.x(i, 0) > 0.f ? 0.f : (d.x(i, 1) > 0.f ? 1.f : 2.f);
  }
  return d;
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

}  // namespace plugfit::test
