// interrupt.hpp: the first SIGINT/SIGTERM during fit() stops after the batch in progress with
// TrainingInterrupted; callbacks see it in on_exception; the handlers are restored afterwards.
#include <doctest/doctest.h>

#include <csignal>

#include <plugfit/registry.hpp>

#include "builtins/builtins.hpp"
#include "training/callbacks/lambda_callback.hpp"
#include "training/fit.hpp"
#include "training/interrupt.hpp"
#include "test_support.hpp"

using namespace plugfit;
using namespace plugfit::test;

namespace {

std::unique_ptr<Sequential> make_model() {
  Json layers = Json::array();
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 3}, {"activation", "softmax"}}}});
  auto model = Sequential::from_config({{"layers", layers}}, builtins());
  model->build({4}, 3);
  model->compile(builtins().create_optimizer("Adam", Json::object()),
                 builtins().create_loss("sparse_categorical_crossentropy", Json::object()),
                 "sparse_categorical_crossentropy", {});
  return model;
}

FitOptions options() {
  FitOptions o;
  o.epochs = 3;
  o.batch_size = 10;  // 10 batches an epoch of 100 samples
  o.verbose = 0;
  o.seed = 5;
  return o;
}

}  // namespace

TEST_CASE("a signal during a batch stops fit() after it, naming the signal and the position") {
  for (const int signal_number : {SIGINT, SIGTERM}) {
    CAPTURE(signal_number);
    const Dataset data = blobs(100, 1);
    auto model = make_model();
    std::int64_t batches = 0;
    std::vector<std::string> seen;
    LambdaCallback raiser({.on_train_end = [&](Logs&) { seen.push_back("train_end"); },
                           .on_train_batch_begin =
                               [&](std::int64_t, Logs&) {
                                 if (++batches == 13) std::raise(signal_number);  // epoch 2, its 3rd batch
                               },
                           .on_exception = [&](const std::exception& e) { seen.push_back(e.what()); }});
    try {
      fit(*model, data, options(), {&raiser});
      FAIL("fit() finished despite the signal");
    } catch (const TrainingInterrupted& stop) {
      CHECK(stop.signal_number() == signal_number);
      CHECK(stop.epoch() == 1);
      CHECK(stop.batch() == 3);
      CHECK(stop.exit_code() == 128 + signal_number);
      CHECK(stop.where() == "interrupted at epoch 2, batch 3 (" + signal_name(signal_number) + ")");
      CHECK(batches == 13);  // the batch in progress finished; no other began
    }
    REQUIRE(seen.size() == 2);
    CHECK(seen[0] == "training interrupted at epoch 2, batch 3 (" + signal_name(signal_number) + ")");
    CHECK(seen[1] == "train_end");
  }
}

TEST_CASE("the previous handlers are back after fit(), and a run without a signal is untouched") {
  static volatile std::sig_atomic_t caught = 0;
  auto* previous = std::signal(SIGINT, [](int) { caught = 1; });
  const Dataset data = blobs(100, 1);
  auto model = make_model();
  CHECK(fit(*model, data, options(), {}).epochs.size() == 3);
  CHECK(InterruptGuard::pending() == 0);
  std::raise(SIGINT);
  CHECK(caught == 1);
  std::signal(SIGINT, previous);
}

TEST_CASE("saves noted on a copy of TrainingInterrupted are seen by every copy") {
  const TrainingInterrupted stop(SIGTERM, 0, 7);
  const TrainingInterrupted copy = stop;
  copy.note_saved("dir:/x#backup");
  REQUIRE(stop.saved().size() == 1);
  CHECK(stop.saved()[0] == "dir:/x#backup");
  CHECK(std::string(stop.what()) == "training interrupted at epoch 1, batch 7 (SIGTERM)");
}
