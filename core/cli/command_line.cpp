// The plugfit command: train, evaluate, predict, plugins, inspect, convert.
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

#include "commands.hpp"

namespace {

constexpr const char* kUsage = R"(usage: plugfit COMMAND [ARGS]

Train Keras-style Sequential models whose callbacks, layers and checkpoint backends are plugins.

commands:
  train RUN.json [--epochs N] [--batch-size N] [--plugin NAME]... [--plugin-path DIR]...
                 [--checkpoint URI] [--resume] [--verbose 0|1|2] [--seed N]
                        train the model a run file describes; with a checkpoint URI, save a full
                        checkpoint every epoch; --resume continues from the latest good one
  evaluate URI [--data SPEC] [--batch-size N]
                        loss and metrics of a checkpoint's model (URI#NAME picks one; default latest)
  predict URI --input FILE --output FILE
                        the model's outputs for inputs (.npy or a data spec) into a .npy file
  inspect URI [--json]  the checkpoints held: kind, epoch, metrics, types and plugins, sizes, status
  convert SRC_URI DST_URI [--only latest|best|NAME]
                        copy checkpoints between backends bit for bit, verified
  plot HISTORY.csv -o OUT.svg [--title TEXT]
                        training curves from a CSVLogger (or .jsonl) file as a self-contained SVG
  plugins [--json] [--plugin-path DIR]...
                        every plugin found: version, ABI, file, types, and why a file was refused
  --help                this text
  --version             the plugfit version and SDK ABI

Exit codes: 0 success, 1 training or runtime failure, 2 bad usage or bad input.
)";

int dispatch(const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
    std::fputs(kUsage, argv.empty() ? stderr : stdout);
    return argv.empty() ? 2 : 0;
  }
  if (argv[0] == "--version") {
    std::printf("plugfit %s (SDK ABI %d.%d)\n", PLUGFIT_VERSION, PLUGFIT_SDK_ABI_MAJOR, PLUGFIT_SDK_ABI_MINOR);
    return 0;
  }
  const std::vector<std::string> rest(argv.begin() + 1, argv.end());
  if (argv[0] == "train") return plugfit::cmd_train(rest);
  if (argv[0] == "plugins") return plugfit::cmd_plugins(rest);
  if (argv[0] == "evaluate") return plugfit::cmd_evaluate(rest);
  if (argv[0] == "predict") return plugfit::cmd_predict(rest);
  if (argv[0] == "inspect") return plugfit::cmd_inspect(rest);
  if (argv[0] == "convert") return plugfit::cmd_convert(rest);
  if (argv[0] == "plot") return plugfit::cmd_plot(rest);
  throw plugfit::InputError("unknown command \"" + argv[0] + "\" (see plugfit --help)");
}

}  // namespace

namespace plugfit {

int run_command_line(int argc, char** argv) {
  // A file size limit must fail the write (EFBIG), not kill the process mid-save.
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    return dispatch(std::vector<std::string>(argv + 1, argv + argc));
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
