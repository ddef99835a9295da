// LearningRateScheduler and its schedules (Keras's and plugin-registered ones).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "callback_harness.hpp"
#include "training/callbacks/learning_rate_scheduler.hpp"
#include "registry/registry_access.hpp"

using namespace plugfit;
using namespace plugfit::test;
namespace fs = std::filesystem;


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
