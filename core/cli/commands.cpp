#include "commands.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>

#include <plugfit/registry.hpp>

#include "../checkpoint/async_writer.hpp"
#include "../checkpoint/convert.hpp"
#include "../checkpoint/inspect.hpp"
#include "../checkpoint/record.hpp"
#include "../checkpoint/store.hpp"
#include "../data/dataset.hpp"
#include "../metrics/metrics.hpp"
#include "../plugin_loading/loader.hpp"
#include "../builtins/builtins.hpp"
#include "../training/callback_access.hpp"
#include "../training/callbacks/terminate_on_nan.hpp"
#include "../training/fit.hpp"
#include "../training/interrupt.hpp"
#include "../util/blas.hpp"
#include "arg_parser.hpp"
#include "run_file.hpp"

namespace plugfit {

namespace {

std::string format_logs(const Logs& logs) {
  std::string out;
  for (const auto& [key, value] : logs) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.4f", value);
    out += (out.empty() ? "" : " - ") + key + ": " + buf;
  }
  return out;
}

void warn(const std::string& message) {
  std::fflush(stdout);
  std::fprintf(stderr, "plugfit: warning: %s\n", message.c_str());
}

Json type_spec_json(const TypeSpec& spec) { return {{"class_name", spec.class_name}, {"config", spec.config}}; }

Json compile_config_of(const RunSpec& run) {
  Json metrics = Json::array();
  for (const auto& m : run.metrics) metrics.push_back(type_spec_json(m));
  return {{"optimizer", type_spec_json(run.optimizer)}, {"loss", type_spec_json(run.loss)}, {"metrics", metrics}};
}

// The run's checkpoint manager: a full checkpoint after every epoch, in the background when
// the manager's "async" option is on (the capture is the only stall).
class ManagerCallback final : public Callback {
 public:
  explicit ManagerCallback(CheckpointManager& manager) : manager_(manager) {
    CallbackAccess::set_type_name(*this, "CheckpointManager");
  }
  void on_epoch_end(int epoch, Logs& logs) override {
    auto record = std::make_shared<const CheckpointRecord>(session().capture(false));
    const std::int64_t step = session().global_step();
    auto save = [this, record, epoch, step, logs] { manager_.save(*record, epoch + 1, 0, step, logs); };
    if (manager_.options().async) writer_.submit(save);
    else save();
  }
  void on_train_end(Logs&) override { writer_.wait(); }
  // A run stopped by SIGINT/SIGTERM (always after a batch) gets a full checkpoint there,
  // "ckpt-EEEE-BBBBBB" (epoch 1-based), from which --resume continues bit for bit.
  void on_exception(const std::exception& error) override {
    const auto* interrupted = dynamic_cast<const TrainingInterrupted*>(&error);
    if (interrupted == nullptr) return;
    try {
      writer_.wait();
      const std::string name = manager_.save(session().capture(false), interrupted->epoch() + 1, interrupted->batch(),
                                             session().global_step(), Logs());
      interrupted->note_saved(manager_.backend().uri() + "#" + name);
    } catch (const std::exception& failure) {
      warn(std::string("the checkpoint manager could not save the interrupted run: ") + failure.what());
    }
  }

 private:
  CheckpointManager& manager_;
  AsyncWriter writer_;
};

ManagerOptions manager_options(const Json& spec, const std::string& where) {
  ManagerOptions options;
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

// The checkpoint a URI names ("URI#NAME", else the latest), loaded.
std::pair<std::string, CheckpointRecord> load_named(const CheckpointBackend& backend, const CheckpointUri& uri) {
  const auto name = resolve_checkpoint_name(backend, uri.name);
  if (!name) throw InputError(backend.uri() + " holds no checkpoints");
  return {*name, backend.load(*name)};
}

// What evaluate, predict and inspect share: the types (built-in and plugins by name) and the
// backend a checkpoint URI opens.
struct CheckpointSource {
  Registry registry;
  PluginLoader loader;
  CheckpointUri uri;
  std::unique_ptr<CheckpointBackend> backend;

  // The --plugin flags load before the backend opens: a plugin may provide the URI's scheme.
  CheckpointSource(const std::string& uri_text, const ArgParser& parser)
      : loader((register_builtins(registry), registry), parser.get_all("--plugin-path")),
        uri(parse_checkpoint_uri(uri_text)),
        backend((load_plugins(loader, parser.get_all("--plugin")), open_backend(uri, registry, &loader))) {}
  static void load_plugins(PluginLoader& loader, const std::vector<std::string>& names) {
    for (const auto& name : names) loader.load(name);
  }
  std::pair<std::string, CheckpointRecord> load() const { return load_named(*backend, uri); }
  // The compiled model of a record; errors name the checkpoint.
  std::unique_ptr<Sequential> model(const std::string& name, const CheckpointRecord& record) {
    try {
      return model_from_record(record, registry, loader);
    } catch (const InputError& e) {
      throw InputError("checkpoint " + name + " in " + backend->uri() + ": " + e.what());
    }
  }
};

}  // namespace

int cmd_train(const Args& args) {
  ArgParser parser(
      "plugfit train RUN.json [--epochs N] [--batch-size N] [--plugin NAME]... [--plugin-path DIR]... "
      "[--checkpoint URI] [--resume] [--verbose 0|1|2] [--seed N]");
  parser.positional("RUN.json");
  parser.option("--epochs").option("--batch-size").option("--verbose").option("--seed");
  parser.option("--plugin").option("--plugin-path").option("--checkpoint").flag("--resume");
  parser.parse(args);

  RunSpec run = read_run_file(parser.positionals().at(0));
  if (auto v = parser.get_int("--epochs")) run.epochs = static_cast<int>(*v);
  if (auto v = parser.get_int("--batch-size")) run.batch_size = static_cast<std::size_t>(*v);
  if (auto v = parser.get_int("--verbose")) run.verbose = static_cast<int>(*v);
  if (auto v = parser.get_int("--seed")) run.seed = static_cast<std::uint64_t>(*v);
  if (auto v = parser.get("--checkpoint")) run.checkpoint = *v;
  if (run.batch_size == 0) throw InputError("--batch-size must be positive");
  const std::string checkpoint_uri =
      run.checkpoint.is_string() ? run.checkpoint.get<std::string>()
                                 : run.checkpoint.is_object() ? run.checkpoint.value("uri", std::string()) : "";
  if (parser.has_flag("--resume") && checkpoint_uri.empty())
    throw InputError("--resume needs a checkpoint location: --checkpoint URI or \"checkpoint\" in the run file");

  Registry registry;
  register_builtins(registry);
  PluginLoader loader(registry, parser.get_all("--plugin-path"));
  for (const auto& name : parser.get_all("--plugin")) loader.load(name);
  for (const auto& name : run.plugins) loader.load(name);
  // Qualified type names ("acme>Scale") load their plugin by name, as a saved model does.
  loader.load_plugins_named_in(run.model);
  for (const auto* specs : {&run.callbacks, &run.metrics})
    for (const auto& spec : *specs) loader.load_plugins_named_in({{"class_name", spec.class_name}});
  loader.load_plugins_named_in({{"class_name", run.optimizer.class_name}});
  loader.load_plugins_named_in({{"class_name", run.loss.class_name}});

  const Dataset train = load_dataset(run.train_data);
  std::unique_ptr<Dataset> validation, test;
  if (!run.validation_data.empty()) validation = std::make_unique<Dataset>(load_dataset(run.validation_data));
  if (!run.test_data.empty()) test = std::make_unique<Dataset>(load_dataset(run.test_data));

  auto model = Sequential::from_config(run.model, registry);
  std::uint64_t seed = run.seed.value_or(std::random_device{}());
  model->build(model->declared_input_shape().value_or(train.sample_shape()), seed);
  const Json compile_config = compile_config_of(run);
  compile_from_config(*model, compile_config, registry);
  if (!run.load_weights.empty()) {
    const CheckpointUri uri = parse_checkpoint_uri(run.load_weights);
    const auto backend = open_backend(uri, registry, &loader);
    const auto [name, record] = load_named(*backend, uri);
    restore_weights(*model, record);
    if (run.verbose > 0) std::printf("Loaded weights from %s/%s\n", backend->uri().c_str(), name.c_str());
  }

  std::vector<std::unique_ptr<Callback>> owned;
  std::vector<Callback*> callbacks;
  for (const auto& spec : run.callbacks) {
    owned.push_back(registry.create_callback(spec.class_name, spec.config));
    callbacks.push_back(owned.back().get());
  }

  FitOptions options;
  std::unique_ptr<CheckpointManager> manager;
  if (!checkpoint_uri.empty()) {
    manager = std::make_unique<CheckpointManager>(open_backend(parse_checkpoint_uri(checkpoint_uri), registry, &loader),
                                                  manager_options(run.checkpoint, run.path + ": \"checkpoint\""));
    owned.push_back(std::make_unique<ManagerCallback>(*manager));
    callbacks.push_back(owned.back().get());
  }
  FitSession session(*model, registry, &loader, compile_config, seed);
  session.set_extra_info({{"data", {{"train", run.train_data}, {"validation", run.validation_data},
                                    {"test", run.test_data}}}});
  session.set_callbacks(callbacks);
  if (parser.has_flag("--resume")) {
    const auto found = manager->restore_or_initialize(
        [](const std::string& why) { warn(why + "; falling back to the previous checkpoint"); });
    if (!found) {
      warn("no checkpoint to resume from in " + manager->backend().uri() + "; starting from the beginning");
    } else {
      const auto& [name, record] = *found;
      session.restore(record, {true, true, true, true});
      const TrainingPosition& position = session.position();
      seed = position.seed;
      options.initial_epoch = position.epoch;
      options.initial_batch = position.batch;
      options.initial_global_step = position.global_step;
      if (run.verbose > 0)
        std::printf("Resuming from %s/%s (epoch %d, batch %lld)\n", manager->backend().uri().c_str(), name.c_str(),
                    position.epoch, static_cast<long long>(position.batch));
    }
  }

  options.epochs = run.epochs;
  options.batch_size = run.batch_size;
  options.shuffle = run.shuffle;
  options.validation_split = run.validation_split;
  options.validation_data = validation.get();
  options.verbose = run.verbose;
  options.seed = seed;
  set_blas_threads(blas_threads_for_batch(run.batch_size));
  try {
    fit(*model, train, options, callbacks, &session);
  } catch (const TrainingInterrupted& stop) {
    // One line, then 128 + the signal, as a shell reports a process the signal ended.
    std::string saved;
    bool manager_saved = false;
    for (const auto& location : stop.saved()) {
      saved += (saved.empty() ? "saved " : ", ") + location;
      manager_saved = manager_saved || (manager && location.rfind(manager->backend().uri() + "#", 0) == 0);
    }
    const char* next = manager_saved ? "resume with --resume"
                       : saved.empty() ? "nothing saved (no --checkpoint, no BackupAndRestore)"
                                       : "run again to resume";
    std::fflush(stdout);
    std::fprintf(stderr, "plugfit: %s; %s%s%s\n", stop.where().c_str(), saved.c_str(), saved.empty() ? "" : "; ", next);
    return stop.exit_code();
  }
  // A run that ended on NaN is no success for scripts.
  for (const Callback* callback : callbacks)
    if (const auto* nan = dynamic_cast<const TerminateOnNaN*>(callback); nan && !nan->stop_reason().empty())
      throw RuntimeFailure(nan->stop_reason());

  if (test) {
    const Logs logs = evaluate(*model, *test, std::max<std::size_t>(run.batch_size, 256), 0);
    std::printf("Test: %s\n", format_logs(logs).c_str());
  }
  return 0;
}

int cmd_evaluate(const Args& args) {
  ArgParser parser("plugfit evaluate CHECKPOINT_URI [--data SPEC] [--batch-size N] [--plugin NAME]... [--plugin-path DIR]... [--verbose 0|1|2]");
  parser.positional("CHECKPOINT_URI");
  parser.option("--data").option("--batch-size").option("--plugin-path").option("--plugin").option("--verbose");
  parser.parse(args);
  CheckpointSource source(parser.positionals().at(0), parser);
  const auto [name, record] = source.load();
  auto model = source.model(name, record);
  if (!model->compiled()) throw InputError("checkpoint " + name + " records no loss to evaluate with");
  std::string spec = parser.get("--data").value_or("");
  if (spec.empty()) spec = record.info.value("data", Json::object()).value("test", std::string());
  if (spec.empty()) throw InputError("give the data to evaluate on with --data SPEC (the checkpoint names no test data)");
  const Dataset data = load_dataset(spec);
  const auto batch = static_cast<std::size_t>(parser.get_int("--batch-size").value_or(256));
  if (batch == 0) throw InputError("--batch-size must be positive");
  set_blas_threads(blas_threads_for_batch(batch));
  const Logs logs = evaluate(*model, data, batch, static_cast<int>(parser.get_int("--verbose").value_or(0)));
  std::printf("%s/%s on %s: %s\n", source.backend->uri().c_str(), name.c_str(), spec.c_str(),
              format_logs(logs).c_str());
  return 0;
}

int cmd_predict(const Args& args) {
  ArgParser parser("plugfit predict CHECKPOINT_URI --input FILE --output FILE [--batch-size N] [--plugin NAME]... [--plugin-path DIR]...");
  parser.positional("CHECKPOINT_URI");
  parser.option("--input").option("--output").option("--batch-size").option("--plugin-path").option("--plugin");
  parser.parse(args);
  const auto input = parser.get("--input");
  const auto output = parser.get("--output");
  if (!input || !output) throw InputError("predict needs --input FILE and --output FILE");
  check_predictions_path(*output);
  CheckpointSource source(parser.positionals().at(0), parser);
  const auto [name, record] = source.load();
  auto model = source.model(name, record);
  const Dataset data = load_inputs(*input);
  const auto batch = static_cast<std::size_t>(parser.get_int("--batch-size").value_or(256));
  const Tensor predictions = predict(*model, data, batch);
  write_predictions(*output, predictions);
  std::printf("wrote predictions of shape %s to %s\n", full_shape_str(shape_of(predictions)).c_str(), output->c_str());
  return 0;
}

int cmd_inspect(const Args& args) {
  ArgParser parser("plugfit inspect URI [--json] [--plugin NAME]... [--plugin-path DIR]...");
  parser.positional("URI");
  parser.flag("--json").option("--plugin-path").option("--plugin");
  parser.parse(args);
  const CheckpointSource source(parser.positionals().at(0), parser);
  const CheckpointBackend* backend = source.backend.get();
  const Json out = describe_checkpoints(*backend);
  bool any_corrupt = false;
  for (const auto& c : out["checkpoints"]) any_corrupt = any_corrupt || c["status"] == "corrupt";
  if (parser.has_flag("--json")) {
    std::printf("%s\n", out.dump(2).c_str());
    return any_corrupt ? 1 : 0;
  }
  std::printf("%s: %zu checkpoint(s)", backend->uri().c_str(), out["checkpoints"].size());
  if (out["latest"].is_string()) std::printf(", latest %s", out["latest"].get<std::string>().c_str());
  if (out["best"].is_object())
    std::printf(", best %s (%s %.4f)", out["best"].value("name", "").c_str(), out["best"].value("monitor", "").c_str(),
                out["best"].value("value", 0.0));
  std::printf("\n");
  for (const auto& c : out["checkpoints"]) {
    if (c["status"] == "corrupt") {
      std::printf("  %-24s CORRUPT: %s\n", c["name"].get<std::string>().c_str(), c["error"].get<std::string>().c_str());
      continue;
    }
    Logs metrics;
    for (auto it = c["metrics"].begin(); it != c["metrics"].end(); ++it) metrics[it.key()] = it.value().get<double>();
    std::string types;
    for (const auto& t : c["layer_types"]) types += (types.empty() ? "" : ",") + t.get<std::string>();
    std::printf("  %-24s %-7s epoch %-4d step %-8lld %8.2f MB  %s  [%s]\n", c["name"].get<std::string>().c_str(),
                c["kind"].get<std::string>().c_str(), c["epoch"].get<int>(),
                static_cast<long long>(c["global_step"].get<std::int64_t>()), c["bytes"].get<double>() / 1e6,
                format_logs(metrics).c_str(), types.c_str());
  }
  return any_corrupt ? 1 : 0;
}

int cmd_convert(const Args& args) {
  ArgParser parser("plugfit convert SRC_URI DST_URI [--only latest|best|NAME] [--plugin NAME]... [--plugin-path DIR]...");
  parser.positional("SRC_URI").positional("DST_URI");
  parser.option("--only").option("--plugin-path").option("--plugin");
  parser.parse(args);
  CheckpointSource source(parser.positionals().at(0), parser);
  const CheckpointBackend& from = *source.backend;
  const auto to = open_backend(parse_checkpoint_uri(parser.positionals().at(1)), source.registry, &source.loader);
  const auto names = convert_checkpoints(from, *to, parser.get("--only"), [](const std::string& name, const CheckpointRecord& record) {
    std::printf("copied %s (%zu tensors, %.2f MB), verified\n", name.c_str(), record.tensors.size(),
                double(record.tensor_bytes()) / 1e6);
  });
  std::printf("converted %zu checkpoint(s) from %s to %s\n", names.size(), from.uri().c_str(), to->uri().c_str());
  return 0;
}

int cmd_plugins(const Args& args) {
  ArgParser parser("plugfit plugins [--json] [--plugin-path DIR]...");
  parser.flag("--json").option("--plugin-path");
  parser.parse(args);
  Registry registry;
  const PluginLoader loader(registry, parser.get_all("--plugin-path"));
  const auto scan = loader.scan();
  if (parser.has_flag("--json")) {
    Json out = {{"search_path", loader.search_path()}, {"plugins", Json::array()}, {"refused", Json::array()}};
    for (const auto& p : scan.plugins)
      out["plugins"].push_back({{"name", p.name},
                                {"version", p.version},
                                {"abi", std::to_string(p.abi_major) + "." + std::to_string(p.abi_minor)},
                                {"file", p.file},
                                {"description", p.description},
                                {"types", p.types}});
    for (const auto& r : scan.refused) out["refused"].push_back({{"file", r.file}, {"reason", r.reason}});
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("search path: %s\n", loader.search_path_text().c_str());
  if (scan.plugins.empty()) std::printf("no plugins found\n");
  for (const auto& p : scan.plugins) {
    std::printf("\n%s %s (SDK ABI %u.%u) %s\n", p.name.c_str(), p.version.c_str(), p.abi_major, p.abi_minor,
                p.file.c_str());
    if (!p.description.empty()) std::printf("  %s\n", p.description.c_str());
    for (const auto& t : p.types) std::printf("  %s\n", t.c_str());
  }
  for (const auto& r : scan.refused) std::printf("\nrefused %s: %s\n", r.file.c_str(), r.reason.c_str());
  return 0;
}

}  // namespace plugfit
