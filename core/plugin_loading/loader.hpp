// Finding and loading plugins by name.
//
// The search path is, in order: --plugin-path directories, PLUGFIT_PLUGIN_PATH (colon
// separated), the build tree's plugins/ folder when the running program lives in the build
// tree, and the installed plugindir. Plugin "acme" is the file acme.so in one of those
// directories, or in a subdirectory acme/ of one (the build tree's layout). Only absolute
// paths are opened; names that look like paths are refused, so a data file can name a plugin
// but never a library to open. Directories writable by everyone are skipped.
//
// A loaded library stays loaded for the life of the process (RTLD_NODELETE, and its handle is
// never released), because objects, vtables and exception types of a plugin may outlive any
// owner the host could name.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <plugfit/config.hpp>

namespace plugfit {

class Registry;

struct PluginInfo {
  std::string name, version, description, file, toolchain;
  std::uint32_t abi_major = 0, abi_minor = 0;
  std::vector<std::string> types;  // qualified, "layer acme>Scale"
};

struct RefusedPlugin {
  std::string file;
  std::string reason;
};

// Raised when a plugin cannot be used: bad input, exit code 2.
class PluginError : public InputError {
 public:
  using InputError::InputError;
};

class PluginLoader {
 public:
  // extra_dirs come first (the --plugin-path flags).
  PluginLoader(Registry& registry, const std::vector<std::string>& extra_dirs = {});

  // Loads plugin name into the registry (once; later calls return the same info).
  // Throws PluginError naming the plugin and the paths searched when it is not found, or the
  // file and the reason when it is refused.
  const PluginInfo& load(const std::string& name);
  bool is_loaded(const std::string& name) const { return loaded_.count(name) != 0; }
  // Marks name as provided without a library: the application's own types (Context::registrar),
  // so that a model naming them loads nothing.
  void note_provided(const std::string& name, const std::string& version) {
    loaded_.emplace(name, PluginInfo{name, version, "the application", "", "", 0, 0, {}});
  }
  const std::map<std::string, PluginInfo>& loaded() const { return loaded_; }

  // Loads the plugins that qualified type names in a config refer to ("acme>Scale" loads
  // acme): class_name fields anywhere in the JSON.
  void load_plugins_named_in(const Json& config);

  // Every library on the search path: the ones that load (into a scratch registry) and the
  // ones refused, with the reason.
  struct Scan {
    std::vector<PluginInfo> plugins;
    std::vector<RefusedPlugin> refused;
  };
  Scan scan() const;

  const std::vector<std::string>& search_path() const { return search_path_; }
  std::string search_path_text() const;

  // Loads the library at an absolute path, checks its descriptor (expecting expected_name
  // unless empty) and registers its types into registry. Throws PluginError.
  static PluginInfo load_file(const std::string& path, const std::string& expected_name, Registry& registry);

 private:
  std::string find(const std::string& name) const;

  Registry& registry_;
  std::vector<std::string> skipped_dirs_;  // filled while search_path_ is computed: declared first
  std::vector<std::string> search_path_;
  std::map<std::string, PluginInfo> loaded_;
};

// The plugin search path with the given --plugin-path directories in front.
std::vector<std::string> plugin_search_path(const std::vector<std::string>& extra_dirs,
                                            std::vector<std::string>* skipped = nullptr);
// "acme" for "acme>Scale", empty for a built-in name.
std::string plugin_of(const std::string& qualified_type);

}  // namespace plugfit
