// The plugin loader's ELF note reader, which reads a library before anything in it may run.
#include "fuzz_support.hpp"
#include "plugin_loading/loader.hpp"
#include "plugin_loading/plugin_note.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = plugfit_fuzz::fresh_scratch() / "plugin.so";
  plugfit_fuzz::write_file(file, plugfit_fuzz::bytes_of(data, size));
  try {
    plugfit::read_plugin_note(file.string());
  } catch (const plugfit::PluginError&) {
  }
  return 0;
}
