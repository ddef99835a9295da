// ReduceLROnPlateau against Keras's documented behaviour, and its state across a resume.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "callback_harness.hpp"
#include "training/callbacks/reduce_lr_on_plateau.hpp"

using namespace plugfit;
using namespace plugfit::test;
namespace fs = std::filesystem;

namespace {
const ReduceLROnPlateau& rlr(const std::unique_ptr<Callback>& cb) {
  return dynamic_cast<const ReduceLROnPlateau&>(*cb);
}
}  // namespace

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
