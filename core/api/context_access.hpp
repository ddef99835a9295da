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
  explicit Impl(const std::vector<std::string>& plugin_path);
};

struct ContextAccess {
  static Registry& registry(const Context& context) { return context.impl_->registry; }
  static PluginLoader& loader(const Context& context) { return context.impl_->loader; }
};

}  // namespace plugfit
