#include "fuzz_support.hpp"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

#include <unistd.h>

#include <plugfit/cli.hpp>

namespace plugfit_fuzz {

namespace fs = std::filesystem;

namespace {

// This process's scratch folder, removed at exit.
struct ScratchRoot {
  fs::path path;
  ScratchRoot() {
    const char* tmp = std::getenv("TMPDIR");
    const fs::path base = tmp != nullptr                   ? fs::path(tmp)
                          : fs::is_directory("/dev/shm") ? fs::path("/dev/shm")
                                                         : fs::temp_directory_path();
    path = base / ("plugfit-fuzz-" + std::to_string(::getpid()));
  }
  ~ScratchRoot() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

}  // namespace

fs::path fresh_scratch() {
  static const ScratchRoot root;
  std::error_code ignored;
  fs::remove_all(root.path, ignored);
  fs::create_directories(root.path);
  return root.path;
}

void write_file(const fs::path& path, std::string_view bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

namespace {

bool plain_relative_path(const std::string& name) {
  if (name.empty() || name.front() == '/' || name.back() == '/') return false;
  for (const auto& part : fs::path(name)) {
    const std::string p = part.string();
    if (p.empty() || p == "." || p == "..") return false;
    for (const char c : p)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  }
  return true;
}

template <typename T>
bool take(std::string_view& in, T& out) {
  if (in.size() < sizeof(T)) return false;
  std::memcpy(&out, in.data(), sizeof(T));
  in.remove_prefix(sizeof(T));
  return true;
}

}  // namespace

void unpack_folder(std::string_view packed, const fs::path& root) {
  while (!packed.empty()) {
    std::uint16_t name_size = 0;
    std::uint32_t size = 0;
    if (!take(packed, name_size) || packed.size() < name_size) return;
    const std::string name(packed.substr(0, name_size));
    packed.remove_prefix(name_size);
    if (!take(packed, size) || packed.size() < size) return;
    if (plain_relative_path(name)) write_file(root / name, packed.substr(0, size));
    packed.remove_prefix(size);
  }
}

int run_plugfit(std::initializer_list<std::string> args) {
  std::vector<std::string> storage{"plugfit"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int code = plugfit::run_command_line(static_cast<int>(storage.size()), argv.data());
  if (code != 0 && code != 1 && code != 2) {
    std::fprintf(stderr, "fuzz: plugfit exited %d (expected 0, 1 or 2)\n", code);
    std::abort();
  }
  return code;
}

}  // namespace plugfit_fuzz
