#include "commands.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>

#include <plugfit/registry.hpp>

#include "../api/context_access.hpp"
#include "../checkpoint/convert.hpp"
#include "../checkpoint/keras_record_checks.hpp"
#include "../checkpoint/inspect.hpp"
#include "../checkpoint/record.hpp"
#include "../checkpoint/store.hpp"
#include "../data/dataset.hpp"
#include "../metrics/metrics.hpp"
#include "../plugin_loading/loader.hpp"
#include "../builtins/builtins.hpp"
#include "../training/callbacks/terminate_on_nan.hpp"
#include "../training/fit.hpp"
#include "../training/interrupt.hpp"
#include "../training/thread_policy.hpp"
#include "../util/parallel.hpp"
#include "arg_parser.hpp"
#include "command_support.hpp"
#include "run_file.hpp"

namespace plugfit {

namespace {

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
        backend((load_plugins(loader, parser.get_all("--plugin")), open_existing_backend(uri, registry, &loader))) {}
  static void load_plugins(PluginLoader& loader, const std::vector<std::string>& names) {
    for (const auto& name : names) loader.load(name);
  }
  std::pair<std::string, CheckpointRecord> load() const { return load_named(*backend, uri); }
  // The compiled model of a record; errors name the checkpoint.
  // sample_shape: the data's, for a Keras model whose input shape leaves a length open.
  std::unique_ptr<Sequential> model(const std::string& name, const CheckpointRecord& record,
                                    const Shape* sample_shape = nullptr) {
    try {
      return model_from_record(record, registry, loader, sample_shape);
    } catch (const InputError& e) {
      if (is_keras_record(record)) throw;  // its messages name the Keras file already
      throw InputError("checkpoint " + name + " in " + backend->uri() + ": " + e.what());
    }
  }
};

// Whether a record is a Keras model whose input shape leaves a length open: it is built for the
// data's samples, so the data is read first.
bool builds_from_data(const CheckpointRecord& record) {
  const Json keras = record.info.value("keras", Json::object());
  return !record.info.contains("input_shape") && keras.is_object() && keras.contains("input_batch_shape");
}

}  // namespace

int cmd_evaluate(const Args& args) {
  ArgParser parser("plugfit evaluate", "The loss and metrics of a checkpoint's model on a data set.");
  parser.positional("CHECKPOINT_URI", "the checkpoint (URI#NAME picks one; latest, best, or a name; default latest)");
  parser.option("--data", "SPEC", "the data to evaluate on (default: the test data the checkpoint names)")
      .option("--batch-size", "N", "samples per batch (default 256)")
      .option("--verbose", "0|1|2", "0 silent (default), 1 a progress bar")
      .option("--threads", "N|auto", "threads for each batch's work (default auto)")
      .flag("--json", "print the loss and metrics as one JSON object, at full precision");
  plugin_options(parser);
  if (!parser.parse(args)) return 0;
  const int threads_setting = parse_threads(parser.get("--threads").value_or("auto"), "--threads");
  CheckpointSource source(parser.positionals().at(0), parser);
  const auto [name, record] = source.load();
  std::string spec = parser.get("--data").value_or("");
  if (spec.empty()) spec = record.info.value("data", Json::object()).value("test", std::string());
  std::unique_ptr<Sequential> model;
  Dataset data;
  if (builds_from_data(record)) {
    if (spec.empty()) throw InputError("give the data to evaluate on with --data SPEC (the checkpoint names no test data)");
    data = load_dataset(spec);
    const Shape sample = data.sample_shape();
    model = source.model(name, record, &sample);
    if (!model->compiled()) throw InputError("checkpoint " + name + " records no loss to evaluate with");
  } else {
    model = source.model(name, record);
    if (!model->compiled()) throw InputError("checkpoint " + name + " records no loss to evaluate with");
    if (spec.empty()) throw InputError("give the data to evaluate on with --data SPEC (the checkpoint names no test data)");
    data = load_dataset(spec);
  }
  const auto batch = static_cast<std::size_t>(parser.get_int("--batch-size").value_or(256));
  if (batch == 0) throw InputError("--batch-size must be positive");
  set_threads(resolve_threads(threads_setting, *model, batch));
  const Logs logs = evaluate(*model, data, batch, static_cast<int>(parser.get_int("--verbose").value_or(0)));
  if (parser.has_flag("--json")) {
    std::printf("%s\n", logs.to_json().dump().c_str());
    return 0;
  }
  std::printf("%s/%s on %s: %s\n", source.backend->uri().c_str(), name.c_str(), spec.c_str(),
              format_logs(logs).c_str());
  return 0;
}

int cmd_predict(const Args& args) {
  ArgParser parser("plugfit predict", "The model's outputs for a set of inputs.");
  parser.positional("CHECKPOINT_URI", "the checkpoint (URI#NAME picks one; default latest)");
  parser.option("--input", "FILE", "the inputs: a .npy or .csv file, or a data spec (required)")
      .option("--output", "FILE", "where the predictions go: a .csv (a row per sample) or .npy file (required)")
      .option("--batch-size", "N", "samples per batch (default 256)")
      .option("--threads", "N|auto", "threads for each batch's work (default auto)");
  plugin_options(parser);
  if (!parser.parse(args)) return 0;
  const int threads_setting = parse_threads(parser.get("--threads").value_or("auto"), "--threads");
  const auto input = parser.get("--input");
  const auto output = parser.get("--output");
  if (!input || !output) throw InputError("predict needs --input FILE and --output FILE");
  check_predictions_path(*output);
  CheckpointSource source(parser.positionals().at(0), parser);
  const auto [name, record] = source.load();
  std::unique_ptr<Sequential> model;
  Dataset data;
  if (builds_from_data(record)) {
    data = load_inputs(*input);
    const Shape sample = data.sample_shape();
    model = source.model(name, record, &sample);
  } else {
    model = source.model(name, record);
    data = load_inputs(*input);
  }
  const auto batch = static_cast<std::size_t>(parser.get_int("--batch-size").value_or(256));
  if (batch == 0) throw InputError("--batch-size must be positive");
  set_threads(resolve_threads(threads_setting, *model, batch));
  const Tensor predictions = predict(*model, data, batch);
  write_predictions(*output, predictions);
  std::printf("wrote predictions of shape %s to %s\n", full_shape_str(shape_of(predictions)).c_str(), output->c_str());
  return 0;
}

int cmd_inspect(const Args& args) {
  ArgParser parser("plugfit inspect", "The checkpoints a location holds: kind, epoch, metrics, types, sizes, status.");
  parser.positional("URI", "the checkpoint location (dir:PATH, sqlite:FILE, hdf5:FILE, ...)");
  parser.flag("--json", "print one JSON document instead of a table");
  plugin_options(parser);
  if (!parser.parse(args)) return 0;
  const CheckpointSource source(parser.positionals().at(0), parser);
  const CheckpointBackend* backend = source.backend.get();
  const Json out = describe_checkpoints(*backend);
  std::vector<std::string> corrupt;
  for (const auto& c : out["checkpoints"])
    if (c["status"] == "corrupt") corrupt.push_back(c["name"].get<std::string>());
  // The listing shows each damage; one sentence on stderr (exit 1) says the location is not whole.
  auto verdict = [&] {
    if (corrupt.empty()) return 0;
    std::string names;
    for (std::size_t i = 0; i < corrupt.size() && i < 5; ++i) names += (i == 0 ? "" : ", ") + corrupt[i];
    if (corrupt.size() > 5) names += ", ...";
    throw CheckpointCorrupt(std::to_string(corrupt.size()) + " of " + std::to_string(out["checkpoints"].size()) +
                            " checkpoints in " + backend->uri() + (corrupt.size() == 1 ? " is" : " are") +
                            " corrupt (" + names + ")");
  };
  if (parser.has_flag("--json")) {
    std::printf("%s\n", out.dump(2).c_str());
    std::fflush(stdout);
    return verdict();
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
    if (c.contains("keras")) {  // a file Keras saved: its weights, and what became of its optimizer state
      std::string weights;
      for (const auto& w : c["weights"])
        weights += (weights.empty() ? "" : ", ") + w["name"].get<std::string>() + " " + full_shape_str(w["shape"].get<Shape>());
      std::printf("    weights: %s\n", weights.empty() ? "none" : weights.c_str());
      if (c["keras"].contains("optimizer_state") && c["keras"]["optimizer_state"].is_string())
        std::printf("    optimizer state: %s\n", c["keras"]["optimizer_state"].get<std::string>().c_str());
    }
    if (c.contains("tf") && c["tf"].is_object()) {  // a TensorFlow checkpoint: every variable it stores
      const Json& tf = c["tf"];
      const Json variables = tf.value("variables", Json::array());
      std::printf("    TensorFlow variables: %zu in %s", variables.size(), tf.value("index", std::string()).c_str());
      if (tf.contains("step")) std::printf(", step count (optimizer/iter) %lld", static_cast<long long>(tf["step"].get<std::int64_t>()));
      std::printf("\n");
      for (const auto& v : variables) {
        std::string shape;
        for (const auto& d : v.value("shape", Json::array())) shape += (shape.empty() ? "" : ", ") + d.dump();
        std::printf("      %-72s %-8s (%s)\n", v.value("key", std::string()).c_str(), v.value("dtype", std::string()).c_str(),
                    shape.c_str());
      }
    }
  }
  std::fflush(stdout);
  return verdict();
}

int cmd_convert(const Args& args) {
  ArgParser parser("plugfit convert", "Copy checkpoints between backends bit for bit, each copy verified.");
  parser.positional("SRC_URI", "the location to copy from")
      .positional("DST_URI", "the location to copy to; DST.keras, DST.h5 or DST.weights.h5 writes that Keras format");
  parser.option("--only", "latest|best|NAME", "copy only this checkpoint (default: all), with no index beside it");
  plugin_options(parser);
  if (!parser.parse(args)) return 0;
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
  ArgParser parser("plugfit plugins", "Every plugin found: version, ABI, file, types, and why a file was refused.");
  parser.flag("--json", "print one JSON document instead of text");
  parser.repeated_option("--plugin-path", "DIR", "search DIR for plugins before PLUGFIT_PLUGIN_PATH and the defaults");
  if (!parser.parse(args)) return 0;
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
