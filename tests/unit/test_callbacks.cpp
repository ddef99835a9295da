// The standard callbacks against Keras's documented behaviour, on crafted metric sequences, and
// their state surviving a resume (state() -> a new instance -> load_state() -> the same decisions).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include <plugfit/registry.hpp>

#include "checkpoint/record.hpp"
#include "builtins/builtins.hpp"
#include "registry/registry_access.hpp"
#include "training/callback_access.hpp"
#include "training/callbacks/csv_logger.hpp"
#include "training/callbacks/early_stopping.hpp"
#include "training/callbacks/lambda_callback.hpp"
#include "training/callbacks/learning_rate_scheduler.hpp"
#include "training/callbacks/monitor.hpp"
#include "training/callbacks/reduce_lr_on_plateau.hpp"
#include "training/callbacks/terminate_on_nan.hpp"
#include "training/fit.hpp"
#include "training/session.hpp"
#include "test_support.hpp"

using namespace plugfit;
using namespace plugfit::test;
namespace fs = std::filesystem;

namespace {


// Redirects stdout (fd 1) or stderr (fd 2) to a file until finish().
class Capture {
 public:
  explicit Capture(int fd) : fd_(fd) {
    std::fflush(nullptr);
    saved_ = dup(fd_);
    const int file = open((temp_.path / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(file, fd_);
    close(file);
  }
  ~Capture() { restore(); }
  std::string finish() {
    restore();
    return read_file(temp_.path / "out");
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(nullptr);
    dup2(saved_, fd_);
    close(saved_);
    saved_ = -1;
  }
  test::TempDir temp_;
  int fd_, saved_ = -1;
};

// A compiled Dense(2) model (SGD at 0.1; metrics accuracy and mse) and a session, as fit() wires them.
struct Harness {
  test::TempDir temp;
  Registry registry;
  std::unique_ptr<Sequential> model;
  std::unique_ptr<FitSession> session;

  Harness() {
    register_builtins(registry);
    model = Sequential::from_config({{"layers", {{{"class_name", "Dense"}, {"config", {{"units", 2}}}}}}}, registry);
    model->build({3}, 0);
    const Json compile = {{"optimizer", {{"class_name", "SGD"}, {"config", {{"learning_rate", 0.1}}}}},
                          {"loss", "mse"},
                          {"metrics", {"accuracy", "mse"}}};
    compile_from_config(*model, compile, registry);
    session = std::make_unique<FitSession>(*model, registry, nullptr, compile, 0);
  }

  // A callback by its registered name, wired and started as fit() would (after load_state, if any).
  std::unique_ptr<Callback> make(const std::string& name, const Json& config, const Json* state = nullptr,
                                 int initial_epoch = 0) {
    auto cb = registry.create_callback(name, config);
    wire(*cb, initial_epoch);
    if (state != nullptr) cb->load_state(*state);
    Logs logs;
    model->stop_training = false;
    cb->on_train_begin(logs);
    return cb;
  }
  void wire(Callback& cb, int initial_epoch = 0) {
    CallbackAccess::set_model(cb, model.get());
    CallbackAccess::set_session(cb, session.get());
    FitParams params;
    params.epochs = 100;
    params.initial_epoch = initial_epoch;
    CallbackAccess::set_params(cb, params);
    // As fit() does: a run that starts past epoch 0 continues an earlier one.
    session->set_resumed_at(initial_epoch > 0 ? std::optional<RunPosition>({initial_epoch, 0, 0}) : std::nullopt);
  }
  // Every parameter set to the epoch's number, so weights tell which epoch they are from.
  void mark_weights(int epoch) {
    for (float& p : model->parameters()) p = static_cast<float>(epoch);
  }
  bool weights_are(int epoch) {
    for (float p : model->parameters())
      if (p != static_cast<float>(epoch)) return false;
    return true;
  }
  double lr() { return model->optimizer()->learning_rate(); }

  // Runs epochs first, first+1, ... with the monitored values (as fit() would: the weights of the
  // epoch, then on_epoch_end) until stop_training; returns the epochs run.
  int epochs(Callback& cb, const std::vector<double>& values, const std::string& key = "val_loss", int first = 0,
             std::vector<Json>* logs_out = nullptr) {
    int run = 0;
    for (std::size_t i = 0; i < values.size() && !model->stop_training; ++i, ++run) {
      const int epoch = first + static_cast<int>(i);
      Logs logs;
      cb.on_epoch_begin(epoch, logs);
      mark_weights(epoch);
      logs["loss"] = 1.0;
      logs[key] = values[i];
      cb.on_epoch_end(epoch, logs);
      if (logs_out != nullptr) logs_out->push_back(logs.to_json());
    }
    return run;
  }
  void train_end(Callback& cb) {
    Logs logs;
    cb.on_train_end(logs);
  }
};

const EarlyStopping& es(const std::unique_ptr<Callback>& cb) { return dynamic_cast<const EarlyStopping&>(*cb); }
const ReduceLROnPlateau& rlr(const std::unique_ptr<Callback>& cb) {
  return dynamic_cast<const ReduceLROnPlateau&>(*cb);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// EarlyStopping

TEST_CASE("EarlyStopping counts patience as Keras: stops once wait >= patience") {
  Harness h;
  auto cb = h.make("EarlyStopping", {{"patience", 2}});
  // best 1.0, then 0.9; 0.95 and 0.96 do not improve: wait 1, 2 -> stops at epoch 3.
  CHECK(h.epochs(*cb, {1.0, 0.9, 0.95, 0.96, 0.97, 0.1}) == 4);
  CHECK(h.model->stop_training);
  CHECK(es(cb).stopped_epoch() == 3);
  CHECK(es(cb).best() == 0.9);
  CHECK(es(cb).best_epoch() == 1);

  auto zero = h.make("EarlyStopping", {});  // patience 0: the first epoch without improvement stops
  CHECK(h.epochs(*zero, {1.0, 1.0, 0.5}) == 2);
  CHECK(es(zero).stopped_epoch() == 1);
}

TEST_CASE("EarlyStopping never stops at epoch 0 (Keras's epoch > 0 rule)") {
  Harness h;
  auto cb = h.make("EarlyStopping", {{"patience", 0}});
  // NaN is no improvement over +inf: wait 1 >= 0, but epoch 0 does not stop.
  CHECK(h.epochs(*cb, {kNaN, 0.5, 0.6}) == 3);
  CHECK(es(cb).stopped_epoch() == 2);
}

TEST_CASE("EarlyStopping min_delta: an improvement must exceed it") {
  Harness h;
  auto cb = h.make("EarlyStopping", {{"patience", 2}, {"min_delta", 0.1}});
  // 0.95 is within 0.1 of 1.0 (wait 1); 0.85 beats it by more (best, wait 0); 0.8 does not (wait 1).
  CHECK(h.epochs(*cb, {1.0, 0.95, 0.85, 0.8}) == 4);
  CHECK_FALSE(h.model->stop_training);
  CHECK(es(cb).best() == 0.85);
  CHECK(es(cb).wait() == 1);
  auto negative = h.make("EarlyStopping", {{"patience", 1}, {"min_delta", -0.1}});  // abs(), as Keras
  CHECK(h.epochs(*negative, {1.0, 0.95, 0.9}) == 2);
}

TEST_CASE("EarlyStopping baseline: the wait restarts only on values that beat it") {
  Harness h;
  // Improving values under the baseline 0.6 never restart the wait: stops at epoch 2.
  auto below = h.make("EarlyStopping", {{"monitor", "val_accuracy"}, {"patience", 2}, {"baseline", 0.6}});
  CHECK(h.epochs(*below, {0.5, 0.55, 0.5, 0.5}, "val_accuracy") == 3);
  CHECK(es(below).stopped_epoch() == 2);
  CHECK(es(below).best() == 0.55);  // best still follows the values
  // Without a baseline the same values stop one epoch later.
  auto none = h.make("EarlyStopping", {{"monitor", "val_accuracy"}, {"patience", 2}});
  CHECK(h.epochs(*none, {0.5, 0.55, 0.5, 0.5}, "val_accuracy") == 4);
  CHECK(es(none).stopped_epoch() == 3);
  // Beating the baseline at epoch 1 restarts it.
  auto above = h.make("EarlyStopping", {{"monitor", "val_accuracy"}, {"patience", 2}, {"baseline", 0.6}});
  CHECK(h.epochs(*above, {0.5, 0.7, 0.65, 0.66, 0.1}, "val_accuracy") == 4);
  CHECK(es(above).stopped_epoch() == 3);
}

TEST_CASE("EarlyStopping start_from_epoch: earlier epochs are not monitored") {
  Harness h;
  auto cb = h.make("EarlyStopping", {{"start_from_epoch", 2}});
  CHECK(h.epochs(*cb, {1.0, 2.0, 3.0, 4.0}) == 4);
  CHECK(es(cb).stopped_epoch() == 3);
  CHECK(es(cb).best() == 3.0);
  auto from_zero = h.make("EarlyStopping", {});
  CHECK(h.epochs(*from_zero, {1.0, 2.0, 3.0, 4.0}) == 2);
}

TEST_CASE("EarlyStopping restore_best_weights when it stopped training, with Keras's messages") {
  Harness h;
  auto cb = h.make("EarlyStopping", {{"patience", 1}, {"restore_best_weights", true}, {"verbose", 1}});
  CHECK(h.epochs(*cb, {1.0, 0.5, 0.7, 0.8}) == 3);
  CHECK(h.weights_are(2));
  Capture out(1);
  h.train_end(*cb);
  CHECK(out.finish() == "Epoch 3: early stopping\nRestoring model weights from the end of the best epoch: 2.\n");
  CHECK(h.weights_are(1));
}

TEST_CASE("EarlyStopping restore_best_weights when it did not stop, and silently with verbose 0") {
  Harness h;
  auto cb = h.make("EarlyStopping", {{"patience", 10}, {"restore_best_weights", true}});
  CHECK(h.epochs(*cb, {1.0, 0.5, 0.7, 0.6}) == 4);
  CHECK_FALSE(h.model->stop_training);
  Capture out(1);
  h.train_end(*cb);
  CHECK(out.finish().empty());
  CHECK(h.weights_are(1));
  // Without restore_best_weights the last weights stay.
  auto keep = h.make("EarlyStopping", {{"patience", 10}});
  h.epochs(*keep, {1.0, 0.5, 0.7});
  h.train_end(*keep);
  CHECK(h.weights_are(2));
}

TEST_CASE("EarlyStopping restore_best_weights keeps the first monitored epoch when nothing improves") {
  Harness h;
  auto cb = h.make("EarlyStopping", {{"patience", 5}, {"restore_best_weights", true}});
  h.epochs(*cb, {kNaN, kNaN, kNaN});
  h.train_end(*cb);
  CHECK(h.weights_are(0));
}

TEST_CASE("EarlyStopping mode auto: accuracy is maximized, mse minimized, an unknown metric refused") {
  Harness h;
  auto acc = h.make("EarlyStopping", {{"monitor", "val_accuracy"}, {"patience", 1}});
  CHECK(h.epochs(*acc, {0.5, 0.6, 0.55, 0.7}, "val_accuracy") == 3);
  auto mse = h.make("EarlyStopping", {{"monitor", "mse"}, {"patience", 1}});
  CHECK(h.epochs(*mse, {0.5, 0.4, 0.45, 0.3}, "mse") == 3);
  auto max = h.make("EarlyStopping", {{"monitor", "val_loss"}, {"mode", "max"}, {"patience", 1}});
  CHECK(h.epochs(*max, {0.5, 0.6, 0.55}) == 3);
  CHECK_THROWS_WITH_AS(h.make("EarlyStopping", {{"monitor", "val_f1"}}),
                       doctest::Contains("cannot tell whether \"val_f1\" should be maximized or minimized"),
                       InputError);
}

TEST_CASE("EarlyStopping warns as Keras when the monitored value is missing, and goes on") {
  Harness h;
  auto cb = h.make("EarlyStopping", {{"monitor", "val_loss"}});
  Capture err(2);
  Logs logs;
  logs["loss"] = 1.0;
  logs["accuracy"] = 0.5;
  cb->on_epoch_end(1, logs);
  CHECK(err.finish() == "plugfit: warning: Early stopping conditioned on metric `val_loss` which is not available. "
                        "Available metrics are: loss,accuracy\n");
  CHECK_FALSE(h.model->stop_training);
  CHECK(es(cb).wait() == 0);
}

TEST_CASE("EarlyStopping options are checked") {
  Harness h;
  CHECK_THROWS_WITH_AS(h.make("EarlyStopping", {{"patiance", 1}}),
                       doctest::Contains("EarlyStopping has no option \"patiance\""), InputError);
  CHECK_THROWS_WITH_AS(h.make("EarlyStopping", {{"mode", "up"}}), doctest::Contains("mode must be"), InputError);
  CHECK_THROWS_WITH_AS(h.make("EarlyStopping", {{"patience", -1}}), doctest::Contains("patience"), InputError);
  CHECK_THROWS_WITH_AS(h.make("EarlyStopping", {{"baseline", "low"}}),
                       doctest::Contains("\"baseline\" must be a number"),
                       InputError);
}

TEST_CASE("EarlyStopping state survives a resume: the same decisions as an uninterrupted run") {
  const std::vector<double> values{1.0, 0.8, 0.85, 0.7, 0.75, 0.72, 0.71, 0.73, 0.9};
  const Json config = {{"patience", 3}, {"min_delta", 0.005}, {"baseline", 0.9}};
  Harness whole;
  auto uninterrupted = whole.make("EarlyStopping", config);
  const int run = whole.epochs(*uninterrupted, values);
  REQUIRE(whole.model->stop_training);
  for (int k = 1; k < run; ++k) {
    CAPTURE(k);
    Harness h;
    auto first = h.make("EarlyStopping", config);
    h.epochs(*first, {values.begin(), values.begin() + k});
    const Json state = Json::parse(first->state().dump());  // through text, as checkpoints store it
    auto resumed = h.make("EarlyStopping", config, &state, k);
    CHECK(resumed->state_key() == "EarlyStopping{monitor=val_loss}");
    CHECK(first->state_key() == resumed->state_key());
    CHECK(h.epochs(*resumed, {values.begin() + k, values.end()}, "val_loss", k) == run - k);
    CHECK(es(resumed).stopped_epoch() == es(uninterrupted).stopped_epoch());
    CHECK(es(resumed).best() == es(uninterrupted).best());
    CHECK(es(resumed).best_epoch() == es(uninterrupted).best_epoch());
    CHECK(es(resumed).wait() == es(uninterrupted).wait());
  }
  // Keras's behaviour, for contrast: a fresh instance (state reset) would not stop where it should.
  Harness h;
  auto first = h.make("EarlyStopping", config);
  h.epochs(*first, {values.begin(), values.begin() + 5});
  auto fresh = h.make("EarlyStopping", config, nullptr, 5);
  h.epochs(*fresh, {values.begin() + 5, values.end()}, "val_loss", 5);
  CHECK(es(fresh).stopped_epoch() != es(uninterrupted).stopped_epoch());
}

TEST_CASE("EarlyStopping state goes through a checkpoint record and back") {
  Harness h;
  auto first = h.make("EarlyStopping", {{"patience", 4}});
  h.epochs(*first, {1.0, 0.5, 0.6});
  h.session->set_callbacks({first.get()});
  const CheckpointRecord record = h.session->capture(false);
  auto resumed = h.registry.create_callback("EarlyStopping", {{"patience", 4}});
  restore_callbacks({resumed.get()}, record);
  h.wire(*resumed, 3);
  Logs logs;
  resumed->on_train_begin(logs);
  CHECK(es(resumed).wait() == 1);
  CHECK(es(resumed).best() == 0.5);
  CHECK(es(resumed).best_epoch() == 1);
}

TEST_CASE("EarlyStopping restore_best_weights after a resume: restores a later best, warns about an earlier one") {
  const Json config = {{"patience", 10}, {"restore_best_weights", true}, {"verbose", 1}};
  {
    Harness h;  // the best epoch (3) comes after the resume at epoch 2
    auto first = h.make("EarlyStopping", config);
    h.epochs(*first, {1.0, 0.9});
    const Json state = first->state();
    auto resumed = h.make("EarlyStopping", config, &state, 2);
    h.epochs(*resumed, {0.95, 0.5, 0.7}, "val_loss", 2);
    Capture out(1);
    h.train_end(*resumed);
    CHECK(out.finish() == "Restoring model weights from the end of the best epoch: 4.\n");
    CHECK(h.weights_are(3));
  }
  {
    Harness h;  // the best epoch (1) came before the resume: its weights are gone
    auto first = h.make("EarlyStopping", config);
    h.epochs(*first, {1.0, 0.5});
    const Json state = first->state();
    auto resumed = h.make("EarlyStopping", config, &state, 2);
    h.epochs(*resumed, {0.95, 0.7}, "val_loss", 2);
    Capture err(2);
    h.train_end(*resumed);
    CHECK(err.finish().find("plugfit: warning: EarlyStopping: the best epoch (2) came before the resume") == 0);
    CHECK(h.weights_are(3));
  }
}

TEST_CASE("EarlyStopping reused for a second fit() starts afresh (no state loaded)") {
  Harness h;
  auto cb = h.make("EarlyStopping", {{"patience", 1}});
  h.epochs(*cb, {1.0, 2.0});
  REQUIRE(h.model->stop_training);
  Logs logs;
  h.model->stop_training = false;
  cb->on_train_begin(logs);
  CHECK(es(cb).wait() == 0);
  CHECK_FALSE(es(cb).best().has_value());
  CHECK(es(cb).stopped_epoch() == 0);
}

// ---------------------------------------------------------------------------------------------
// ReduceLROnPlateau

TEST_CASE("ReduceLROnPlateau refuses factor >= 1 with Keras's message") {
  Harness h;
  CHECK_THROWS_WITH_AS(h.make("ReduceLROnPlateau", {{"factor", 1.0}}),
                       "ReduceLROnPlateau does not support a factor >= 1.0. Received factor=1.0", InputError);
  CHECK_THROWS_AS(h.make("ReduceLROnPlateau", {{"min_lr", -1.0}}), InputError);
  CHECK_THROWS_WITH_AS(h.make("ReduceLROnPlateau", {{"cooldwn", 1}}),
                       doctest::Contains("ReduceLROnPlateau has no option \"cooldwn\""), InputError);
}

TEST_CASE("ReduceLROnPlateau: factor and patience change the optimizer's rate; logs show the epoch's rate") {
  Harness h;
  auto cb = h.make("ReduceLROnPlateau", {{"factor", 0.5}, {"patience", 2}, {"verbose", 1}});
  std::vector<Json> logs;
  Capture out(1);
  h.epochs(*cb, {1.0, 1.0, 1.0, 1.0, 1.0, 0.5}, "val_loss", 0, &logs);
  CHECK(out.finish() == "\nEpoch 3: ReduceLROnPlateau reducing learning rate to 0.05.\n"
                        "\nEpoch 5: ReduceLROnPlateau reducing learning rate to 0.025.\n");
  CHECK(h.lr() == doctest::Approx(0.025));
  std::vector<double> logged;
  for (const auto& l : logs) logged.push_back(l["learning_rate"].get<double>());
  CHECK(logged == std::vector<double>{0.1, 0.1, 0.1, 0.05, 0.05, 0.025});
  CHECK(rlr(cb).best() == 0.5);
}

TEST_CASE("ReduceLROnPlateau cooldown: no waiting during the cooldown epochs") {
  Harness h;
  auto cb = h.make("ReduceLROnPlateau", {{"factor", 0.5}, {"patience", 1}, {"cooldown", 2}});
  std::vector<double> rates;
  for (int e = 0; e < 7; ++e) {
    h.epochs(*cb, {1.0}, "val_loss", e);
    rates.push_back(h.lr());
  }
  // Keras counts the cooldown down at each epoch's start, so cooldown 2 skips one epoch: reductions
  // at epochs 1, 3 and 5.
  CHECK(rates == std::vector<double>{0.1, 0.05, 0.05, 0.025, 0.025, 0.0125, 0.0125});
  CHECK(rlr(cb).cooldown_counter() == 1);
}

TEST_CASE("ReduceLROnPlateau min_lr bounds the rate, and a rate at min_lr is left alone") {
  Harness h;
  auto cb = h.make("ReduceLROnPlateau", {{"factor", 0.1}, {"patience", 1}, {"min_lr", 0.005}, {"verbose", 1}});
  Capture out(1);
  h.epochs(*cb, {1.0, 1.0, 1.0, 1.0, 1.0});
  const std::string printed = out.finish();
  CHECK(h.lr() == 0.005);
  // 0.1 -> 0.01 -> 0.005, then no more messages.
  CHECK(printed == "\nEpoch 2: ReduceLROnPlateau reducing learning rate to 0.010000000000000002.\n"
                   "\nEpoch 3: ReduceLROnPlateau reducing learning rate to 0.005.\n");
}

TEST_CASE("ReduceLROnPlateau min_delta: changes smaller than it are no improvement") {
  Harness h;
  auto coarse = h.make("ReduceLROnPlateau", {{"factor", 0.5}, {"patience", 1}, {"min_delta", 0.1}});
  h.epochs(*coarse, {1.0, 0.95});
  CHECK(h.lr() == 0.05);
  Harness h2;
  auto fine = h2.make("ReduceLROnPlateau", {{"factor", 0.5}, {"patience", 1}, {"min_delta", 0.01}});
  h2.epochs(*fine, {1.0, 0.95});
  CHECK(h2.lr() == 0.1);
  Harness h3;  // the default 1e-4
  auto def = h3.make("ReduceLROnPlateau", {{"factor", 0.5}, {"patience", 1}});
  h3.epochs(*def, {1.0, 0.99995});
  CHECK(h3.lr() == 0.05);
}

TEST_CASE("ReduceLROnPlateau mode auto maximizes accuracy; a missing monitor warns and still logs the rate") {
  Harness h;
  auto cb = h.make("ReduceLROnPlateau", {{"monitor", "val_accuracy"}, {"factor", 0.5}, {"patience", 1}});
  h.epochs(*cb, {0.5, 0.6, 0.7}, "val_accuracy");
  CHECK(h.lr() == 0.1);
  h.epochs(*cb, {0.65}, "val_accuracy", 3);
  CHECK(h.lr() == 0.05);
  Capture err(2);
  Logs logs;
  logs["loss"] = 1.0;
  cb->on_epoch_end(4, logs);
  CHECK(err.finish() == "plugfit: warning: Learning rate reduction is conditioned on metric `val_accuracy` which is "
                        "not available. Available metrics are: loss,learning_rate.\n");
  CHECK(logs.at("learning_rate") == 0.05);
}

TEST_CASE("ReduceLROnPlateau state survives a resume: the same rates as an uninterrupted run") {
  const std::vector<double> values{1.0, 0.9, 0.95, 0.93, 0.92, 0.91, 0.96, 0.8, 0.85, 0.9, 0.95, 0.97};
  const Json config = {{"factor", 0.5}, {"patience", 2}, {"cooldown", 1}, {"min_delta", 0.015}};
  auto rates_of = [&](Harness& h, Callback& cb, int from, int to) {
    std::vector<double> rates;
    for (int e = from; e < to; ++e) {
      h.epochs(cb, {values[static_cast<std::size_t>(e)]}, "val_loss", e);
      rates.push_back(h.lr());
    }
    return rates;
  };
  Harness whole;
  auto uninterrupted = whole.make("ReduceLROnPlateau", config);
  const int n = static_cast<int>(values.size());
  const std::vector<double> expected = rates_of(whole, *uninterrupted, 0, n);
  REQUIRE(expected.back() < 0.1 / 4);  // the sequence does reduce several times
  for (int k = 1; k < n; ++k) {
    CAPTURE(k);
    Harness h;
    auto first = h.make("ReduceLROnPlateau", config);
    std::vector<double> rates = rates_of(h, *first, 0, k);
    const Json state = Json::parse(first->state().dump());
    // The rate itself comes back with the optimizer (same model here).
    auto resumed = h.make("ReduceLROnPlateau", config, &state, k);
    CHECK(resumed->state_key() == "ReduceLROnPlateau{monitor=val_loss}");
    const auto rest = rates_of(h, *resumed, k, n);
    rates.insert(rates.end(), rest.begin(), rest.end());
    CHECK(rates == expected);
  }
}

// ---------------------------------------------------------------------------------------------
// LearningRateScheduler and its schedules

namespace {

std::vector<double> schedule_values(const Json& spec, const std::vector<int>& epochs) {
  const Schedule s = make_schedule(spec);
  std::vector<double> out;
  for (int e : epochs) out.push_back(s(e, 123.0));
  return out;
}

void check_values(const std::vector<double>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-12));
  }
}

}  // namespace

TEST_CASE("schedule step: drop every N epochs") {
  check_values(schedule_values({{"class_name", "step"},
                                {"config", {{"initial_learning_rate", 0.1}, {"drop", 0.5}, {"every", 2}}}},
                               {0, 1, 2, 3, 4, 9}),
               {0.1, 0.1, 0.05, 0.05, 0.025, 0.1 / 16});
}

TEST_CASE("schedule exponential: continuous and staircase") {
  const Json config = {{"initial_learning_rate", 0.1}, {"decay_rate", 0.5}, {"decay_steps", 2}};
  check_values(schedule_values({{"class_name", "exponential"}, {"config", config}}, {0, 1, 2, 4}),
               {0.1, 0.1 * std::sqrt(0.5), 0.05, 0.025});
  Json stair = config;
  stair["staircase"] = true;
  check_values(schedule_values({{"class_name", "exponential"}, {"config", stair}}, {0, 1, 2, 3, 4}),
               {0.1, 0.1, 0.05, 0.05, 0.025});
}

TEST_CASE("schedule cosine: from the initial rate to alpha times it, then flat") {
  check_values(schedule_values({{"class_name", "cosine"},
                                {"config", {{"initial_learning_rate", 1.0}, {"decay_steps", 4}, {"alpha", 0.1}}}},
                               {0, 1, 2, 4, 10}),
               {1.0, 0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI / 4)), 0.55, 0.1, 0.1});
}

TEST_CASE("schedule piecewise_constant: Keras's boundaries (values[i] while epoch <= boundaries[i])") {
  check_values(schedule_values({{"class_name", "piecewise_constant"},
                                {"config", {{"boundaries", {2, 5}}, {"values", {1.0, 0.5, 0.1}}}}},
                               {0, 2, 3, 5, 6, 100}),
               {1.0, 1.0, 0.5, 0.5, 0.1, 0.1});
}

TEST_CASE("schedule warmup: linear to the rate, then constant or the chained schedule") {
  const Json warm = {{"initial_learning_rate", 0.4}, {"warmup_epochs", 4}};
  check_values(schedule_values({{"class_name", "warmup"}, {"config", warm}}, {0, 1, 2, 3, 4, 9}),
               {0.1, 0.2, 0.3, 0.4, 0.4, 0.4});
  Json chained = warm;
  chained["after"] = {{"class_name", "step"},
                      {"config", {{"initial_learning_rate", 0.4}, {"drop", 0.5}, {"every", 1}}}};
  check_values(schedule_values({{"class_name", "warmup"}, {"config", chained}}, {3, 4, 5, 6}), {0.4, 0.4, 0.2, 0.1});
}

TEST_CASE("schedules are validated with clear errors") {
  CHECK_THROWS_WITH_AS(make_schedule({{"class_name", "linear"}}),
                       "LearningRateScheduler: unknown schedule \"linear\" (known: cosine, exponential, "
                       "piecewise_constant, step, warmup)",
                       InputError);
  CHECK_THROWS_WITH_AS(make_schedule({{"class_name", "step"},
                                      {"config", {{"initial_learning_rate", 0.1}, {"drop", 0.5}}}}),
                       "LearningRateScheduler schedule \"step\": the option \"every\" is required", InputError);
  CHECK_THROWS_WITH_AS(
      make_schedule({{"class_name", "step"},
                     {"config", {{"initial_learning_rate", 0.1}, {"drop", 0.5}, {"every", 1}, {"gamma", 2}}}}),
      doctest::Contains("LearningRateScheduler schedule \"step\" has no option \"gamma\""), InputError);
  CHECK_THROWS_WITH_AS(
      make_schedule({{"class_name", "step"},
                     {"config", {{"initial_learning_rate", 0.1}, {"drop", 0.5}, {"every", 0}}}}),
      doctest::Contains("\"every\" must be a positive number of epochs"), InputError);
  CHECK_THROWS_WITH_AS(make_schedule({{"class_name", "piecewise_constant"},
                                      {"config", {{"boundaries", {2, 5}}, {"values", {1.0, 0.5}}}}}),
                       doctest::Contains("\"values\" must have one more entry than \"boundaries\" (3), got 2"),
                       InputError);
  CHECK_THROWS_WITH_AS(make_schedule({{"class_name", "piecewise_constant"},
                                      {"config", {{"boundaries", {5, 2}}, {"values", {1.0, 0.5, 0.1}}}}}),
                       doctest::Contains("\"boundaries\" must be increasing"), InputError);
  CHECK_THROWS_WITH_AS(make_schedule({{"class_name", "cosine"},
                                      {"config", {{"initial_learning_rate", -1.0}, {"decay_steps", 3}}}}),
                       doctest::Contains("\"initial_learning_rate\" must be a non-negative number"), InputError);
  CHECK_THROWS_WITH_AS(make_schedule({{"class_name", "warmup"},
                                      {"config", {{"initial_learning_rate", 0.1}, {"warmup_epochs", 2},
                                                  {"after", {{"class_name", "cosine"}}}}}}),
                       doctest::Contains("schedule \"cosine\": the option \"initial_learning_rate\" is required"),
                       InputError);
  CHECK_THROWS_WITH_AS(make_schedule("step"), doctest::Contains("\"schedule\" must be {\"class_name\""), InputError);
  Harness h;
  CHECK_THROWS_WITH_AS(h.make("LearningRateScheduler", Json::object()),
                       doctest::Contains("the option \"schedule\" is required"), InputError);
}

TEST_CASE("register_schedule adds a named schedule; a taken name is refused") {
  register_schedule("test_halving", [](Config& config) -> Schedule {
    const double floor = config.get<double>("floor", 0.0);
    return [floor](int, double lr) { return std::max(lr / 2, floor); };
  });
  CHECK_THROWS_WITH_AS(register_schedule("test_halving", [](Config&) { return Schedule(); }),
                       "the learning rate schedule \"test_halving\" is already registered", InputError);
  CHECK_THROWS_AS(register_schedule("step", [](Config&) { return Schedule(); }), InputError);
  Harness h;
  auto cb = h.make("LearningRateScheduler",
                   {{"schedule", {{"class_name", "test_halving"}, {"config", {{"floor", 0.02}}}}}});
  CHECK(cb->state_key() == "LearningRateScheduler{schedule=test_halving}");
  std::vector<Json> logs;
  h.epochs(*cb, {1.0, 1.0, 1.0, 1.0}, "val_loss", 0, &logs);
  CHECK(logs[0]["learning_rate"] == 0.05);
  CHECK(logs[1]["learning_rate"] == 0.025);
  CHECK(logs[2]["learning_rate"] == 0.02);
}

TEST_CASE("LearningRateScheduler sets the rate at each epoch's start and logs it at the end") {
  Harness h;
  auto cb = h.make("LearningRateScheduler",
                   {{"verbose", 1},
                    {"schedule", {{"class_name", "piecewise_constant"},
                                  {"config", {{"boundaries", {0}}, {"values", {0.5, 1e-05}}}}}}});
  std::vector<Json> logs;
  Capture out(1);
  h.epochs(*cb, {1.0, 1.0}, "val_loss", 0, &logs);
  CHECK(out.finish() == "\nEpoch 1: LearningRateScheduler setting learning rate to 0.5.\n"
                        "\nEpoch 2: LearningRateScheduler setting learning rate to 1e-05.\n");
  CHECK(logs[0]["learning_rate"] == 0.5);
  CHECK(logs[1]["learning_rate"] == 1e-05);
  CHECK(h.lr() == 1e-05);
}

TEST_CASE("LearningRateScheduler from a C++ function of (epoch, rate); a bad rate is a RuntimeFailure") {
  Harness h;
  LearningRateScheduler cb([](int epoch, double lr) { return epoch < 2 ? lr : lr * 0.5; });
  h.wire(cb);
  Logs logs;
  cb.on_train_begin(logs);
  h.epochs(cb, {1.0, 1.0, 1.0, 1.0});
  CHECK(h.lr() == doctest::Approx(0.025));
  CHECK(cb.state_key() == "LearningRateScheduler{schedule=function}");
  LearningRateScheduler bad([](int, double) { return -1.0; });
  h.wire(bad);
  CHECK_THROWS_WITH_AS(bad.on_epoch_begin(0, logs), doctest::Contains("the schedule gave -1.0 for epoch 0"),
                       RuntimeFailure);
}

TEST_CASE("LearningRateScheduler resumed inside an epoch does not apply a rate-dependent schedule twice") {
  auto halve = [](int, double lr) { return lr * 0.5; };
  Harness whole;
  LearningRateScheduler uninterrupted(halve);
  whole.wire(uninterrupted);
  Logs logs;
  uninterrupted.on_train_begin(logs);
  whole.epochs(uninterrupted, {1.0, 1.0, 1.0, 1.0});
  Harness h;
  LearningRateScheduler first(halve);
  h.wire(first);
  first.on_train_begin(logs);
  h.epochs(first, {1.0, 1.0});
  first.on_epoch_begin(2, logs);  // the crash comes in the middle of epoch 2
  const Json state = Json::parse(first.state().dump());
  LearningRateScheduler resumed(halve);
  h.wire(resumed, 2);
  resumed.load_state(state);
  resumed.on_train_begin(logs);
  h.epochs(resumed, {1.0, 1.0}, "val_loss", 2);
  CHECK(h.lr() == whole.lr());
  CHECK(h.lr() == 0.1 / 16);
}

// ---------------------------------------------------------------------------------------------
// CSVLogger

namespace {

Logs make_logs(std::initializer_list<std::pair<const char*, double>> items) {
  Logs logs;
  for (const auto& [k, v] : items) logs[k] = v;
  return logs;
}

void csv_epochs(Callback& cb, std::vector<Logs> rows, int first = 0) {
  for (std::size_t i = 0; i < rows.size(); ++i) cb.on_epoch_end(first + static_cast<int>(i), rows[i]);
}

}  // namespace

TEST_CASE("python_float prints as Python's str(float)") {
  CHECK(python_float(0.1) == "0.1");
  CHECK(python_float(0.5) == "0.5");
  CHECK(python_float(2.0) == "2.0");
  CHECK(python_float(123.0) == "123.0");
  CHECK(python_float(-2.5) == "-2.5");
  CHECK(python_float(0.0) == "0.0");
  CHECK(python_float(1.0 / 3) == "0.3333333333333333");
  CHECK(python_float(0.0001) == "0.0001");
  CHECK(python_float(1e-05) == "1e-05");
  CHECK(python_float(1.5e-07) == "1.5e-07");
  CHECK(python_float(1e15) == "1000000000000000.0");
  CHECK(python_float(1e16) == "1e+16");
  CHECK(python_float(1.2345678901234567e+19) == "1.2345678901234567e+19");
  CHECK(python_float(0.1 + 0.2) == "0.30000000000000004");
  CHECK(python_float(kNaN) == "nan");
  CHECK(python_float(kInf) == "inf");
  CHECK(python_float(-kInf) == "-inf");
}

TEST_CASE("CSVLogger writes Keras's format byte for byte") {
  Harness h;
  const fs::path file = h.temp.path / "log.csv";
  auto cb = h.make("CSVLogger", {{"filename", file.string()}});
  csv_epochs(*cb, {make_logs({{"loss", 0.5}, {"accuracy", 0.25}, {"val_loss", 0.625}, {"val_accuracy", 0.125}}),
                   make_logs({{"loss", 0.1}, {"accuracy", 1e-05}, {"val_loss", 1.0 / 3}, {"extra", 7.0}}),
                   make_logs({{"loss", kNaN}, {"accuracy", 1.0}, {"val_loss", 2.0}, {"val_accuracy", 0.75}})});
  // Flushed after every epoch: complete before on_train_end.
  const std::string expected =
      "epoch,accuracy,loss,val_accuracy,val_loss\r\n"
      "0,0.25,0.5,0.125,0.625\r\n"
      "1,1e-05,0.1,NA,0.3333333333333333\r\n"
      "2,1.0,nan,0.75,2.0\r\n";
  CHECK(read_file(file) == expected);
  h.train_end(*cb);
  CHECK(read_file(file) == expected);
}

TEST_CASE("CSVLogger adds val_ columns when the first epoch has none, written as NA") {
  Harness h;
  const fs::path file = h.temp.path / "log.csv";
  auto cb = h.make("CSVLogger", {{"filename", file.string()}});
  csv_epochs(*cb, {make_logs({{"loss", 0.5}, {"accuracy", 0.75}}),
                   make_logs({{"loss", 0.25}, {"accuracy", 1.0}, {"val_loss", 0.5}})});
  h.train_end(*cb);
  CHECK(read_file(file) == "epoch,accuracy,loss,val_accuracy,val_loss\r\n"
                           "0,0.75,0.5,NA,NA\r\n"
                           "1,1.0,0.25,NA,0.5\r\n");
}

TEST_CASE("CSVLogger separator, and quoting of fields that hold it") {
  Harness h;
  const fs::path file = h.temp.path / "log.tsv";
  auto cb = h.make("CSVLogger", {{"filename", file.string()}, {"separator", ";"}});
  csv_epochs(*cb, {make_logs({{"loss", 0.5}, {"val_loss", 0.25}, {"odd;key", 1.0}})});
  h.train_end(*cb);
  CHECK(read_file(file) == "epoch;loss;\"odd;key\";val_loss\r\n0;0.5;1.0;0.25\r\n");
  CHECK_THROWS_WITH_AS(h.make("CSVLogger", {{"filename", "x.csv"}, {"separator", ", "}}),
                       doctest::Contains("\"separator\" must be a single character"), InputError);
  CHECK_THROWS_WITH_AS(h.make("CSVLogger", {{"separator", ","}}), doctest::Contains("\"filename\" is required"),
                       InputError);
}

TEST_CASE("CSVLogger append: the header only into an empty file; without append the file restarts") {
  Harness h;
  const fs::path file = h.temp.path / "log.csv";
  write_file(file, "epoch,loss,val_loss\r\n0,0.5,0.5\r\n");
  auto appending = h.make("CSVLogger", {{"filename", file.string()}, {"append", true}});
  csv_epochs(*appending, {make_logs({{"loss", 0.25}, {"val_loss", 0.125}})}, 1);
  h.train_end(*appending);
  CHECK(read_file(file) == "epoch,loss,val_loss\r\n0,0.5,0.5\r\n1,0.25,0.125\r\n");

  write_file(file, "");
  auto into_empty = h.make("CSVLogger", {{"filename", file.string()}, {"append", true}});
  csv_epochs(*into_empty, {make_logs({{"loss", 0.25}, {"val_loss", 0.125}})});
  h.train_end(*into_empty);
  CHECK(read_file(file) == "epoch,loss,val_loss\r\n0,0.25,0.125\r\n");

  auto overwriting = h.make("CSVLogger", {{"filename", file.string()}});
  csv_epochs(*overwriting, {make_logs({{"loss", 2.0}, {"val_loss", 3.0}})});
  h.train_end(*overwriting);
  CHECK(read_file(file) == "epoch,loss,val_loss\r\n0,2.0,3.0\r\n");

  CHECK_THROWS_WITH_AS(h.make("CSVLogger", {{"filename", (h.temp.path / "no/such/dir.csv").string()}}),
                       doctest::Contains("cannot open"), InputError);
}

TEST_CASE("CSVLogger resumed: appends, keeps its columns, drops rows written after the checkpoint") {
  Harness h;
  const fs::path file = h.temp.path / "log.csv";
  auto first = h.make("CSVLogger", {{"filename", file.string()}});  // append false, as in the run file
  csv_epochs(*first, {make_logs({{"loss", 0.5}}), make_logs({{"loss", 0.4}})});
  const Json state = Json::parse(first->state().dump());  // the checkpoint after epoch 1
  csv_epochs(*first, {make_logs({{"loss", 0.3}})}, 2);    // epoch 2 was logged, then the crash
  first.reset();
  auto resumed = h.make("CSVLogger", {{"filename", file.string()}}, &state, 2);
  CHECK(resumed->state_key() == "CSVLogger{filename=" + file.string() + "}");
  // The resumed epochs log a new key: the columns stay those of the first run.
  csv_epochs(*resumed, {make_logs({{"loss", 0.35}, {"learning_rate", 0.1}}), make_logs({{"loss", 0.25}})}, 2);
  h.train_end(*resumed);
  CHECK(read_file(file) == "epoch,loss,val_loss\r\n0,0.5,NA\r\n1,0.4,NA\r\n2,0.35,NA\r\n3,0.25,NA\r\n");
}

// ---------------------------------------------------------------------------------------------
// TerminateOnNaN

TEST_CASE("TerminateOnNaN stops training at a NaN or Inf loss, with Keras's message") {
  Harness h;
  auto cb = h.make("TerminateOnNaN", {});
  Logs logs;
  logs["loss"] = 0.5;
  cb->on_train_batch_end(0, logs);
  CHECK_FALSE(h.model->stop_training);
  Capture out(1);
  logs["loss"] = kNaN;
  cb->on_train_batch_end(7, logs);
  CHECK(out.finish() == "Batch 7: Invalid loss, terminating training\n");
  CHECK(h.model->stop_training);
  h.model->stop_training = false;
  Capture quiet(1);
  logs["loss"] = -kInf;
  cb->on_train_batch_end(8, logs);
  CHECK(quiet.finish() == "Batch 8: Invalid loss, terminating training\n");
  CHECK(h.model->stop_training);
  CHECK(cb->state().empty());
}

TEST_CASE("TerminateOnNaN raise_error throws a RuntimeFailure instead") {
  Harness h;
  auto cb = h.make("TerminateOnNaN", {{"raise_error", true}});
  Logs logs;
  logs["loss"] = kInf;
  CHECK_THROWS_WITH_AS(cb->on_train_batch_end(3, logs),
                       "NaN or Inf loss encountered at batch 3. Loss value: inf. Terminating training immediately.",
                       RuntimeFailure);
  CHECK_FALSE(h.model->stop_training);
}

// ---------------------------------------------------------------------------------------------
// LambdaCallback

TEST_CASE("LambdaCallback calls its functions; unset hooks are no-ops") {
  std::vector<std::string> calls;
  LambdaCallback cb({.on_train_begin = [&](Logs&) { calls.push_back("train_begin"); },
                     .on_epoch_end = [&](int e, Logs&) { calls.push_back("epoch_end " + std::to_string(e)); },
                     .on_train_batch_end = [&](std::int64_t b, Logs&) {
                       calls.push_back("batch_end " + std::to_string(b));
                     }});
  Logs logs;
  cb.on_train_begin(logs);
  cb.on_epoch_begin(0, logs);
  cb.on_train_batch_begin(0, logs);
  cb.on_train_batch_end(0, logs);
  cb.on_test_batch_end(0, logs);
  cb.on_epoch_end(0, logs);
  cb.on_train_end(logs);
  CHECK(calls == std::vector<std::string>{"train_begin", "batch_end 0", "epoch_end 0"});
  CHECK(cb.state().empty());
  CHECK(cb.type_name() == "LambdaCallback");
  Registry registry;
  register_builtins(registry);
  CHECK(registry.find(TypeKind::callback, "LambdaCallback") == nullptr);
}

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
