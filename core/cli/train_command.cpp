// plugfit train: a run file through the public API (Sequential::fit), in one process or
// data-parallel under mpirun.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

#include <plugfit/registry.hpp>

#include "../api/context_access.hpp"
#include "../checkpoint/store.hpp"
#include "../data/dataset.hpp"
#include "../training/callbacks/terminate_on_nan.hpp"
#include "../training/data_parallel.hpp"
#include "../training/interrupt.hpp"
#include "../training/thread_policy.hpp"
#include "arg_parser.hpp"
#include "command_support.hpp"
#include "commands.hpp"
#include "run_file.hpp"

namespace plugfit {

namespace {

Json type_spec_json(const TypeSpec& spec) { return {{"class_name", spec.class_name}, {"config", spec.config}}; }

CheckpointManagerOptions manager_options(const Json& spec, const std::string& where) {
  CheckpointManagerOptions options;
  if (!spec.is_object()) return options;
  Config c(spec, where);
  c.accept({"uri"});
  if (c.has("max_to_keep")) options.max_to_keep = c.get<std::size_t>("max_to_keep", 5);
  else if (c.json().contains("max_to_keep")) options.max_to_keep.reset();  // null keeps all
  if (c.has("keep_every_n_epochs")) options.keep_every_n_epochs = c.get<int>("keep_every_n_epochs", 1);
  options.monitor = c.get<std::string>("monitor", options.monitor);
  options.mode = c.get<std::string>("mode", options.mode);
  options.async = c.get<bool>("async", options.async);
  c.check_all_used();
  return options;
}

double parse_seconds(const std::string& text, const std::string& what) {
  char* end = nullptr;
  errno = 0;
  const double seconds = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno != 0 || !(seconds >= 0.0))
    throw InputError(what + " must be a non-negative number of seconds (0: none), got \"" + text + "\"");
  return seconds;
}

// Ranks other than 0 print nothing on stdout (progress, verbose callbacks); stderr stays, each
// line there prefixed with the rank.
void silence_stdout() {
  std::fflush(stdout);
  const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null < 0) return;
  ::dup2(null, STDOUT_FILENO);
  ::close(null);
}

// A failure on one rank of a data-parallel run: its sentence, prefixed "[rank r/N]", then every
// rank ends (a rank that returned instead would leave the others waiting in a collective). An
// error every rank throws alike is rank 0's to report: the others wait for its abort.
[[noreturn]] void end_job(Communicator& communicator, const std::exception& error) {
  const auto* known = dynamic_cast<const Error*>(&error);
  const int exit_code = known != nullptr ? known->exit_code() : 1;
  std::fflush(stdout);
  if (dynamic_cast<const ThrownOnEveryRank*>(&error) != nullptr && communicator.rank() != 0) {
    std::this_thread::sleep_for(std::chrono::seconds(30));  // rank 0's MPI_Abort ends this process first
    communicator.abort(exit_code);
  }
  std::fprintf(stderr, "[rank %d/%d] plugfit: error: %s\n", communicator.rank(), communicator.size(), error.what());
  std::fflush(stderr);
  communicator.abort(exit_code);
  std::_Exit(1);  // abort() does not return; GCC does not see [[noreturn]] through the virtual call
}

int train_run(RunSpec& run, const ArgParser& parser, Context& context, const std::string& checkpoint_uri) {
  const Communicator* communicator = context.communicator();
  const bool writer = communicator == nullptr || communicator->rank() == 0;
  for (const auto& name : run.plugins) context.load_plugin(name);
  // Qualified type names ("acme>Scale") load their plugin by name, as a saved model does.
  context.load_plugins_named_in(run.model);
  for (const auto* specs : {&run.callbacks, &run.metrics})
    for (const auto& spec : *specs) context.load_plugins_named_in({{"class_name", spec.class_name}});
  context.load_plugins_named_in({{"class_name", run.optimizer.class_name}});
  context.load_plugins_named_in({{"class_name", run.loss.class_name}});

  // The data specs are the run file's (a file they name is named in the sentence too).
  const Dataset train = in_run_file(run.path, [&] { return load_dataset(run.train_data); });
  std::unique_ptr<Dataset> validation, test;
  in_run_file(run.path, [&] {
    if (!run.validation_data.empty()) validation = std::make_unique<Dataset>(load_dataset(run.validation_data));
    if (!run.test_data.empty()) test = std::make_unique<Dataset>(load_dataset(run.test_data));
  });

  Sequential model = in_run_file(run.path, [&] { return Sequential::from_config(run.model, context); });
  const std::uint64_t seed = run.seed.value_or(std::random_device{}());
  in_run_file(run.path, [&] {
    model.build(model.declared_input_shape().value_or(train.sample_shape()), seed);
    CompileOptions compile{type_spec_json(run.optimizer), type_spec_json(run.loss), {}};
    for (const auto& m : run.metrics) compile.metrics.push_back(type_spec_json(m));
    model.compile(compile);
  });
  if (!run.load_weights.empty() && writer) {  // rank 0's weights reach the others in fit()
    const CheckpointLocation loaded = model.load_weights(run.load_weights);
    if (run.verbose > 0) std::printf("Loaded weights from %s/%s\n", loaded.uri.c_str(), loaded.name.c_str());
  }

  std::vector<std::unique_ptr<Callback>> owned;
  FitOptions options;
  for (const auto& spec : run.callbacks) {
    owned.push_back(in_run_file(run.path, [&] { return context.create_callback(spec.class_name, spec.config); }));
    options.callbacks.emplace_back(owned.back().get());
  }
  options.checkpoint = checkpoint_uri;
  if (!checkpoint_uri.empty()) options.checkpoint_options = manager_options(run.checkpoint, run.path + ": \"checkpoint\"");
  options.resume = parser.has_flag("--resume");
  if (auto from = parser.get("--resume-from")) options.resume_from = *from;
  options.overwrite = parser.has_flag("--overwrite");
  options.checkpoint_info = {{"data", {{"train", run.train_data}, {"validation", run.validation_data},
                                       {"test", run.test_data}}}};
  options.epochs = run.epochs;
  options.batch_size = run.batch_size;
  options.shuffle = run.shuffle;
  options.validation_split = run.validation_split;
  options.validation_data = validation.get();
  options.verbose = run.verbose;
  options.seed = seed;
  options.threads = run.threads;
  options.gradient_block_rows = run.gradient_block_rows;
  try {
    model.fit(train, options);
  } catch (const TrainingInterrupted& stop) {
    // One line, then 128 + the signal, as a shell reports a process the signal ended.
    const std::string manager_uri =
        checkpoint_uri.empty() ? std::string()
                               : open_backend(parse_checkpoint_uri(checkpoint_uri), context.registry(), &ContextAccess::loader(context))->uri();
    std::string saved;
    bool manager_saved = false;
    for (const auto& location : stop.saved()) {
      saved += (saved.empty() ? "saved " : ", ") + location;
      manager_saved = manager_saved || (!manager_uri.empty() && location.rfind(manager_uri + "#", 0) == 0);
    }
    const char* next = manager_saved ? "resume with --resume"
                       : saved.empty() ? "nothing saved (no --checkpoint, no BackupAndRestore)"
                                       : "run again to resume";
    std::fflush(stdout);
    if (writer)  // every rank stopped after the same batch; rank 0 saved
      std::fprintf(stderr, "plugfit: %s; %s%s%s\n", stop.where().c_str(), saved.c_str(), saved.empty() ? "" : "; ", next);
    return stop.exit_code();
  }
  // A run that ended on NaN is no success for scripts.
  for (const auto& callback : owned)
    if (const auto* nan = dynamic_cast<const TerminateOnNaN*>(callback.get()); nan && !nan->stop_reason().empty())
      throw RuntimeFailure(nan->stop_reason());

  if (test && writer) {
    const Logs logs = model.evaluate(*test, std::max<std::size_t>(run.batch_size, 256), 0);
    std::printf("Test: %s\n", format_logs(logs).c_str());
  }
  return 0;
}

}  // namespace

int cmd_train(const Args& args) {
  ArgParser parser("plugfit train", "Train the model a run file describes (Keras's fit).");
  parser.positional("RUN.json", "the run file: model, data, compile, fit, callbacks, checkpoint");
  parser.option("--epochs", "N", "the total number of epochs; on --resume training continues up to epoch N "
                                 "(Keras's epochs with initial_epoch)")
      .option("--batch-size", "N", "samples per gradient step")
      .option("--verbose", "0|1|2", "0 silent, 1 a progress bar, 2 one line per epoch")
      .option("--seed", "N", "the seed that fixes initialization, shuffling and dropout")
      .option("--threads", "N|auto", "threads for each batch's work (default: the run file's, else auto: the cores "
                                     "when the batch is large enough to gain)")
      .option("--checkpoint", "URI", "save a full checkpoint every epoch at URI (dir:PATH, sqlite:FILE, hdf5:FILE)")
      .flag("--resume", "continue from the latest good checkpoint at the checkpoint location")
      .option("--resume-from", "URI", "continue from the checkpoint at URI (weights, optimizer state, step count; "
                                      "tf:SAVED_MODEL, a Keras file) and save this run's checkpoints at --checkpoint")
      .flag("--overwrite", "remove the checkpoints and index already at the checkpoint location, then train")
      .option("--distributed", "NAME", "train data-parallel over the communicator plugin NAME (mpi: run under "
                                       "`mpirun -np N`); batch_size is the global batch")
      .option("--gradient-block-rows", "N", "sum each batch's gradient over blocks of N rows in double precision, so "
                                            "that 1 and N ranks make the same update (default: the run file's, else off)")
      .option("--collective-timeout", "SECONDS", "with --distributed: end the job when a step waits longer than "
                                                 "SECONDS for the other ranks (default: the run file's, else never)");
  plugin_options(parser);
  if (!parser.parse(args)) return 0;

  RunSpec run = read_run_file(parser.positionals().at(0));
  if (auto v = parser.get_int("--epochs")) run.epochs = static_cast<int>(*v);
  if (auto v = parser.get_int("--batch-size")) run.batch_size = static_cast<std::size_t>(*v);
  if (auto v = parser.get_int("--verbose")) run.verbose = static_cast<int>(*v);
  if (auto v = parser.get_int("--seed")) run.seed = static_cast<std::uint64_t>(*v);
  if (auto v = parser.get("--checkpoint")) run.checkpoint = *v;
  if (auto v = parser.get("--threads")) run.threads = parse_threads(*v, "--threads");
  if (auto v = parser.get("--distributed")) run.distributed = *v;
  if (auto v = parser.get_int("--gradient-block-rows")) {
    if (*v < 0) throw InputError("--gradient-block-rows must be a positive number of rows, or 0 for off");
    run.gradient_block_rows = static_cast<std::size_t>(*v);
  }
  if (auto v = parser.get("--collective-timeout")) run.collective_timeout = parse_seconds(*v, "--collective-timeout");
  if (run.batch_size == 0) throw InputError("--batch-size must be positive");
  const std::string checkpoint_uri =
      run.checkpoint.is_string() ? run.checkpoint.get<std::string>()
                                 : run.checkpoint.is_object() ? run.checkpoint.value("uri", std::string()) : "";
  if (parser.has_flag("--resume") && parser.get("--resume-from"))
    throw InputError("--resume and --resume-from contradict each other: --resume continues the run at the checkpoint "
                     "location, --resume-from continues another location's checkpoint as a new run");
  if (parser.has_flag("--resume") && checkpoint_uri.empty())
    throw InputError("--resume needs a checkpoint location: --checkpoint URI or \"checkpoint\" in the run file");
  if (parser.has_flag("--overwrite") && (checkpoint_uri.empty() || parser.has_flag("--resume")))
    throw InputError(checkpoint_uri.empty() ? "--overwrite needs a checkpoint location to clear: --checkpoint URI or "
                                              "\"checkpoint\" in the run file"
                                            : "--overwrite and --resume contradict each other: resume the run, or "
                                              "overwrite it");

  // The CLI is a client of the public API (plugfit/sequential.hpp).
  Context context({parser.get_all("--plugin-path"), parser.get_all("--plugin"), run.distributed, run.collective_timeout});
  Communicator* communicator = context.communicator();
  if (communicator == nullptr || communicator->size() == 1) return train_run(run, parser, context, checkpoint_uri);
  // Data-parallel: rank 0 prints and writes; a failure on any rank ends every rank, never a hang.
  if (communicator->rank() != 0) silence_stdout();
  try {
    return train_run(run, parser, context, checkpoint_uri);
  } catch (const std::exception& error) {
    end_job(*communicator, error);
  }
}

}  // namespace plugfit
