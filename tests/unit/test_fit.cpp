#include <doctest/doctest.h>

#include <plugfit/registry.hpp>

#include "metrics/metrics.hpp"
#include "builtins/builtins.hpp"
#include "training/fit.hpp"
#include "test_support.hpp"

using namespace plugfit;
using namespace plugfit::test;

namespace {


std::unique_ptr<Sequential> make_model(std::uint64_t seed, const char* optimizer = "Adam", double dropout = 0.0) {
  Json layers = Json::array();
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 16}, {"activation", "relu"}}}});
  if (dropout > 0) layers.push_back({{"class_name", "Dropout"}, {"config", {{"rate", dropout}}}});
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 3}, {"activation", "softmax"}}}});
  auto model = Sequential::from_config({{"layers", layers}}, builtins());
  model->build({4}, seed);
  std::vector<std::unique_ptr<Metric>> metrics;
  metrics.push_back(builtins().create_metric("sparse_categorical_accuracy", Json::object()));
  metrics.back()->set_name("accuracy");
  model->compile(builtins().create_optimizer(optimizer, {{"learning_rate", 0.01}}),
                 builtins().create_loss("sparse_categorical_crossentropy", Json::object()),
                 "sparse_categorical_crossentropy", std::move(metrics));
  return model;
}

FitOptions quiet(int epochs, std::size_t batch = 16) {
  FitOptions o;
  o.epochs = epochs;
  o.batch_size = batch;
  o.verbose = 0;
  o.seed = 11;
  return o;
}

// Records every hook with the logs it received.
class Recorder final : public Callback {
 public:
  std::vector<std::string> events;
  std::vector<Json> batch_end_logs;
  Json epoch_end_logs;
  Json train_end_logs;
  void on_train_begin(Logs& logs) override { events.push_back("train_begin" + empty(logs)); }
  void on_train_end(Logs& logs) override {
    events.push_back("train_end");
    train_end_logs = logs.to_json();
  }
  void on_epoch_begin(int e, Logs& logs) override { events.push_back("epoch_begin " + std::to_string(e) + empty(logs)); }
  void on_epoch_end(int e, Logs& logs) override {
    events.push_back("epoch_end " + std::to_string(e));
    epoch_end_logs = logs.to_json();
  }
  void on_train_batch_end(std::int64_t, Logs& logs) override { batch_end_logs.push_back(logs.to_json()); }
  void on_test_begin(Logs&) override { events.push_back("test_begin"); }
  void on_test_end(Logs&) override { events.push_back("test_end"); }
  void on_exception(const std::exception& e) override { events.push_back(std::string("exception: ") + e.what()); }

 private:
  static std::string empty(const Logs& logs) { return logs.empty() ? "" : " (logs not empty)"; }
};

}  // namespace

TEST_CASE("fit learns a separable problem and reports Keras's logs") {
  const Dataset data = blobs(600, 1);
  auto model = make_model(3);
  FitOptions options = quiet(15);
  options.validation_split = 0.2;
  const History history = fit(*model, data, options, {});
  REQUIRE(history.epochs.size() == 15);
  CHECK(history.history.at("loss").back() < history.history.at("loss").front());
  CHECK(history.history.at("accuracy").back() > 0.9);
  CHECK(history.history.at("val_accuracy").back() > 0.85);
  CHECK(history.history.count("val_loss") == 1);
}

TEST_CASE("the same seed gives bit-identical weights; another seed does not") {
  const Dataset data = blobs(300, 2);
  auto a = make_model(5, "Adam", 0.3), b = make_model(5, "Adam", 0.3);
  fit(*a, data, quiet(3), {});
  fit(*b, data, quiet(3), {});
  CHECK(std::equal(a->parameters().begin(), a->parameters().end(), b->parameters().begin()));
  FitOptions other = quiet(3);
  other.seed = 12;
  auto c = make_model(5, "Adam", 0.3);
  fit(*c, data, other, {});
  CHECK_FALSE(std::equal(a->parameters().begin(), a->parameters().end(), c->parameters().begin()));
}

TEST_CASE("gradient blocks: one block per batch is the whole-batch step bit for bit, smaller blocks its rounding") {
  const Dataset data = blobs(300, 2);  // batches of 16 and a last one of 12 (three blocks of 4)
  auto whole = make_model(5, "Adam", 0.3), one_block = make_model(5, "Adam", 0.3), blocks = make_model(5, "Adam", 0.3);
  fit(*whole, data, quiet(3), {});
  FitOptions options = quiet(3);
  options.gradient_block_rows = 16;
  fit(*one_block, data, options, {});
  CHECK(std::equal(whole->parameters().begin(), whole->parameters().end(), one_block->parameters().begin()));
  // Blocks of 4: the same dropout masks (keyed by each sample's place in the batch), the same
  // gradient up to the order of its sums.
  options.gradient_block_rows = 4;
  fit(*blocks, data, options, {});
  float worst = 0.f, largest = 0.f;
  for (std::size_t i = 0; i < whole->parameters().size(); ++i) {
    worst = std::max(worst, std::abs(whole->parameters()[i] - blocks->parameters()[i]));
    largest = std::max(largest, std::abs(whole->parameters()[i]));
  }
  CHECK(worst > 0.f);
  CHECK(worst / largest < 1e-5f);
}

TEST_CASE("gradient blocks refuse non-trainable weights, which would move once per block") {
  Json layers = Json::array();
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 8}}}});
  layers.push_back({{"class_name", "BatchNormalization"}, {"config", Json::object()}});
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 3}, {"activation", "softmax"}}}});
  auto model = Sequential::from_config({{"layers", layers}}, builtins());
  model->build({4}, 1);
  model->compile(builtins().create_optimizer("Adam", Json::object()),
                 builtins().create_loss("sparse_categorical_crossentropy", Json::object()),
                 "sparse_categorical_crossentropy", {});
  FitOptions options = quiet(1);
  options.gradient_block_rows = 4;
  CHECK_THROWS_WITH_AS(fit(*model, blobs(40, 3), options, {}),
                       "\"gradient_block_rows\" needs a model whose weights are all trainable, and this one has 16 "
                       "non-trainable values (BatchNormalization's moving statistics, say, would move once per block "
                       "instead of once per batch)",
                       InputError);
}

TEST_CASE("hooks run in Keras's order with Keras's logs") {
  const Dataset data = blobs(100, 3);
  auto model = make_model(1);
  Recorder rec;
  FitOptions options = quiet(2, 32);
  options.validation_split = 0.2;
  fit(*model, data, options, {&rec});
  const std::vector<std::string> expected{"train_begin", "epoch_begin 0", "test_begin", "test_end", "epoch_end 0",
                                          "epoch_begin 1", "test_begin", "test_end", "epoch_end 1", "train_end"};
  CHECK(rec.events == expected);
  // 80 training samples in batches of 32: 3 batches per epoch.
  REQUIRE(rec.batch_end_logs.size() == 6);
  CHECK(rec.batch_end_logs[0].contains("loss"));
  CHECK(rec.batch_end_logs[0].contains("accuracy"));
  CHECK_FALSE(rec.batch_end_logs[0].contains("val_loss"));
  for (const char* key : {"loss", "accuracy", "val_loss", "val_accuracy"}) CHECK(rec.epoch_end_logs.contains(key));
  CHECK(rec.train_end_logs == rec.epoch_end_logs);
  // The running mean at the epoch's last batch is the epoch's loss.
  CHECK(rec.batch_end_logs[5]["loss"].get<double>() == doctest::Approx(rec.epoch_end_logs["loss"].get<double>()));
}

TEST_CASE("batch hooks nobody overrides are never called") {
  struct Counter final : Callback {
    int epochs = 0;
    void on_epoch_end(int, Logs&) override { ++epochs; }
  } counter;
  const Dataset data = blobs(64, 4);
  auto model = make_model(1);
  fit(*model, data, quiet(2, 8), {&counter});
  CHECK(counter.epochs == 2);
  CHECK_FALSE(CallbackAccess::overrides(counter, BatchHook::kTrainBatchEnd));
  CHECK_FALSE(CallbackAccess::overrides(counter, BatchHook::kTrainBatchBegin));
}

TEST_CASE("stop_training ends fit after the current batch, and on_train_end runs") {
  struct Stopper final : Callback {
    int batches = 0;
    bool ended = false;
    void on_train_batch_end(std::int64_t batch, Logs&) override {
      ++batches;
      if (batch == 2) model().stop_training = true;
    }
    void on_train_end(Logs&) override { ended = true; }
  } stopper;
  const Dataset data = blobs(200, 5);
  auto model = make_model(1);
  const History h = fit(*model, data, quiet(5, 10), {&stopper});
  CHECK(stopper.batches == 3);
  CHECK(stopper.ended);
  CHECK(h.epochs.size() == 1);
}

TEST_CASE("an exception in a hook names the callback and hook; on_exception and on_train_end run") {
  struct Thrower final : Callback {
    void on_epoch_end(int, Logs&) override { throw std::runtime_error("disk on fire"); }
  } thrower;
  CallbackAccess::set_type_name(thrower, "acme>Thrower");
  Recorder rec;
  const Dataset data = blobs(50, 6);
  auto model = make_model(1);
  CHECK_THROWS_WITH_AS(fit(*model, data, quiet(3), {&thrower, &rec}),
                       "callback acme>Thrower failed in on_epoch_end: disk on fire", RuntimeFailure);
  REQUIRE(rec.events.size() >= 2);
  CHECK(rec.events[rec.events.size() - 2] == "exception: callback acme>Thrower failed in on_epoch_end: disk on fire");
  CHECK(rec.events.back() == "train_end");
}

TEST_CASE("evaluate and predict") {
  const Dataset data = blobs(300, 7);
  auto model = make_model(2);
  fit(*model, data, quiet(10), {});
  const Logs logs = evaluate(*model, data, 64, 0);
  CHECK(logs.at("accuracy") > 0.85);
  const Tensor p = predict(*model, data, 64);
  CHECK(p.shape()[0] == 300);
  CHECK(p.shape()[1] == 3);
  std::size_t right = 0;
  for (std::size_t i = 0; i < 300; ++i) {
    std::size_t best = 0;
    for (std::size_t k = 1; k < 3; ++k)
      if (p(i, k) > p(i, best)) best = k;
    right += static_cast<float>(best) == data.y(i);
  }
  CHECK(double(right) / 300 == doctest::Approx(logs.at("accuracy")));
}

TEST_CASE("bad fit input is an InputError naming the problem") {
  Dataset data = blobs(20, 8);
  auto model = make_model(1);
  FitOptions bad = quiet(1);
  bad.validation_split = 1.5;
  CHECK_THROWS_WITH_AS(fit(*model, data, bad, {}), doctest::Contains("validation_split"), InputError);
  FitOptions ragged = quiet(1);
  ragged.gradient_block_rows = 5;
  CHECK_THROWS_WITH_AS(fit(*model, data, ragged, {}), "\"gradient_block_rows\" (5) must divide \"batch_size\" (16)",
                       InputError);
  Dataset wrong = data;
  wrong.x = xt::zeros<float>({20, 5});
  CHECK_THROWS_WITH_AS(fit(*model, wrong, quiet(1), {}),
                       "the training data blobs has samples of shape (None, 5) but the model's first layer \"dense\" expects (None, 4)",
                       InputError);
  Dataset bad_labels = data;
  bad_labels.y(0) = 7.f;
  CHECK_THROWS_WITH_AS(fit(*model, bad_labels, quiet(1, 32), {}), doctest::Contains("label 7"), InputError);
}

TEST_CASE("grayscale images (n, h, w) feed a model declared on (h, w, 1), as Keras users feed them") {
  // blobs' four features as 2x2 images; the model's InputLayer declares them (2, 2, 1).
  Dataset images = blobs(200, 5);
  images.x.reshape({200, 2, 2});
  Dataset channels = images;
  channels.x.reshape({200, 2, 2, 1});
  Json layers = Json::array();
  layers.push_back({{"class_name", "InputLayer"}, {"config", {{"batch_shape", {nullptr, 2, 2, 1}}}}});
  layers.push_back({{"class_name", "Flatten"}, {"config", Json::object()}});
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 3}, {"activation", "softmax"}}}});
  auto model = Sequential::from_config({{"layers", layers}}, builtins());
  model->build(*model->declared_input_shape(), 4);
  model->compile(builtins().create_optimizer("Adam", {{"learning_rate", 0.01}}),
                 builtins().create_loss("sparse_categorical_crossentropy", Json::object()),
                 "sparse_categorical_crossentropy", {});
  const History history = fit(*model, images, quiet(3), {});
  CHECK(history.history.at("loss").back() < history.history.at("loss").front());
  CHECK(evaluate(*model, images, 64, 0).at("loss") == evaluate(*model, channels, 64, 0).at("loss"));
  const Tensor p = predict(*model, images, 64);
  CHECK(p == predict(*model, channels, 64));
  // Only a trailing 1 the data lacks is added; any other difference is the usual sentence.
  Dataset wide = images;
  wide.x = xt::zeros<float>({200, 2, 4});
  CHECK_THROWS_WITH_AS(fit(*model, wide, quiet(1), {}),
                       "the training data blobs has samples of shape (None, 2, 4) but the model's first layer \"input_layer\" "
                       "expects (None, 2, 2, 1)",
                       InputError);
  Dataset flat = images;
  flat.x.reshape({200, 4});
  CHECK_THROWS_WITH_AS(predict(*model, flat, 64),
                       "the input blobs has samples of shape (None, 4) but the model expects (None, 2, 2, 1)", InputError);
  Dataset extra = channels;
  extra.x.reshape({200, 2, 2, 1, 1});
  CHECK_THROWS_AS(evaluate(*model, extra, 64, 0), InputError);
}

TEST_CASE("predict runs a callback's predict hooks in order, batch indices 0..steps-1, logs empty") {
  struct PredictRecorder final : Callback {
    std::vector<std::string> events;
    void on_predict_begin(Logs& logs) override { events.push_back("predict_begin" + note(logs)); }
    void on_predict_batch_begin(std::int64_t b, Logs& logs) override {
      events.push_back("batch_begin " + std::to_string(b) + note(logs));
    }
    void on_predict_batch_end(std::int64_t b, Logs& logs) override {
      events.push_back("batch_end " + std::to_string(b) + note(logs));
    }
    void on_predict_end(Logs& logs) override { events.push_back("predict_end" + note(logs)); }
    static std::string note(const Logs& logs) { return logs.empty() ? "" : " (logs not empty)"; }
  } rec;
  const Dataset data = blobs(70, 3);
  auto model = make_model(2);
  const Tensor plain = predict(*model, data, 32);
  const Tensor watched = predict(*model, data, 32, {&rec});
  const std::vector<std::string> expected{"predict_begin", "batch_begin 0", "batch_end 0", "batch_begin 1",
                                          "batch_end 1",   "batch_begin 2", "batch_end 2", "predict_end"};
  CHECK(rec.events == expected);
  CHECK(rec.params().steps == 3);
  CHECK(rec.params().samples == 70);
  CHECK(watched == plain);  // watching changes nothing
}

TEST_CASE("hook order on a run and on a resume: set_model/params/session, then load_state, then on_train_begin") {
  // Records what it can see at each hook, and keeps a counter across a resume.
  struct Ordered final : Callback {
    std::vector<std::string> events;
    int epochs_seen = 0;
    void on_train_begin(Logs&) override {
      // model(), params() and session() are set before any hook.
      events.push_back("train_begin epochs=" + std::to_string(params().epochs) + " at epoch " +
                       std::to_string(session().epoch()) + " seen=" + std::to_string(epochs_seen) +
                       (model().stop_training ? " stopped" : ""));
    }
    void on_epoch_end(int, Logs&) override { ++epochs_seen; }
    void on_train_end(Logs&) override {
      events.push_back("train_end");
      // Captured while the run's session is live (fit's own History is gone once it returns).
      if (capture_into != nullptr) *capture_into = session().capture(false);
    }
    CheckpointRecord* capture_into = nullptr;
    Json state() const override { return {{"epochs_seen", epochs_seen}}; }
    void load_state(const Json& state) override {
      events.push_back("load_state");
      epochs_seen = state.at("epochs_seen").get<int>();
    }
  };
  const Dataset data = blobs(64, 9);
  const Registry& registry = builtins();
  auto first_model = make_model(2);
  Ordered first;
  CallbackAccess::set_type_name(first, "Ordered");
  FitSession first_session(*first_model, registry, nullptr, Json::object(), 11);
  first_session.set_callbacks({&first});
  CheckpointRecord record;
  first.capture_into = &record;
  fit(*first_model, data, quiet(2), {&first}, &first_session);
  CHECK(first.events == std::vector<std::string>{"train_begin epochs=2 at epoch 0 seen=0", "train_end"});
  // fit's own History and progress bar are gone from the session once fit returns.
  CHECK(first_session.capture(false).info["callbacks"].contains("Ordered"));

  // A resume, as plugfit train --resume does it: the record is restored before fit starts.
  auto model = make_model(3);
  Ordered resumed;
  CallbackAccess::set_type_name(resumed, "Ordered");
  FitSession session(*model, registry, nullptr, Json::object(), 11);
  session.set_callbacks({&resumed});
  session.restore(record, {true, true, true, true});
  FitOptions options = quiet(3);
  options.initial_epoch = session.position().epoch;
  fit(*model, data, options, {&resumed}, &session, {session.position().batch, session.position().global_step});
  CHECK(resumed.events ==
        std::vector<std::string>{"load_state", "train_begin epochs=3 at epoch 2 seen=2", "train_end"});
  CHECK(resumed.epochs_seen == 3);
}
