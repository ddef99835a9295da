// Host side of the registry: the only place registrars are made and providers forgotten.
#pragma once

#include <string>

#include <plugfit/registry.hpp>

namespace plugfit {

struct RegistryAccess {
  // The registrar plugfit's own types register through: bare names.
  static Registrar builtins(Registry& registry) { return Registrar(registry, std::string(), std::string()); }
  // The registrar handed to plugin's register function.
  //   requires: plugin is a valid, non-empty plugin name (the loader checked it).
  static Registrar for_plugin(Registry& registry, std::string plugin, std::string version) {
    return Registrar(registry, std::move(plugin), std::move(version));
  }
  // Forgets every type a plugin registered (when its registration failed half way).
  static void remove_provider(Registry& registry, const std::string& plugin) { registry.remove_provider(plugin); }
};

}  // namespace plugfit
