#include "context_access.hpp"

#include <algorithm>
#include <cctype>

#include "../builtins/builtins.hpp"
#include "../registry/registry_access.hpp"

namespace plugfit {

// The built-ins register before the loader exists: it keeps a reference to the registry.
Context::Impl::Impl(const std::vector<std::string>& plugin_path)
    : registry(), loader((register_builtins(registry), registry), plugin_path) {}

Context::Context(const ContextOptions& options) : impl_(std::make_shared<Impl>(options.plugin_path)) {
  for (const auto& name : options.plugins) impl_->loader.load(name);
  if (!(options.collective_timeout_seconds >= 0.0))
    throw InputError("ContextOptions: \"collective_timeout_seconds\" must be non-negative (0: no timeout)");
  if (!options.distributed.empty()) {
    // "mpi" is the plugin "mpi" and its "mpi>Communicator", as a backend scheme names its plugin.
    const std::string& name = options.distributed;
    const std::string type = name + ">Communicator";
    if (impl_->registry.find(TypeKind::communicator, type) == nullptr) impl_->loader.load(name);
    if (impl_->registry.find(TypeKind::communicator, type) == nullptr)
      throw InputError("--distributed " + name + ": the plugin \"" + name + "\" registers no \"" + type + "\"");
    impl_->communicator = impl_->registry.create_communicator(type, Json::object());
    impl_->collective_timeout = options.collective_timeout_seconds;
    impl_->distributed_backend = name;
  }
}
Context::~Context() = default;
Context::Context(const Context&) = default;
Context& Context::operator=(const Context&) = default;

void Context::load_plugin(const std::string& name) { impl_->loader.load(name); }

void Context::load_plugins_named_in(const Json& config) { impl_->loader.load_plugins_named_in(config); }

Registrar& Context::registrar(const std::string& app_name) {
  if (auto it = impl_->app_registrars.find(app_name); it != impl_->app_registrars.end()) return *it->second;
  const bool valid = !app_name.empty() && app_name.size() <= 64 &&
                     std::all_of(app_name.begin(), app_name.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
                     });
  if (!valid)
    throw InputError("Context::registrar: \"" + app_name +
                     "\" is not a valid application name (a letter or '_', digits, '_' or '-', at most 64)");
  if (impl_->loader.is_loaded(app_name))
    throw InputError("Context::registrar: \"" + app_name + "\" is the name of a loaded plugin");
  impl_->loader.note_provided(app_name, "app");
  // Registrar is neither copyable nor movable: new from the prvalue elides both.
  std::unique_ptr<Registrar> registrar(new Registrar(RegistryAccess::for_plugin(impl_->registry, app_name, "app")));
  return *impl_->app_registrars.emplace(app_name, std::move(registrar)).first->second;
}

std::unique_ptr<Callback> Context::create_callback(const std::string& name, const Json& config) const {
  impl_->loader.load_plugins_named_in({{"class_name", name}});
  return impl_->registry.create_callback(name, config);
}

const Registry& Context::registry() const { return impl_->registry; }

Communicator* Context::communicator() const { return impl_->communicator.get(); }

}  // namespace plugfit
