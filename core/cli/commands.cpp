#include "commands.hpp"

#include <cstdio>
#include <memory>
#include <random>

#include <plugfit/registry.hpp>

#include "../data/dataset.hpp"
#include "../metrics/metrics.hpp"
#include "../plugins/loader.hpp"
#include "../registry/builtins.hpp"
#include "../training/fit.hpp"
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

void compile_model(Sequential& model, const RunSpec& run, const Registry& registry) {
  auto optimizer = registry.create_optimizer(run.optimizer.class_name, run.optimizer.config);
  auto loss = registry.create_loss(run.loss.class_name, run.loss.config);
  std::vector<std::unique_ptr<Metric>> metrics;
  for (const auto& spec : run.metrics) {
    auto metric = registry.create_metric(resolve_metric_name(spec.class_name, run.loss.class_name), spec.config);
    metric->set_name(spec.class_name == "acc" ? "accuracy" : spec.class_name);
    metrics.push_back(std::move(metric));
  }
  model.compile(std::move(optimizer), std::move(loss), run.loss.class_name, std::move(metrics));
}

}  // namespace

int cmd_train(const Args& args) {
  ArgParser parser(
      "plugfit train RUN.json [--epochs N] [--batch-size N] [--plugin NAME]... [--plugin-path DIR]... "
      "[--verbose 0|1|2] [--seed N]");
  parser.positional("RUN.json");
  parser.option("--epochs").option("--batch-size").option("--verbose").option("--seed");
  parser.option("--plugin").option("--plugin-path");
  parser.parse(args);

  RunSpec run = read_run_file(parser.positionals().at(0));
  if (auto v = parser.get_int("--epochs")) run.epochs = static_cast<int>(*v);
  if (auto v = parser.get_int("--batch-size")) run.batch_size = static_cast<std::size_t>(*v);
  if (auto v = parser.get_int("--verbose")) run.verbose = static_cast<int>(*v);
  if (auto v = parser.get_int("--seed")) run.seed = static_cast<std::uint64_t>(*v);
  if (run.batch_size == 0) throw InputError("--batch-size must be positive");

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
  const std::uint64_t seed = run.seed.value_or(std::random_device{}());
  model->build(model->declared_input_shape().value_or(train.sample_shape()), seed);
  compile_model(*model, run, registry);

  std::vector<std::unique_ptr<Callback>> owned;
  std::vector<Callback*> callbacks;
  for (const auto& spec : run.callbacks) {
    owned.push_back(registry.create_callback(spec.class_name, spec.config));
    callbacks.push_back(owned.back().get());
  }

  FitOptions options;
  options.epochs = run.epochs;
  options.batch_size = run.batch_size;
  options.shuffle = run.shuffle;
  options.validation_split = run.validation_split;
  options.validation_data = validation.get();
  options.verbose = run.verbose;
  options.seed = seed;
  set_blas_threads(blas_threads_for_batch(run.batch_size));
  fit(*model, train, options, callbacks);

  if (test) {
    const Logs logs = evaluate(*model, *test, std::max<std::size_t>(run.batch_size, 256), 0);
    std::printf("Test: %s\n", format_logs(logs).c_str());
  }
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
