// The plugin entry point: one exported, versioned descriptor per shared library.
//
//   void register_types(plugfit::Registrar& r) { r.add_layer<Scale>("Scale"); }
//   PLUGFIT_PLUGIN("acme", "1.2.0", register_types)
//
// The host reads the descriptor (a Boost.DLL alias named "plugfit_plugin") before it calls
// anything in the library and refuses the plugin when
//   - the SDK ABI major differs from the host's, or the minor is newer than the host's;
//   - the toolchain tag differs (compiler, C++ ABI, Boost, xtensor, nlohmann-json versions:
//     the SDK passes C++ types across the boundary, which is only safe with one toolchain);
//   - the name is not the one the host looked for (the file "acme.so" must declare "acme").
// Then it calls register_types with a Registrar bound to the plugin; every type registered
// there is known as "acme>Type" (the plugin cannot choose another provider or a bare name). An
// exception from register_types refuses the plugin, naming it, and forgets the types it added.
// Plugins are never unloaded.
#pragma once

#include <cstdint>

#include <boost/dll/alias.hpp>
#include <boost/version.hpp>
#include <nlohmann/json.hpp>
#include <xtensor/xtensor_config.hpp>

#include "export.hpp"
#include <plugfit/version.hpp>

namespace plugfit {
class Registrar;
}

#define PLUGFIT_STRINGIFY_(x) #x
#define PLUGFIT_STRINGIFY(x) PLUGFIT_STRINGIFY_(x)

// What must match between the host and a plugin for C++ types to cross the boundary safely.
#define PLUGFIT_TOOLCHAIN_TAG                                                                        \
  "gcc-" PLUGFIT_STRINGIFY(__GNUC__) ";gxx-abi-" PLUGFIT_STRINGIFY(__GXX_ABI_VERSION)               \
  ";cxx11-abi-" PLUGFIT_STRINGIFY(_GLIBCXX_USE_CXX11_ABI) ";boost-" PLUGFIT_STRINGIFY(BOOST_VERSION) \
  ";xtensor-" PLUGFIT_STRINGIFY(XTENSOR_VERSION_MAJOR) "." PLUGFIT_STRINGIFY(XTENSOR_VERSION_MINOR)  \
  ";json-" PLUGFIT_STRINGIFY(NLOHMANN_JSON_VERSION_MAJOR) "." PLUGFIT_STRINGIFY(NLOHMANN_JSON_VERSION_MINOR)

extern "C" {

// Layout version 1 (SDK ABI 2: register_types takes a Registrar). Fields are only ever appended; struct_size tells the host which exist.
struct plugfit_plugin_descriptor {
  std::uint32_t struct_size;
  std::uint32_t sdk_abi_major;
  std::uint32_t sdk_abi_minor;
  const char* toolchain;
  const char* name;
  const char* version;
  const char* description;
  void (*register_types)(plugfit::Registrar& registrar);
};

}  // extern "C"

#define PLUGFIT_PLUGIN_DESCRIBED(NAME, VERSION, DESCRIPTION, REGISTER_FN)                             \
  namespace plugfit_plugin_entry {                                                                    \
  extern "C" const plugfit_plugin_descriptor plugfit_plugin_descriptor_v1 = {                         \
      sizeof(plugfit_plugin_descriptor), PLUGFIT_SDK_ABI_MAJOR, PLUGFIT_SDK_ABI_MINOR,                \
      PLUGFIT_TOOLCHAIN_TAG, NAME, VERSION, DESCRIPTION, &REGISTER_FN};                               \
  }                                                                                                   \
  BOOST_DLL_ALIAS(plugfit_plugin_entry::plugfit_plugin_descriptor_v1, plugfit_plugin)

#define PLUGFIT_PLUGIN(NAME, VERSION, REGISTER_FN) PLUGFIT_PLUGIN_DESCRIBED(NAME, VERSION, "", REGISTER_FN)
