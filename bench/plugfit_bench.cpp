// Training throughput of plugfit on Fashion-MNIST, printed as one JSON line like the peers in
// ../shared/bench (samples/s over the timed epochs, seconds per epoch, test accuracy, peak RSS).
//
//   plugfit_bench [--model mlp|cnn|lstm|gru|MODEL.json] [--batch 32] [--epochs 1] [--hidden 128[,64...]]
//                 [--optimizer adam] [--idle-callbacks N] [--epoch-callbacks N] [--threads T|auto] [--seed S]
//                 [--gradient-block-rows R]
//
// lstm and gru read Fashion-MNIST's 28 rows as 28 steps of 28 features: LSTM(hidden) or
// GRU(hidden) (Keras's defaults: GRU reset_after) -> Dense(10), as torch_peer.py --model lstm.
//
// --idle-callbacks adds N callbacks overriding every hook with an empty body (the per-batch
// dispatch cost); --epoch-callbacks adds N that override only epoch hooks (must cost nothing).
// Both come from the plugin bench_callbacks, loaded by name like any plugin, so the cost
// measured is the cost across the plugin boundary. "plugin_load_ms" is the time to find, load,
// check and register that plugin (the first plugin this process loads).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <plugfit/registry.hpp>

#include "data/dataset.hpp"
#include "metrics/metrics.hpp"
#include "plugin_loading/loader.hpp"
#include "builtins/builtins.hpp"
#include "training/fit.hpp"
#include "training/thread_policy.hpp"
#include "util/blas.hpp"
#include "util/parallel.hpp"

using namespace plugfit;

namespace {

std::string arg(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name) return argv[i + 1];
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t batch = std::stoul(arg(argc, argv, "--batch", "32"));
  const int epochs = std::stoi(arg(argc, argv, "--epochs", "1"));
  const std::string model_kind = arg(argc, argv, "--model", "mlp");
  const std::string hidden = arg(argc, argv, "--hidden", "128");
  const std::string optimizer = arg(argc, argv, "--optimizer", "adam");
  const int idle = std::stoi(arg(argc, argv, "--idle-callbacks", "0"));
  const int epoch_only = std::stoi(arg(argc, argv, "--epoch-callbacks", "0"));
  const std::string threads_setting = arg(argc, argv, "--threads", "auto");
  const auto seed = std::stoull(arg(argc, argv, "--seed", "0"));
  const std::size_t block_rows = std::stoul(arg(argc, argv, "--gradient-block-rows", "0"));

  try {
    Registry registry;
    register_builtins(registry);
    PluginLoader loader(registry, {PLUGFIT_BENCH_PLUGIN_DIR});
    const auto load_start = std::chrono::steady_clock::now();
    loader.load("bench_callbacks");
    const double plugin_load_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start).count();
    Json layers = Json::array();
    double flops_per_sample = 0.0;  // forward, 2 x multiply-adds; 0 when not computed
    if (model_kind == "cnn") {
      // Multiply-adds of one sample's forward: conv1 26x26 positions x 32 filters x 3x3x1 taps,
      // conv2 11x11 x 64 x 3x3x32, Dense 5x5x64 -> 10 (bias, relu and pooling not counted).
      flops_per_sample = 2.0 * (26.0 * 26 * 32 * 9 + 11.0 * 11 * 64 * 288 + 1600.0 * 10);
      // Keras's MNIST convnet, as ../shared/bench/torch_peer.py --model cnn builds it.
      layers = Json::parse(R"([
        {"class_name": "InputLayer", "config": {"batch_shape": [null, 28, 28, 1]}},
        {"class_name": "Conv2D", "config": {"filters": 32, "kernel_size": 3, "activation": "relu"}},
        {"class_name": "MaxPooling2D", "config": {"pool_size": 2}},
        {"class_name": "Conv2D", "config": {"filters": 64, "kernel_size": 3, "activation": "relu"}},
        {"class_name": "MaxPooling2D", "config": {"pool_size": 2}},
        {"class_name": "Flatten", "config": {}},
        {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}}])");
    } else if (model_kind == "lstm" || model_kind == "gru") {
      const int units = std::stoi(hidden);
      // Multiply-adds of one sample's forward: per step, every gate's input and recurrent
      // projections (4 gates for LSTM, 3 for GRU), then Dense units -> 10.
      const double gates = model_kind == "lstm" ? 4.0 : 3.0;
      flops_per_sample = 2.0 * (28.0 * gates * units * (28 + units) + units * 10.0);
      layers = Json::array({
          {{"class_name", "InputLayer"}, {"config", {{"batch_shape", {nullptr, 28, 28}}}}},
          {{"class_name", model_kind == "lstm" ? "LSTM" : "GRU"}, {"config", {{"units", units}}}},
          {{"class_name", "Dense"}, {"config", {{"units", 10}, {"activation", "softmax"}}}}});
    } else if (model_kind.size() > 5 && model_kind.compare(model_kind.size() - 5, 5, ".json") == 0) {
      // A Keras-shaped model file (sample_models/fashion_cnn.json), as a run file names it.
      std::ifstream in(model_kind);
      if (!in) throw InputError("cannot read the model file " + model_kind);
      const Json file = Json::parse(in);
      layers = file.contains("config") ? file["config"]["layers"] : file["layers"];
    } else if (model_kind == "mlp") {
      layers.push_back({{"class_name", "Flatten"}, {"config", Json::object()}});
      std::stringstream units(hidden);
      for (std::string u; std::getline(units, u, ',');)
        layers.push_back({{"class_name", "Dense"}, {"config", {{"units", std::stoi(u)}, {"activation", "relu"}}}});
      layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 10}, {"activation", "softmax"}}}});
    } else {
      throw InputError("--model must be mlp, cnn, lstm, gru or a model .json file, got \"" + model_kind + "\"");
    }

    const Dataset train = load_dataset("fashion-mnist:train");
    const Dataset test = load_dataset("fashion-mnist:test");
    auto model = Sequential::from_config({{"layers", layers}}, registry);
    model->build(model->declared_input_shape().value_or(train.sample_shape()), seed);
    std::vector<std::unique_ptr<Metric>> metrics;
    metrics.push_back(registry.create_metric("sparse_categorical_accuracy", Json::object()));
    metrics.back()->set_name("accuracy");
    model->compile(registry.create_optimizer(optimizer, Json::object()),
                   registry.create_loss("sparse_categorical_crossentropy", Json::object()),
                   "sparse_categorical_crossentropy", std::move(metrics));

    std::vector<std::unique_ptr<Callback>> owned;
    std::vector<Callback*> callbacks;
    for (int i = 0; i < idle; ++i) owned.push_back(registry.create_callback("bench_callbacks>Idle", Json::object()));
    for (int i = 0; i < epoch_only; ++i)
      owned.push_back(registry.create_callback("bench_callbacks>EpochOnly", Json::object()));
    for (auto& c : owned) callbacks.push_back(c.get());

    // fit() applies the setting (set_threads); resolved here so the JSON line names the count used.
    const int threads = resolve_threads(parse_threads(threads_setting, "--threads"), *model, batch);
    FitOptions options;
    options.threads = threads;
    options.epochs = epochs;
    options.batch_size = batch;
    options.verbose = 0;
    options.seed = seed;
    options.gradient_block_rows = block_rows;
    const auto t0 = std::chrono::steady_clock::now();
    fit(*model, train, options, callbacks);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // The convnet's activations at an evaluation batch of 1024 would outweigh the whole dataset
    // (the layers keep them): it evaluates at its training batch size, as Keras's default is 32.
    const Logs result = evaluate(*model, test, model_kind == "mlp" ? 1024 : batch, 0);

    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::printf(
        "{\"peer\": \"plugfit\", \"model\": \"%s\", \"batch\": %zu, \"epochs\": %d, \"hidden\": \"%s\", \"optimizer\": \"%s\", "
        "\"idle_callbacks\": %d, \"epoch_callbacks\": %d, \"threads\": %d, \"gradient_block_rows\": %zu, \"blas_core\": \"%s\", "
        "\"samples_per_s\": %.0f, \"s_per_epoch\": %.3f, \"test_accuracy\": %.4f, \"peak_rss_mb\": %.1f, "
        "\"plugin_load_ms\": %.3f, \"forward_flops_per_sample\": %.0f, \"train_gflops_per_s\": %.2f}\n",
        model_kind.c_str(), batch, epochs, hidden.c_str(), optimizer.c_str(), idle, epoch_only, threads, block_rows, blas_core_name(),
        double(train.size()) * epochs / seconds, seconds / epochs, result.at("accuracy"),
        double(usage.ru_maxrss) / 1024.0, plugin_load_ms, flops_per_sample,
        // A training step counted as 3 forwards (forward, input gradient, kernel gradient), the
        // usual convention, though the first convolution computes no input gradient.
        3.0 * flops_per_sample * double(train.size()) * epochs / seconds / 1e9);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "plugfit_bench: %s\n", e.what());
    return 1;
  }
}
