// plugfit/monitor.hpp: the one "has it improved" policy (Keras's MonitorCallback rules), and
// its "auto" mode read from the compiled metrics through the Session.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include <plugfit/monitor.hpp>

#include "model/sequential.hpp"
#include "training/session.hpp"
#include "test_support.hpp"

using namespace plugfit;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// A Dense(2) model compiled with accuracy (higher is better) and mse (lower is), and its session.
struct Compiled {
  std::unique_ptr<Sequential> model;
  std::unique_ptr<FitSession> session;
  Compiled() {
    const Registry& registry = test::builtins();
    model = Sequential::from_config({{"layers", {{{"class_name", "Dense"}, {"config", {{"units", 2}}}}}}}, registry);
    model->build({3}, 0);
    const Json compile = {{"optimizer", "sgd"}, {"loss", "mse"}, {"metrics", {"accuracy", "mse"}}};
    compile_from_config(*model, compile, registry);
    session = std::make_unique<FitSession>(*model, registry, nullptr, compile, 0);
  }
};

}  // namespace

TEST_CASE("Monitor refuses a bad mode or min_delta with one sentence naming the callback") {
  CHECK_THROWS_WITH_AS(Monitor("EarlyStopping", "val_loss", "up"),
                       "EarlyStopping: mode must be \"auto\", \"min\" or \"max\", got \"up\"", InputError);
  CHECK_THROWS_WITH_AS(Monitor("X", "loss", "min", kNaN), "X: min_delta must be a finite number", InputError);
  CHECK_THROWS_WITH_AS(Monitor("X", "loss", "min", 0.0, kNaN), doctest::Contains("X: the baseline"), InputError);
}

TEST_CASE("Keras's improvement test: min_delta margin, no reference is +-inf, NaN never improves") {
  const Monitor min("M", "val_loss", "min", -0.1);  // the sign of min_delta does not matter
  CHECK(min.resolved());
  CHECK_FALSE(min.higher_is_better());
  CHECK(min.min_delta() == 0.1);
  CHECK(min.improves(0.5, std::nullopt));
  CHECK(min.improves(0.3, 0.5));
  CHECK_FALSE(min.improves(0.45, 0.5));  // better, but not by more than min_delta
  CHECK_FALSE(min.improves(0.4, 0.5));   // exactly min_delta: not an improvement (strict)
  CHECK_FALSE(min.improves(kNaN, std::nullopt));
  CHECK_FALSE(min.improves(kInf, std::nullopt));

  const Monitor max("M", "val_accuracy", "max");
  CHECK(max.higher_is_better());
  CHECK(max.improves(0.0, std::nullopt));
  CHECK(max.improves(0.7, 0.6));
  CHECK_FALSE(max.improves(0.6, 0.6));
  CHECK_FALSE(max.improves(kNaN, 0.1));
}

TEST_CASE("baseline: a bar a value must also clear, by min_delta") {
  const Monitor none("M", "loss", "min");
  CHECK(none.clears_baseline(123.0));
  const Monitor with("M", "loss", "min", 0.05, 0.5);
  CHECK(with.baseline() == 0.5);
  CHECK(with.clears_baseline(0.4));
  CHECK_FALSE(with.clears_baseline(0.47));
  const Monitor max("M", "accuracy", "max", 0.0, 0.9);
  CHECK(max.clears_baseline(0.95));
  CHECK_FALSE(max.clears_baseline(0.9));
}

TEST_CASE("better() ranks values for top-k and the index's best: strict, NaN last") {
  const Monitor min("M", "loss", "min", 0.5);  // min_delta plays no part in ranking
  CHECK(min.better(0.1, 0.2));
  CHECK_FALSE(min.better(0.2, 0.2));
  CHECK(min.better(0.2, kNaN));
  CHECK_FALSE(min.better(kNaN, 0.2));
  CHECK_FALSE(min.better(kNaN, kNaN));
  const Monitor max("M", "accuracy", "max");
  CHECK(max.better(0.9, 0.2));
  CHECK(max.better(-kInf, kNaN));
}

TEST_CASE("mode auto: losses are minimized, metrics follow the compiled direction, else an error") {
  Compiled c;
  Monitor loss("ModelCheckpoint", "val_loss");
  CHECK_FALSE(loss.resolved());
  CHECK(loss.mode() == "auto");
  CHECK_THROWS_WITH_AS(loss.improves(0.1, 0.2), doctest::Contains("not settled"), InputError);
  loss.resolve(*c.session);
  CHECK(loss.mode() == "min");

  Monitor accuracy("EarlyStopping", "val_accuracy");
  accuracy.resolve(*c.session);
  CHECK(accuracy.mode() == "max");
  Monitor mse("EarlyStopping", "mse");
  mse.resolve(*c.session);
  CHECK(mse.mode() == "min");

  CHECK(c.session->metric_direction("accuracy") == 1);
  CHECK(c.session->metric_direction("mse") == -1);
  CHECK_FALSE(c.session->metric_direction("val_accuracy"));  // a metric name, not a logs key

  Monitor unknown("ReduceLROnPlateau", "val_f1");
  CHECK_THROWS_WITH_AS(unknown.resolve(*c.session),
                       "ReduceLROnPlateau cannot tell whether \"val_f1\" should be maximized or minimized; pass "
                       "mode \"max\" or \"min\"",
                       InputError);
  Monitor given("X", "val_f1");
  given.resolve(std::optional<int>(1));
  CHECK(given.mode() == "max");
  Monitor fixed("X", "val_f1", "min");
  fixed.resolve(*c.session);  // already settled: the session is not asked
  CHECK(fixed.mode() == "min");
}

TEST_CASE("value(): the monitored number, or nullptr when the logs lack it") {
  const Monitor m("M", "val_loss", "min");
  Logs logs;
  logs["loss"] = 0.5;
  CHECK(m.value(logs, "Early stopping conditioned on metric ", "") == nullptr);
  logs["val_loss"] = 0.25;
  REQUIRE(m.value(logs, "", "") != nullptr);
  CHECK(*m.value(logs, "", "") == 0.25);
}
