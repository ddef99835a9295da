// The plugfit subcommands, each taking its arguments after the command name.
// Each returns the exit code; errors are thrown as plugfit::Error (main prints them).
#pragma once

#include <string>
#include <vector>

namespace plugfit {

using Args = std::vector<std::string>;

int cmd_train(const Args& args);
int cmd_plugins(const Args& args);
int cmd_evaluate(const Args& args);
int cmd_predict(const Args& args);
int cmd_inspect(const Args& args);
int cmd_convert(const Args& args);
int cmd_plot(const Args& args);

}  // namespace plugfit
