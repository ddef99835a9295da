// LambdaCallback: its functions are called; unset hooks are no-ops.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "callback_harness.hpp"
#include "training/callbacks/lambda_callback.hpp"

using namespace plugfit;
using namespace plugfit::test;
namespace fs = std::filesystem;

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
