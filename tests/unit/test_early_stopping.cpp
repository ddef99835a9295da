// EarlyStopping against Keras's documented behaviour, on crafted metric sequences, and its
// state across a resume.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "callback_harness.hpp"
#include "training/callbacks/early_stopping.hpp"

using namespace plugfit;
using namespace plugfit::test;
namespace fs = std::filesystem;

namespace {
const EarlyStopping& es(const std::unique_ptr<Callback>& cb) { return dynamic_cast<const EarlyStopping&>(*cb); }
}  // namespace

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
