#include "commands.hpp"

#include <cstdio>
#include <memory>
#include <random>

#include <plugfit/registry.hpp>

#include "../data/dataset.hpp"
#include "../metrics/metrics.hpp"
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
  ArgParser parser("plugfit train RUN.json [--epochs N] [--batch-size N] [--verbose 0|1|2] [--seed N]");
  parser.positional("RUN.json");
  parser.option("--epochs").option("--batch-size").option("--verbose").option("--seed");
  parser.parse(args);

  RunSpec run = read_run_file(parser.positionals().at(0));
  if (auto v = parser.get_int("--epochs")) run.epochs = static_cast<int>(*v);
  if (auto v = parser.get_int("--batch-size")) run.batch_size = static_cast<std::size_t>(*v);
  if (auto v = parser.get_int("--verbose")) run.verbose = static_cast<int>(*v);
  if (auto v = parser.get_int("--seed")) run.seed = static_cast<std::uint64_t>(*v);
  if (run.batch_size == 0) throw InputError("--batch-size must be positive");
  if (!run.plugins.empty())
    throw InputError(run.path + ": \"plugins\" names " + run.plugins.front() + ", but no plugin loader is built in yet");

  Registry registry;
  register_builtins(registry);

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

}  // namespace plugfit
