#define BOOST_DLL_USE_STD_FS
#include "loader.hpp"

#include "build_paths.hpp"  // PLUGFIT_BUILD_ROOT, PLUGFIT_PLUGINDIR, PLUGFIT_PLUGINDIR_FROM_LIBDIR (meson)

#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <utility>

#include <boost/dll/shared_library.hpp>

#include <plugfit/plugin.hpp>
#include <plugfit/registry.hpp>

#include "../registry/registry_access.hpp"
#include "plugin_note.hpp"

namespace plugfit {

namespace fs = std::filesystem;

namespace {

// Handles of every library ever loaded. Deliberately never destroyed: a plugin's code must
// outlive every object, vtable and exception it handed to the host, including at exit.
std::vector<boost::dll::shared_library>& loaded_libraries() {
  static auto* libraries = new std::vector<boost::dll::shared_library>();
  return *libraries;
}
std::mutex& libraries_mutex() {
  static auto* mutex = new std::mutex();
  return *mutex;
}

bool valid_plugin_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

std::string abi_text(std::uint32_t major, std::uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

// Why a plugin folder or file cannot be trusted, or "" when it can: it, a folder above it, or
// (through symlinks) its real location or a folder above that is writable by everyone, so anyone
// could put a library there or swap one in. A sticky folder (/tmp) only lets owners rename its
// entries, so it does not count.
std::string writable_by_everyone(const fs::path& path) {
  std::error_code ec;
  for (const fs::path& start : {fs::absolute(path, ec).lexically_normal(), fs::canonical(path, ec)}) {
    if (start.empty()) continue;
    for (fs::path p = start;; p = p.parent_path()) {
      struct stat st {};
      if (::lstat(p.c_str(), &st) == 0 && !S_ISLNK(st.st_mode) && (st.st_mode & S_IWOTH) != 0 &&
          !(S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) != 0))
        return p == start ? "writable by everyone" : p.string() + " is writable by everyone";
      if (p == p.root_path() || p.parent_path() == p) break;
    }
  }
  return {};
}

bool inside_build_tree() {
#ifdef PLUGFIT_BUILD_ROOT
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return false;
  const std::string root = fs::weakly_canonical(PLUGFIT_BUILD_ROOT, ec).string() + "/";
  return !ec && exe.string().rfind(root, 0) == 0;
#else
  return false;
#endif
}

// Any object inside libplugfit: dladdr of its address names the library file it came from.
const char library_marker = 0;

// The plugin folder of the install this libplugfit.so belongs to, found from the library's own
// location, so that a --destdir or moved install loads its own plugins rather than the configured
// prefix's. Empty when the engine is linked statically (tests, benchmarks).
std::string plugindir_beside_library() {
#ifdef PLUGFIT_PLUGINDIR_FROM_LIBDIR
  Dl_info info{};
  if (::dladdr(&library_marker, &info) == 0 || info.dli_fname == nullptr) return {};
  const fs::path library = info.dli_fname;
  if (library.filename().string().rfind("libplugfit.so", 0) != 0) return {};
  std::error_code ec;
  const fs::path dir = fs::weakly_canonical(fs::absolute(library, ec).parent_path() / PLUGFIT_PLUGINDIR_FROM_LIBDIR, ec);
  return ec ? std::string() : dir.string();
#else
  return {};
#endif
}

// Two spellings of one folder (a symlinked prefix, "lib/../lib") are searched once.
std::string same_folder_key(const std::string& dir) {
  std::error_code ec;
  const fs::path canonical = fs::weakly_canonical(dir, ec);
  return ec ? dir : canonical.string();
}

}  // namespace

std::string plugin_of(const std::string& qualified_type) {
  const auto pos = qualified_type.find('>');
  return pos == std::string::npos ? std::string() : qualified_type.substr(0, pos);
}

std::vector<std::string> plugin_search_path(const std::vector<std::string>& extra_dirs, std::vector<std::string>* skipped) {
  std::vector<std::string> candidates;
  for (const auto& d : extra_dirs) candidates.push_back(fs::absolute(d).lexically_normal().string());
  if (const char* env = std::getenv("PLUGFIT_PLUGIN_PATH"); env != nullptr) {
    std::string list = env;
    for (std::size_t start = 0; start <= list.size();) {
      const std::size_t end = std::min(list.find(':', start), list.size());
      if (end > start) candidates.push_back(fs::absolute(list.substr(start, end - start)).lexically_normal().string());
      start = end + 1;
    }
  }
  if (inside_build_tree()) {
#ifdef PLUGFIT_BUILD_ROOT
    candidates.push_back(std::string(PLUGFIT_BUILD_ROOT) + "/plugins");
#endif
  } else if (std::string installed = plugindir_beside_library(); !installed.empty()) {
    candidates.push_back(std::move(installed));
  }
#ifdef PLUGFIT_PLUGINDIR
  candidates.push_back(PLUGFIT_PLUGINDIR);
#endif
  std::vector<std::string> path;
  std::set<std::string> seen;
  for (const auto& dir : candidates) {
    if (!seen.insert(same_folder_key(dir)).second) continue;
    if (const std::string why = writable_by_everyone(dir); !why.empty()) {
      if (skipped != nullptr) skipped->push_back(dir + " (" + why + ")");
      continue;
    }
    path.push_back(dir);
  }
  return path;
}

PluginLoader::PluginLoader(Registry& registry, const std::vector<std::string>& extra_dirs)
    : registry_(registry), search_path_(plugin_search_path(extra_dirs, &skipped_dirs_)) {}

std::string PluginLoader::search_path_text() const {
  std::string out;
  for (const auto& d : search_path_) out += (out.empty() ? "" : ", ") + d;
  for (const auto& d : skipped_dirs_) out += (out.empty() ? "" : ", ") + std::string("skipped ") + d;
  return out.empty() ? "(no directories)" : out;
}

std::string PluginLoader::find(const std::string& name) const {
  if (!valid_plugin_name(name))
    throw PluginError("\"" + name + "\" is not a plugin name (plugins are named, like \"custom_layers\"; paths to " +
                      "libraries are never accepted, add the directory with --plugin-path instead)");
  for (const auto& dir : search_path_) {
    for (const fs::path& candidate : {fs::path(dir) / (name + ".so"), fs::path(dir) / name / (name + ".so")}) {
      std::error_code ec;
      if (!fs::is_regular_file(candidate, ec)) continue;
      // The folder was checked; the file, its subfolder and a symlink's target are checked here.
      if (const std::string why = writable_by_everyone(candidate); !why.empty())
        throw PluginError("plugin \"" + name + "\" (" + candidate.string() + ") is refused: " +
                          (why == "writable by everyone" ? "the file is writable by everyone" : why));
      return candidate.string();
    }
  }
  throw PluginError("plugin \"" + name + "\" was not found (looked for " + name + ".so in: " + search_path_text() + ")");
}

const PluginInfo& PluginLoader::load(const std::string& name) {
  if (auto it = loaded_.find(name); it != loaded_.end()) return it->second;
  const std::string file = find(name);
  return loaded_.emplace(name, load_file(file, name, registry_)).first->second;
}

void PluginLoader::load_plugins_named_in(const Json& config) {
  if (config.is_object()) {
    for (auto it = config.begin(); it != config.end(); ++it) {
      if (it.key() == "class_name" && it.value().is_string()) {
        const std::string type = it.value().get<std::string>();
        const std::string plugin = plugin_of(type);
        if (plugin.empty() || is_loaded(plugin)) continue;
        try {
          load(plugin);
        } catch (const PluginError& e) {
          throw PluginError("the type \"" + type + "\" needs plugin \"" + plugin + "\": " + e.what());
        }
      } else {
        load_plugins_named_in(it.value());
      }
    }
  } else if (config.is_array()) {
    for (const auto& item : config) load_plugins_named_in(item);
  }
}

namespace {

// The checks on what a plugin declares, made on its note before anything in it runs.
void check_declaration(const PluginNote& note, const std::string& path, const std::string& expected_name) {
  const std::string label = "plugin \"" + note.name + "\" " + note.version + " (" + path + ")";
  if (note.abi_major != PLUGFIT_SDK_ABI_MAJOR)
    throw PluginError(label + " was built for SDK ABI " + abi_text(note.abi_major, note.abi_minor) +
                      ", but this plugfit has ABI " + abi_text(PLUGFIT_SDK_ABI_MAJOR, PLUGFIT_SDK_ABI_MINOR) +
                      "; rebuild it against this SDK");
  if (note.abi_minor > PLUGFIT_SDK_ABI_MINOR)
    throw PluginError(label + " was built for SDK ABI " + abi_text(note.abi_major, note.abi_minor) +
                      ", newer than this plugfit's " + abi_text(PLUGFIT_SDK_ABI_MAJOR, PLUGFIT_SDK_ABI_MINOR) +
                      "; upgrade plugfit or rebuild the plugin against this SDK");
  if (note.toolchain != PLUGFIT_TOOLCHAIN_TAG)
    throw PluginError(label + " was built with toolchain \"" + note.toolchain + "\", but this plugfit needs \"" +
                      PLUGFIT_TOOLCHAIN_TAG + "\"; rebuild it with the same compiler and libraries");
  if (!valid_plugin_name(note.name)) throw PluginError(path + " declares an invalid plugin name \"" + note.name + "\"");
  if (!expected_name.empty() && note.name != expected_name)
    throw PluginError("the file " + path + " should hold plugin \"" + expected_name + "\" but declares \"" + note.name + "\"");
}

}  // namespace

PluginInfo PluginLoader::load_file(const std::string& path, const std::string& expected_name, Registry& registry) {
  if (!fs::path(path).is_absolute()) throw PluginError("plugin file " + path + " is not an absolute path");
  const std::optional<PluginNote> note = read_plugin_note(path);
  if (!note)
    throw PluginError(path + " is not a plugfit plugin: it has no .note.plugfit (PLUGFIT_PLUGIN writes one; " +
                      "rebuild it against this SDK)");
  check_declaration(*note, path, expected_name);
  for (const TypeEntry* e : registry.entries())
    if (e->provider == note->name)
      throw PluginError("plugin \"" + note->name + "\" " + note->version + " (" + path +
                        ") is already loaded from another file (plugin names must be unique)");

  boost::dll::shared_library library;
  try {
    namespace mode = boost::dll::load_mode;
    library.load(path, mode::rtld_now | mode::rtld_local | static_cast<mode::type>(RTLD_NODELETE));
  } catch (const std::exception& e) {
    // Boost wraps the loader's text: "...load() failed (dlerror system message: TEXT): ...".
    std::string why = e.what();
    const std::string marker = "dlerror system message: ";
    if (const auto start = why.find(marker); start != std::string::npos) {
      const auto end = why.rfind("):");
      why = why.substr(start + marker.size(), end != std::string::npos && end > start ? end - start - marker.size()
                                                                                       : std::string::npos);
    }
    throw PluginError("plugin file " + path + " cannot be loaded: " + why);
  }
  // The descriptor must say what the note said: the checks were made on the note.
  const std::string label = "plugin \"" + note->name + "\" " + note->version + " (" + path + ")";
  if (!library.has("plugfit_plugin"))
    throw PluginError(label + " exports no plugfit_plugin descriptor (PLUGFIT_PLUGIN declares one)");
  const auto& d = library.get_alias<const plugfit_plugin_descriptor>("plugfit_plugin");
  if (d.struct_size < sizeof(plugfit_plugin_descriptor) || d.name == nullptr || d.version == nullptr ||
      d.toolchain == nullptr || d.register_types == nullptr)
    throw PluginError(path + " has a malformed plugfit_plugin descriptor");
  if (d.name != note->name || d.version != note->version || d.toolchain != note->toolchain ||
      d.sdk_abi_major != note->abi_major || d.sdk_abi_minor != note->abi_minor)
    throw PluginError(label + " has a plugfit_plugin descriptor that does not match its .note.plugfit");
  const std::string name = d.name;

  // The registrar stamps every type with this plugin's name: the plugin cannot name another.
  Registrar registrar = RegistryAccess::for_plugin(registry, name, d.version);
  try {
    d.register_types(registrar);
  } catch (const std::exception& e) {
    RegistryAccess::remove_provider(registry, name);
    throw PluginError(label + " failed to register its types: " + e.what());
  } catch (...) {
    RegistryAccess::remove_provider(registry, name);
    throw PluginError(label + " failed to register its types with a non-standard exception");
  }

  PluginInfo info{name, d.version, d.description != nullptr ? d.description : "", path, d.toolchain,
                  d.sdk_abi_major, d.sdk_abi_minor, {}};
  for (const TypeEntry* e : registry.entries())
    if (e->provider == name) info.types.push_back(std::string(kind_name(e->kind)) + " " + e->name);
  std::lock_guard<std::mutex> lock(libraries_mutex());
  loaded_libraries().push_back(std::move(library));
  return info;
}

PluginLoader::Scan PluginLoader::scan() const {
  Scan result;
  for (const auto& d : skipped_dirs_) result.refused.push_back({d, "directory skipped"});
  std::map<std::string, std::string> seen;  // plugin name -> file
  for (const auto& dir : search_path_) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.is_regular_file() && entry.path().extension() == ".so") files.push_back(entry.path());
      if (entry.is_directory()) {
        const fs::path inner = entry.path() / (entry.path().filename().string() + ".so");
        if (fs::is_regular_file(inner, ec)) files.push_back(inner);
      }
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      const std::string stem = file.stem().string();
      if (auto it = seen.find(stem); it != seen.end()) {
        result.refused.push_back({file.string(), "shadowed by " + it->second + " earlier on the search path"});
        continue;
      }
      if (const std::string why = writable_by_everyone(file); !why.empty()) {
        result.refused.push_back({file.string(), why == "writable by everyone" ? "the file is writable by everyone" : why});
        continue;
      }
      try {
        Registry scratch;
        result.plugins.push_back(load_file(file.string(), stem, scratch));
        seen[stem] = file.string();
      } catch (const std::exception& e) {
        result.refused.push_back({file.string(), e.what()});
      }
    }
  }
  return result;
}

}  // namespace plugfit
