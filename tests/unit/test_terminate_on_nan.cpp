// TerminateOnNaN: Keras's stop and message, and raise_error.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "callback_harness.hpp"
#include "training/callbacks/terminate_on_nan.hpp"

using namespace plugfit;
using namespace plugfit::test;
namespace fs = std::filesystem;


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


