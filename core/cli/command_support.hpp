// What the CLI's commands share: the logs as one line, the plugin flags.
#pragma once

#include <string>

#include <plugfit/callback.hpp>

#include "arg_parser.hpp"

namespace plugfit {

// "loss: 0.3012 - accuracy: 0.8934"
std::string format_logs(const Logs& logs);

// --plugin and --plugin-path, as every command that builds types reads them.
ArgParser& plugin_options(ArgParser& parser);

}  // namespace plugfit
