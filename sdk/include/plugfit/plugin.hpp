// The plugin entry point: one exported, versioned descriptor per shared library.
//
//   void register_types(plugfit::Registrar& r) { r.add_layer<Scale>("Scale"); }
//   PLUGFIT_PLUGIN("acme", "1.2.0", register_types)
//
// The macro also writes the descriptor's plain fields (ABI, toolchain, name, version) into an
// ELF note, ".note.plugfit", which the host reads from the file before it loads the library:
// a plugin that fails the checks below is refused without any of its code (static
// constructors included) ever running. After loading, the descriptor (a Boost.DLL alias named
// "plugfit_plugin") must agree with the note. The host refuses the plugin when
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

// The note's layout (an ELF note: owner "plugfit", type 1). text holds TOOLCHAIN, NAME and
// VERSION, each ending in '\0': which is why NAME and VERSION must be string literals.
#define PLUGFIT_PLUGIN_NOTE_TYPE 1u
#define PLUGFIT_PLUGIN_NOTE_TEXT_(NAME, VERSION, TOOLCHAIN) TOOLCHAIN "\0" NAME "\0" VERSION

// The note and the descriptor with the fields given: PLUGFIT_PLUGIN's parts (tests use them to
// build plugins the host must refuse).
#define PLUGFIT_PLUGIN_NOTE_(NAME, VERSION, ABI_MAJOR, ABI_MINOR, TOOLCHAIN)                                   \
  namespace plugfit_plugin_entry {                                                                          \
  struct plugfit_plugin_note {                                                                              \
    std::uint32_t owner_size, desc_size, type;                                                              \
    char owner[8];                                                                                          \
    std::uint32_t abi_major, abi_minor;                                                                     \
    char text[sizeof(PLUGFIT_PLUGIN_NOTE_TEXT_(NAME, VERSION, TOOLCHAIN))];                                 \
  };                                                                                                        \
  [[gnu::section(".note.plugfit"), gnu::used, gnu::aligned(4)]] const plugfit_plugin_note plugfit_note = {  \
      8, 2 * sizeof(std::uint32_t) + sizeof(PLUGFIT_PLUGIN_NOTE_TEXT_(NAME, VERSION, TOOLCHAIN)),           \
      PLUGFIT_PLUGIN_NOTE_TYPE, "plugfit", ABI_MAJOR, ABI_MINOR, PLUGFIT_PLUGIN_NOTE_TEXT_(NAME, VERSION, TOOLCHAIN)}; \
  }

#define PLUGFIT_PLUGIN_DESCRIPTOR_(NAME, VERSION, DESCRIPTION, REGISTER_FN, ABI_MAJOR, ABI_MINOR, TOOLCHAIN)          \
  namespace plugfit_plugin_entry {                                                                                 \
  extern "C" const plugfit_plugin_descriptor plugfit_plugin_descriptor_v1 = {                                      \
      sizeof(plugfit_plugin_descriptor), ABI_MAJOR, ABI_MINOR, TOOLCHAIN, NAME, VERSION, DESCRIPTION, &REGISTER_FN}; \
  }                                                                                                                \
  BOOST_DLL_ALIAS(plugfit_plugin_entry::plugfit_plugin_descriptor_v1, plugfit_plugin)

#define PLUGFIT_PLUGIN_DESCRIBED(NAME, VERSION, DESCRIPTION, REGISTER_FN)                                       \
  PLUGFIT_PLUGIN_NOTE_(NAME, VERSION, PLUGFIT_SDK_ABI_MAJOR, PLUGFIT_SDK_ABI_MINOR, PLUGFIT_TOOLCHAIN_TAG)        \
  PLUGFIT_PLUGIN_DESCRIPTOR_(NAME, VERSION, DESCRIPTION, REGISTER_FN, PLUGFIT_SDK_ABI_MAJOR, PLUGFIT_SDK_ABI_MINOR, \
                             PLUGFIT_TOOLCHAIN_TAG)

#define PLUGFIT_PLUGIN(NAME, VERSION, REGISTER_FN) PLUGFIT_PLUGIN_DESCRIBED(NAME, VERSION, "", REGISTER_FN)
