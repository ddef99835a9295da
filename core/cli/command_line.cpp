// The plugfit command: train, evaluate, predict, inspect, convert, plot, plugins.
#include <plugfit/cli.hpp>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include <plugfit/error.hpp>
#include <plugfit/version.hpp>

#include "arg_parser.hpp"
#include "commands.hpp"

namespace {

constexpr const char* kUsage = R"(usage: plugfit COMMAND [ARGS]

Train Keras-style Sequential models whose callbacks, layers and checkpoint backends are plugins.

commands:
  train RUN.json        train the model a run file describes; --checkpoint URI saves a full
                        checkpoint every epoch, --resume continues from the latest good one
  evaluate URI          loss and metrics of a checkpoint's model (URI#NAME picks one; default latest)
  predict URI           the model's outputs for --input (.npy, .csv or a data spec), written to
                        --output as .csv or .npy
  inspect URI           the checkpoints held: kind, epoch, metrics, types and plugins, sizes, status
  convert SRC DST       copy checkpoints between backends bit for bit, verified
  plot HISTORY.csv -o OUT.svg
                        training curves from a CSVLogger (or .jsonl) file as a self-contained SVG
  plugins               every plugin found: version, ABI, file, types, and why a file was refused

  plugfit COMMAND --help (or -h, or plugfit help COMMAND) lists a command's options.
  -h, --help            this text
  --version             the plugfit version and SDK ABI

exit codes:
  0                     success
  1                     training or runtime failure (including a run stopped by TerminateOnNaN)
  2                     bad usage or bad input (a message names the file, field or option)
  130, 143              interrupted by SIGINT (Ctrl-C) or SIGTERM, after saving what was asked
)";

using Command = int (*)(const std::vector<std::string>&);
const std::vector<std::pair<std::string, Command>>& commands() {
  static const std::vector<std::pair<std::string, Command>> table = {
      {"train", plugfit::cmd_train},     {"evaluate", plugfit::cmd_evaluate}, {"predict", plugfit::cmd_predict},
      {"inspect", plugfit::cmd_inspect}, {"convert", plugfit::cmd_convert},   {"plot", plugfit::cmd_plot},
      {"plugins", plugfit::cmd_plugins}};
  return table;
}

int dispatch(std::vector<std::string> argv) {
  if (argv.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (argv[0] == "help" && argv.size() > 1) argv = {argv[1], "--help"};
  if (argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (argv[0] == "--version") {
    std::printf("plugfit %s (SDK ABI %d.%d)\n", PLUGFIT_VERSION, PLUGFIT_SDK_ABI_MAJOR, PLUGFIT_SDK_ABI_MINOR);
    return 0;
  }
  const std::vector<std::string> rest(argv.begin() + 1, argv.end());
  std::vector<std::string> names;
  for (const auto& [name, command] : commands()) {
    if (name == argv[0]) return command(rest);
    names.push_back(name);
  }
  const auto near = plugfit::nearest_name(argv[0], names);
  throw plugfit::UsageError("plugfit: unknown command \"" + argv[0] + "\"" +
                            (near ? "; did you mean " + *near + "?" : " (see plugfit --help)"));
}

}  // namespace

namespace plugfit {

int run_command_line(int argc, char** argv) {
  // A file size limit must fail the write (EFBIG), not kill the process mid-save.
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    return dispatch(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const plugfit::UsageError& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s\n", e.what());
    return e.exit_code();
  } catch (const plugfit::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "plugfit: error: %s\n", e.what());
    return e.exit_code();
  } catch (const std::bad_alloc&) {
    std::fflush(stdout);
    std::fprintf(stderr, "plugfit: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "plugfit: error: %s\n", e.what());
    return 1;
  }
}

}  // namespace plugfit
