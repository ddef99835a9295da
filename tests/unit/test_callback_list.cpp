// CallbackList: batch hooks reach exactly the callbacks whose class overrides them, told from the
// class without calling the hook, so an override that calls the base is still called every batch.
#include <doctest/doctest.h>

#include <plugfit/registry.hpp>

#include "training/callback_access.hpp"
#include "training/callback_list.hpp"
#include "training/fit.hpp"
#include "test_support.hpp"

using namespace plugfit;
using namespace plugfit::test;

namespace {

struct CallsBase final : Callback {
  int batches = 0;
  void on_train_batch_end(std::int64_t batch, Logs& logs) override {
    ++batches;
    Callback::on_train_batch_end(batch, logs);
  }
};

struct EpochsOnly final : Callback {
  void on_epoch_end(int, Logs&) override {}
};

}  // namespace

TEST_CASE("overrides are told from the class, without calling any hook") {
  CallsBase calls_base;
  EpochsOnly epochs_only;
  Callback plain;
  CHECK(CallbackAccess::overrides(calls_base, BatchHook::kTrainBatchEnd));
  for (unsigned i = 0; i < kBatchHookCount; ++i) {
    const auto hook = static_cast<BatchHook>(i);
    CHECK_FALSE(CallbackAccess::overrides(epochs_only, hook));
    CHECK_FALSE(CallbackAccess::overrides(plain, hook));
    if (hook != BatchHook::kTrainBatchEnd) CHECK_FALSE(CallbackAccess::overrides(calls_base, hook));
  }
  CHECK(calls_base.batches == 0);
}

TEST_CASE("only overriding callbacks listen; one that calls the base is called on every batch") {
  CallsBase calls_base;
  EpochsOnly epochs_only;
  CallbackList list({&epochs_only, &calls_base});
  CHECK(list.wants(BatchHook::kTrainBatchEnd));
  CHECK_FALSE(list.wants(BatchHook::kTrainBatchBegin));
  CHECK_FALSE(list.wants(BatchHook::kAfterBackward));
  Logs logs;
  for (std::int64_t b = 0; b < 5; ++b) list.on_batch(BatchHook::kTrainBatchEnd, b, logs);
  CHECK(calls_base.batches == 5);

  CallbackList nobody({&epochs_only});
  for (unsigned i = 0; i < kBatchHookCount; ++i) CHECK_FALSE(nobody.wants(static_cast<BatchHook>(i)));
}

TEST_CASE("through fit(), an override calling the base hears every batch of every epoch") {
  auto model = Sequential::from_config(
      {{"layers", {{{"class_name", "Dense"}, {"config", {{"units", 3}, {"activation", "softmax"}}}}}}}, builtins());
  model->build({4}, 3);
  model->compile(builtins().create_optimizer("SGD", Json::object()),
                 builtins().create_loss("sparse_categorical_crossentropy", Json::object()),
                 "sparse_categorical_crossentropy", {});
  FitOptions options;
  options.epochs = 3;
  options.batch_size = 16;
  options.verbose = 0;
  CallsBase calls_base;
  fit(*model, blobs(64, 2), options, {&calls_base});
  CHECK(calls_base.batches == 3 * 4);
}
