// Plugins that must be refused, one per file, selected by -DVARIANT=...: each shows the host's
// checks on the descriptor before it calls anything in the library.
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include <plugfit/sdk.hpp>

namespace {

class Noop final : public plugfit::Callback {
 public:
  explicit Noop(plugfit::Config&) {}
};

[[maybe_unused]] void register_noop(plugfit::Registrar& r) { r.add_callback<Noop>("Noop"); }
[[maybe_unused]] void register_throws(plugfit::Registrar&) { throw std::runtime_error("no licence key found"); }
// What a plugin could try to register as someone else: another plugin's qualified name, and a
// name that would read as a bare (built-in) one. The registrar refuses both.
[[maybe_unused]] void register_forged_provider(plugfit::Registrar& r) { r.add_callback<Noop>("custom_layers>Noop"); }
[[maybe_unused]] void register_bare_name(plugfit::Registrar& r) { r.add_callback<Noop>(">Noop"); }
[[maybe_unused]] void register_twice(plugfit::Registrar& r) {
  r.add_callback<Noop>("Noop");
  r.add_callback<Noop>("Noop");
}

}  // namespace

#define DESCRIPTOR(NAME, MAJOR, MINOR, TOOLCHAIN, FN)              \
  PLUGFIT_PLUGIN_NOTE_(NAME, "9.9.9", MAJOR, MINOR, TOOLCHAIN) \
  PLUGFIT_PLUGIN_DESCRIPTOR_(NAME, "9.9.9", "test plugin", FN, MAJOR, MINOR, TOOLCHAIN)

#if VARIANT == 1
DESCRIPTOR("bad_abi_major", PLUGFIT_SDK_ABI_MAJOR + 1, 0, PLUGFIT_TOOLCHAIN_TAG, register_noop)
#elif VARIANT == 2
DESCRIPTOR("bad_abi_minor", PLUGFIT_SDK_ABI_MAJOR, PLUGFIT_SDK_ABI_MINOR + 1, PLUGFIT_TOOLCHAIN_TAG, register_noop)
#elif VARIANT == 3
DESCRIPTOR("bad_toolchain", PLUGFIT_SDK_ABI_MAJOR, PLUGFIT_SDK_ABI_MINOR, "gcc-4;gxx-abi-1002", register_noop)
#elif VARIANT == 4
DESCRIPTOR("bad_register_throws", PLUGFIT_SDK_ABI_MAJOR, PLUGFIT_SDK_ABI_MINOR, PLUGFIT_TOOLCHAIN_TAG, register_throws)
#elif VARIANT == 5
DESCRIPTOR("bad_duplicate_type", PLUGFIT_SDK_ABI_MAJOR, PLUGFIT_SDK_ABI_MINOR, PLUGFIT_TOOLCHAIN_TAG, register_twice)
#elif VARIANT == 6
// A library that is no plugin at all: no descriptor.
extern "C" __attribute__((visibility("default"))) int bad_no_descriptor_answer() { return 42; }
#elif VARIANT == 7
// The file is bad_wrong_name.so, but it declares another name.
DESCRIPTOR("someone_else", PLUGFIT_SDK_ABI_MAJOR, PLUGFIT_SDK_ABI_MINOR, PLUGFIT_TOOLCHAIN_TAG, register_noop)
#elif VARIANT == 8
// Needs a library that is not installed next to it (the test moves the plugin away).
extern "C" int plugfit_test_dependency_value();
void register_with_dependency(plugfit::Registrar& r) {
  if (plugfit_test_dependency_value() != 7) throw std::runtime_error("unexpected dependency");
  r.add_callback<Noop>("Noop");
}
DESCRIPTOR("bad_missing_dependency", PLUGFIT_SDK_ABI_MAJOR, PLUGFIT_SDK_ABI_MINOR, PLUGFIT_TOOLCHAIN_TAG,
           register_with_dependency)
#elif VARIANT == 9
DESCRIPTOR("bad_forged_provider", PLUGFIT_SDK_ABI_MAJOR, PLUGFIT_SDK_ABI_MINOR, PLUGFIT_TOOLCHAIN_TAG,
           register_forged_provider)
#elif VARIANT == 10
DESCRIPTOR("bad_bare_name", PLUGFIT_SDK_ABI_MAJOR, PLUGFIT_SDK_ABI_MINOR, PLUGFIT_TOOLCHAIN_TAG, register_bare_name)
#elif VARIANT == 11
// Declares another SDK ABI and writes a marker file from a static constructor: the host must
// refuse it from its note alone, so the marker is never written.
DESCRIPTOR("bad_abi_constructor", PLUGFIT_SDK_ABI_MAJOR + 1, 0, PLUGFIT_TOOLCHAIN_TAG, register_noop)
namespace {
[[gnu::constructor]] void write_marker() {
  if (const char* marker = std::getenv("PLUGFIT_TEST_MARKER"); marker != nullptr)
    if (std::FILE* f = std::fopen(marker, "w"); f != nullptr) std::fclose(f);
}
}  // namespace
#elif VARIANT == 12
// A descriptor without its note, as no PLUGFIT_PLUGIN writes it: nothing can be checked before loading.
PLUGFIT_PLUGIN_DESCRIPTOR_("bad_no_note", "9.9.9", "test plugin", register_noop, PLUGFIT_SDK_ABI_MAJOR,
                           PLUGFIT_SDK_ABI_MINOR, PLUGFIT_TOOLCHAIN_TAG)
#elif VARIANT == 13
// A note that passes the checks over a descriptor that says otherwise.
PLUGFIT_PLUGIN_NOTE_("bad_note_mismatch", "9.9.9", PLUGFIT_SDK_ABI_MAJOR, PLUGFIT_SDK_ABI_MINOR, PLUGFIT_TOOLCHAIN_TAG)
PLUGFIT_PLUGIN_DESCRIPTOR_("bad_note_mismatch", "9.9.9", "test plugin", register_noop, PLUGFIT_SDK_ABI_MAJOR + 1, 0,
                           PLUGFIT_TOOLCHAIN_TAG)
#endif
