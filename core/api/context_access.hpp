// Host side of plugfit::Context: the registry and loader behind it.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <plugfit/context.hpp>

#include "../plugin_loading/loader.hpp"

namespace plugfit {

struct Context::Impl {
  Registry registry;
  PluginLoader loader;
  std::map<std::string, std::unique_ptr<Registrar>> app_registrars;
  // Last: destroyed (MPI_Finalize) before the loader unloads the plugin that made it.
  std::unique_ptr<Communicator> communicator;
  double collective_timeout = 0.0;
  std::string distributed_backend;  // ContextOptions::distributed
  explicit Impl(const std::vector<std::string>& plugin_path);
};

struct ContextAccess {
  static Registry& registry(const Context& context) { return context.impl_->registry; }
  static PluginLoader& loader(const Context& context) { return context.impl_->loader; }
  static double collective_timeout(const Context& context) { return context.impl_->collective_timeout; }
  static const std::string& distributed_backend(const Context& context) { return context.impl_->distributed_backend; }
};

}  // namespace plugfit
