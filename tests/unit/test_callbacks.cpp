// The standard callbacks together through fit(): early stopping, rate changes, NaN, plugin schedules.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "callback_harness.hpp"
#include "registry/registry_access.hpp"
#include "training/callbacks/csv_logger.hpp"
#include "training/callbacks/early_stopping.hpp"
#include "training/callbacks/lambda_callback.hpp"
#include "training/callbacks/learning_rate_scheduler.hpp"
#include "training/callbacks/reduce_lr_on_plateau.hpp"
#include "training/callbacks/terminate_on_nan.hpp"
#include "training/fit.hpp"

using namespace plugfit;
using namespace plugfit::test;
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Through fit()

namespace {

std::unique_ptr<Sequential> blob_model(const char* hidden_activation = "relu") {
  Json layers = Json::array();
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 16}, {"activation", hidden_activation}}}});
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 3}, {"activation", "softmax"}}}});
  auto model = Sequential::from_config({{"layers", layers}}, test::builtins());
  model->build({4}, 5);
  compile_from_config(*model,
                      {{"optimizer", {{"class_name", "Adam"}, {"config", {{"learning_rate", 0.01}}}}},
                       {"loss", "sparse_categorical_crossentropy"},
                       {"metrics", {"accuracy"}}},
                      test::builtins());
  return model;
}

FitOptions quiet(int epochs) {
  FitOptions o;
  o.epochs = epochs;
  o.batch_size = 16;
  o.verbose = 0;
  o.seed = 11;
  o.validation_split = 0.25;
  return o;
}

}  // namespace

TEST_CASE("fit(): EarlyStopping stops early, History is shorter, the best weights come back") {
  const Dataset data = blobs(128, 3);
  auto model = blob_model();
  // min_delta so large that only the first epoch counts as an improvement: stops at epoch 2.
  auto stopper = test::builtins().create_callback(
      "EarlyStopping", {{"patience", 2}, {"min_delta", 10.0}, {"restore_best_weights", true}});
  std::vector<float> epoch0_weights;
  LambdaCallback spy({.on_epoch_end = [&](int epoch, Logs&) {
    if (epoch == 0) epoch0_weights.assign(model->parameters().begin(), model->parameters().end());
  }});
  const History history = fit(*model, data, quiet(20), {&spy, stopper.get()});
  CHECK(history.epochs == std::vector<int>{0, 1, 2});
  CHECK(history.history.at("val_loss").size() == 3);
  CHECK(dynamic_cast<EarlyStopping&>(*stopper).stopped_epoch() == 2);
  const auto params = model->parameters();
  CHECK(std::vector<float>(params.begin(), params.end()) == epoch0_weights);
}

TEST_CASE("fit(): ReduceLROnPlateau and LearningRateScheduler reach the optimizer; CSVLogger logs the rate") {
  test::TempDir temp;
  const fs::path file = temp.path / "history.csv";
  const Dataset data = blobs(96, 4);
  auto model = blob_model();
  auto scheduler = test::builtins().create_callback(
      "LearningRateScheduler",
      {{"schedule",
        {{"class_name", "step"}, {"config", {{"initial_learning_rate", 0.02}, {"drop", 0.5}, {"every", 1}}}}}});
  auto csv = test::builtins().create_callback("CSVLogger", {{"filename", file.string()}});
  const History history = fit(*model, data, quiet(3), {scheduler.get(), csv.get()});
  CHECK(history.history.at("learning_rate") == std::vector<double>{0.02, 0.01, 0.005});
  const std::string text = read_file(file);
  CHECK(text.rfind("epoch,accuracy,learning_rate,loss,val_accuracy,val_loss\r\n", 0) == 0);
  CHECK(text.find("\r\n2,") != std::string::npos);
  CHECK(model->optimizer()->learning_rate() == 0.005);

  auto model2 = blob_model();
  auto plateau = test::builtins().create_callback("ReduceLROnPlateau",
                                                  {{"monitor", "loss"}, {"patience", 0}, {"min_delta", 10.0}});
  const History h2 = fit(*model2, data, quiet(3), {plateau.get()});
  CHECK(h2.history.at("learning_rate") == std::vector<double>{0.01, 0.01, 0.01 * 0.1});
}

TEST_CASE("fit(): TerminateOnNaN ends training at the first NaN batch, or fails it with raise_error") {
  Dataset data = blobs(64, 5);
  data.x(20, 1) = std::numeric_limits<float>::quiet_NaN();  // poisons batch 1 (samples 16-31) and on
  FitOptions options = quiet(5);
  options.shuffle = false;
  options.validation_split = 0.0;
  auto model = blob_model("linear");  // relu would turn the NaN into 0
  std::vector<std::int64_t> batches;
  LambdaCallback spy({.on_train_batch_end = [&](std::int64_t b, Logs&) { batches.push_back(b); }});
  auto graceful = test::builtins().create_callback("TerminateOnNaN", {});
  Capture out(1);
  const History history = fit(*model, data, options, {graceful.get(), &spy});
  CHECK(out.finish() == "Batch 1: Invalid loss, terminating training\n");
  CHECK(history.epochs == std::vector<int>{0});
  CHECK(batches == std::vector<std::int64_t>{0, 1});

  auto model2 = blob_model("linear");
  auto raising = test::builtins().create_callback("TerminateOnNaN", {{"raise_error", true}});
  CHECK_THROWS_WITH_AS(fit(*model2, data, options, {raising.get()}),
                       doctest::Contains("NaN or Inf loss encountered at batch 1"), RuntimeFailure);
}

namespace {
// A schedule as a plugin registers one: halves the rate every epoch after the first.
class Halving final : public plugfit::LearningRateSchedule {
 public:
  explicit Halving(plugfit::Config& config) : floor_(config.get<double>("floor", 0.0)) {}
  double learning_rate(int epoch, double current) override { return epoch == 0 ? current : std::max(floor_, current / 2); }

 private:
  double floor_;
};
}  // namespace

TEST_CASE("LearningRateScheduler uses schedules that plugins register, qualified by the plugin") {
  plugfit::Registry registry;
  plugfit::register_builtins(registry);
  plugfit::RegistryAccess::for_plugin(registry, "acme", "1.0.0").add_schedule<Halving>("Halving");
  auto cb = registry.create_callback(
      "LearningRateScheduler", {{"schedule", {{"class_name", "acme>Halving"}, {"config", {{"floor", 0.1}}}}}});
  CHECK(cb != nullptr);
  CHECK_THROWS_WITH_AS(registry.create_callback("LearningRateScheduler",
                                                {{"schedule", {{"class_name", "acme>Halving"}, {"config", {{"flor", 1}}}}}}),
                       doctest::Contains("acme>Halving has no option \"flor\""), plugfit::InputError);
  CHECK_THROWS_WITH_AS(registry.create_callback("LearningRateScheduler", {{"schedule", {{"class_name", "Nope"}}}}),
                       doctest::Contains("acme>Halving"), plugfit::InputError);
  const plugfit::Schedule schedule =
      plugfit::make_schedule({{"class_name", "Halving"}, {"config", {{"floor", 0.1}}}}, &registry);
  CHECK(schedule(0, 0.8) == 0.8);
  CHECK(schedule(1, 0.8) == 0.4);
  CHECK(schedule(5, 0.15) == 0.1);
}

TEST_CASE("gradient hooks see the flat gradient buffer before the optimizer applies it") {
  const auto& registry = plugfit::test::builtins();
  auto model = plugfit::Sequential::from_config(
      {{"layers", {{{"class_name", "Dense"}, {"config", {{"units", 2}, {"activation", "softmax"}}}}}}}, registry);
  model->build({3}, 0);
  plugfit::compile_from_config(*model, {{"optimizer", {{"class_name", "SGD"}, {"config", {{"learning_rate", 1.0}}}}},
                                        {"loss", "sparse_categorical_crossentropy"}},
                               registry);
  plugfit::Dataset data;
  data.spec = "tiny";
  data.x = xt::ones<float>({4, 3});
  data.y = xt::zeros<float>({4});
  const std::vector<float> before(model->parameters().begin(), model->parameters().end());
  int after_backward = 0, before_step = 0;
  plugfit::LambdaCallback zero_grads;
  zero_grads.functions.on_after_backward = [&](std::int64_t) { ++after_backward; };
  zero_grads.functions.on_before_optimizer_step = [&](std::int64_t) {
    ++before_step;
    for (float& g : model->gradients()) g = 0.f;  // nothing to apply
  };
  plugfit::FitOptions options;
  options.epochs = 2;
  options.batch_size = 2;
  options.verbose = 0;
  plugfit::fit(*model, data, options, {&zero_grads});
  CHECK(after_backward == 4);
  CHECK(before_step == 4);
  CHECK(std::equal(before.begin(), before.end(), model->parameters().begin()));
}
