// plugfit::Context: what type names resolve to (Keras's custom_objects).
//
// A Context holds the built-in types, the plugins loaded by name, and the types the application
// registers itself. Models made from it keep it alive (copies share one registry), so the
// plugins their layers come from stay loaded.
//
//   plugfit::Context ctx({.plugin_path = {"build/plugins"}, .plugins = {"custom_layers"}});
//   ctx.registrar("myapp").add_layer<MyScale>("MyScale");   // known as "myapp>MyScale"
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "callback.hpp"
#include "communicator.hpp"
#include "config.hpp"
#include "export.hpp"
#include "registry.hpp"

namespace plugfit {

struct ContextOptions {
  // Searched first for plugins, before PLUGFIT_PLUGIN_PATH and the install's plugin folder.
  std::vector<std::string> plugin_path{};
  // Plugins to load at once, by name ("custom_layers" finds libcustom_layers.so).
  std::vector<std::string> plugins{};
  // Data-parallel training over a Communicator plugin ("mpi": plugins/mpi, under mpirun), as
  // Keras's MultiWorkerMirroredStrategy scope: fit() of models made from this Context splits
  // each global batch across the ranks. Empty: one process.
  std::string distributed{};
  // With distributed: a collective (a step's all-reduce) that waits longer than this for the other
  // ranks ends the job with a sentence (a rank that hangs); 0 waits forever.
  double collective_timeout_seconds = 0.0;
};

class PLUGFIT_API Context {
 public:
  // ensures: the built-in types are registered and every plugin in options.plugins is loaded,
  // or InputError names the plugin and the folders searched.
  explicit Context(const ContextOptions& options = {});
  ~Context();
  Context(const Context&);             // shares the registry
  Context& operator=(const Context&);

  // Loads a plugin by name (once). Throws InputError naming it and the folders searched.
  void load_plugin(const std::string& name);
  // Loads the plugins that qualified type names ("acme>Scale") in a config refer to.
  void load_plugins_named_in(const Json& config);

  // The registrar for the application's own C++ types: registered as "app_name>Type", so the
  // models using them save and load by name in any process that registers them the same way.
  //   requires: app_name is a valid plugin-style name, not a loaded plugin's.
  Registrar& registrar(const std::string& app_name);

  // Any registered callback by name with its Keras-style config ("CSVLogger", {"filename": ...}),
  // built-in or from a plugin (loaded on demand for "acme>Name"). InputError names a bad key.
  std::unique_ptr<Callback> create_callback(const std::string& name, const Json& config = Json::object()) const;

  const Registry& registry() const;
  // The communicator ContextOptions::distributed made (shared by copies), or nullptr.
  Communicator* communicator() const;

 private:
  friend struct ContextAccess;
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace plugfit
