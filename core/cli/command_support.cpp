#include "command_support.hpp"

#include <cstdio>

namespace plugfit {

std::string format_logs(const Logs& logs) {
  std::string out;
  for (const auto& [key, value] : logs) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.4f", value);
    out += (out.empty() ? "" : " - ") + key + ": " + buf;
  }
  return out;
}

ArgParser& plugin_options(ArgParser& parser) {
  return parser.repeated_option("--plugin", "NAME", "load the plugin NAME (searched on the plugin path) first")
      .repeated_option("--plugin-path", "DIR", "search DIR for plugins before PLUGFIT_PLUGIN_PATH and the defaults");
}

}  // namespace plugfit
