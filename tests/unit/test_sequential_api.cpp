// The public training API (plugfit/plugfit.hpp) as an application uses it: nothing of core.
#include <doctest/doctest.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include <plugfit/plugfit.hpp>

#include "same_memory.hpp"

namespace {

namespace fs = std::filesystem;

struct Folder {
  std::string path;
  Folder() {
    std::string pattern = (fs::temp_directory_path() / "plugfit-api-XXXXXX").string();
    path = mkdtemp(pattern.data());
  }
  ~Folder() { fs::remove_all(path); }
};

const char* const kData = "synthetic:samples=240,features=4,classes=3,seed=5,labels=linear";

plugfit::Sequential small_model(const plugfit::Context& context = plugfit::Context()) {
  plugfit::Sequential model({plugfit::Input({4}), plugfit::layer("Dense", {{"units", 16}, {"activation", "relu"}}),
                             plugfit::layer("Dropout", {{"rate", 0.1}}),
                             plugfit::layer("Dense", {{"units", 3}, {"activation", "softmax"}})},
                            context);
  model.compile({.optimizer = {{"class_name", "Adam"}, {"config", {{"learning_rate", 0.02}}}},
                 .loss = "sparse_categorical_crossentropy",
                 .metrics = {"accuracy"}});
  return model;
}

plugfit::FitOptions quiet(int epochs) {
  plugfit::FitOptions options;
  options.epochs = epochs;
  options.batch_size = 16;
  options.verbose = 0;
  options.seed = 7;
  return options;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const plugfit::InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

// A layer the application registers itself: y = 2x.
class Twice final : public plugfit::Layer {
 public:
  explicit Twice(plugfit::Config&) {}
  plugfit::Shape build(const plugfit::Shape& shape, plugfit::BuildContext&) override { return shape; }
  const plugfit::Tensor& forward(const plugfit::Tensor& x, bool) override {
    y_ = 2.f * x;
    return y_;
  }
  const plugfit::Tensor& backward(const plugfit::Tensor& dy) override {
    dx_ = 2.f * dy;
    return dx_;
  }
  plugfit::Json get_config() const override { return plugfit::Json::object(); }

 private:
  plugfit::Tensor y_, dx_;
};

}  // namespace

TEST_CASE("Sequential, compile and fit learn synthetic data; evaluate and predict agree with it") {
  const plugfit::Dataset data = plugfit::load_dataset(kData);
  plugfit::Sequential model = small_model();
  int epochs_seen = 0;
  plugfit::LambdaCallback count({.on_epoch_end = [&](int, plugfit::Logs& logs) {
    ++epochs_seen;
    CHECK(logs.contains("val_accuracy"));
  }});
  plugfit::FitOptions options = quiet(15);
  options.validation_split = 0.25;
  options.callbacks = {&count};
  const plugfit::History history = model.fit(data, options);
  CHECK(epochs_seen == 15);
  REQUIRE(history.history.at("accuracy").size() == 15);
  CHECK(history.history.at("accuracy").back() > 0.8);
  const plugfit::Logs logs = model.evaluate(data, 64);
  CHECK(logs.at("accuracy") > 0.8);
  const plugfit::Tensor predictions = model.predict(data, 64);
  CHECK(predictions.shape()[0] == 240);
  CHECK(predictions.shape()[1] == 3);
}

TEST_CASE("fit, save and load_model: the loaded model predicts the same") {
  Folder folder;
  const plugfit::Dataset data = plugfit::load_dataset(kData);
  plugfit::Sequential model = small_model();
  model.fit(data, quiet(3));
  const plugfit::CheckpointLocation saved = model.save("dir:" + folder.path + "/saved#final");
  CHECK(saved.name == "final");
  plugfit::Sequential loaded = plugfit::load_model(saved.text());
  const plugfit::Tensor a = model.predict(data, 50), b = loaded.predict(data, 50);
  REQUIRE(a.size() == b.size());
  CHECK(plugfit::test::same_memory(a.data(), b.data(), a.size() * sizeof(float)));
  CHECK(loaded.evaluate(data).at("loss") == doctest::Approx(model.evaluate(data).at("loss")));
  // load_weights into a fresh model of the same architecture.
  plugfit::Sequential fresh = small_model();
  fresh.build({4}, 99);
  fresh.load_weights(saved.text());
  const plugfit::Tensor c = fresh.predict(data, 50);
  CHECK(plugfit::test::same_memory(a.data(), c.data(), a.size() * sizeof(float)));
}

TEST_CASE("resume through FitOptions ends bit-identical to a straight run") {
  Folder folder;
  const plugfit::Dataset data = plugfit::load_dataset(kData);
  plugfit::Sequential straight = small_model();
  plugfit::FitOptions options = quiet(4);
  options.checkpoint = "dir:" + folder.path + "/straight";
  straight.fit(data, options);

  options.checkpoint = "dir:" + folder.path + "/halves";
  options.epochs = 2;
  small_model().fit(data, options);
  plugfit::Sequential resumed = small_model();
  options.epochs = 4;  // the total, as Keras
  options.resume = true;
  const plugfit::History rest = resumed.fit(data, options);
  CHECK(rest.epochs == std::vector<int>{2, 3});
  const auto p = straight.parameters(), q = resumed.parameters();
  REQUIRE(p.size() == q.size());
  CHECK(plugfit::test::same_memory(p.data(), q.data(), p.size() * sizeof(float)));
}

TEST_CASE("bad options are InputErrors naming the field") {
  const plugfit::Dataset data = plugfit::load_dataset(kData);
  plugfit::Sequential model = small_model();
  plugfit::FitOptions options = quiet(1);
  options.batch_size = 0;
  CHECK(error_of([&] { model.fit(data, options); }).find("\"batch_size\"") != std::string::npos);
  options = quiet(1);
  options.validation_split = 1.5;
  CHECK(error_of([&] { model.fit(data, options); }).find("\"validation_split\"") != std::string::npos);
  options = quiet(1);
  options.resume = true;
  CHECK(error_of([&] { model.fit(data, options); }) == "\"resume\" needs a \"checkpoint\" location to resume from");
  options = quiet(1);
  options.checkpoint = "dir:x";
  options.checkpoint_options.mode = "up";
  CHECK(error_of([&] { model.fit(data, options); }).find("\"checkpoint_options.mode\"") != std::string::npos);
  CHECK(error_of([&] { model.compile({.optimizer = "adam"}); }) == "CompileOptions: \"loss\" is required");
  CHECK(error_of([&] { model.compile({.optimizer = 3, .loss = "mse"}); }).find("\"optimizer\"") != std::string::npos);
  CHECK(error_of([&] { model.compile({.optimizer = "adam", .loss = "no_such_loss"}); }).find("no_such_loss") !=
        std::string::npos);
  CHECK(error_of([] { plugfit::Sequential({plugfit::layer("Dense")}); }).find("layer \"dense\" (Dense)") != std::string::npos);
  CHECK(error_of([] { plugfit::callbacks::EarlyStopping({.mode = "sideways"}); }).find("sideways") !=
        std::string::npos);
  CHECK(error_of([] { plugfit::Context().create_callback("CSVLogger", {{"filenam", "x"}}); }).find("filenam") !=
        std::string::npos);
}

TEST_CASE("built-in callbacks by typed options and by name") {
  Folder folder;
  const plugfit::Dataset data = plugfit::load_dataset(kData);
  plugfit::Sequential model = small_model();
  plugfit::FitOptions options = quiet(30);
  options.validation_split = 0.25;
  options.callbacks = {plugfit::callbacks::EarlyStopping({.monitor = "val_loss", .patience = 1, .restore_best_weights = true}),
                       plugfit::callbacks::ModelCheckpoint({.filepath = "dir:" + folder.path + "/best/best",
                                                            .save_best_only = true}),
                       std::shared_ptr<plugfit::Callback>(plugfit::Context().create_callback(
                           "CSVLogger", {{"filename", folder.path + "/log.csv"}}))};
  const plugfit::History history = model.fit(data, options);
  CHECK(history.epochs.size() < 30);  // stopped early
  CHECK(fs::exists(folder.path + "/log.csv"));
  plugfit::Sequential best = plugfit::load_model("dir:" + folder.path + "/best#best");
  CHECK(best.num_params() == model.num_params());
}

TEST_CASE("the application's own layer type saves and loads by name through its Context") {
  Folder folder;
  auto context_with_twice = [] {
    plugfit::Context context;
    context.registrar("myapp").add_layer<Twice>("Twice");
    return context;
  };
  const plugfit::Context context = context_with_twice();
  const plugfit::Dataset data = plugfit::load_dataset(kData);
  plugfit::Sequential model({plugfit::Input({4}), plugfit::layer("myapp>Twice"),
                             plugfit::layer("Dense", {{"units", 3}, {"activation", "softmax"}})},
                            context);
  model.compile({.optimizer = "adam", .loss = "sparse_categorical_crossentropy"});
  model.fit(data, quiet(1));
  CHECK(model.layer(1).name() == "twice");
  const auto saved = model.save("dir:" + folder.path + "/m");
  plugfit::Sequential loaded = plugfit::load_model(saved.text(), context_with_twice());
  const plugfit::Tensor a = model.predict(data), b = loaded.predict(data);
  CHECK(plugfit::test::same_memory(a.data(), b.data(), a.size() * sizeof(float)));
  // Without the registration the name is unknown: it would be a plugin "myapp", which is nowhere.
  CHECK(error_of([&] { plugfit::load_model(saved.text()); }).find("myapp") != std::string::npos);
}

TEST_CASE("a SIGINT during fit throws the public TrainingInterrupted after the manager saved") {
  Folder folder;
  const plugfit::Dataset data = plugfit::load_dataset(kData);
  plugfit::Sequential model = small_model();
  plugfit::LambdaCallback interrupt({.on_train_batch_end = [](std::int64_t batch, plugfit::Logs&) {
    if (batch == 3) std::raise(SIGINT);
  }});
  plugfit::FitOptions options = quiet(2);
  options.callbacks = {&interrupt};
  options.checkpoint = "dir:" + folder.path + "/ckpts";
  try {
    model.fit(data, options);
    FAIL("fit returned");
  } catch (const plugfit::TrainingInterrupted& stop) {
    CHECK(stop.exit_code() == 130);
    CHECK(stop.epoch() == 0);
    CHECK(stop.batch() == 4);
    REQUIRE(stop.saved().size() == 1);
    CHECK(stop.saved()[0].find("#ckpt-0001-000004") != std::string::npos);
  }
}
