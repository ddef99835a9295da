// Host side of Callback: the wiring before training, and which batch hooks a class overrides.
// Not part of the SDK: plugins see only type_name(), origin(), model(), session() and params().
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include <plugfit/callback.hpp>

namespace plugfit {

// The per-batch hooks, in the order CallbackList keeps their listeners.
enum class BatchHook : unsigned {
  kTrainBatchBegin,
  kTrainBatchEnd,
  kTestBatchBegin,
  kTestBatchEnd,
  kPredictBatchBegin,
  kPredictBatchEnd,
  kAfterBackward,
  kBeforeOptimizerStep,
};
inline constexpr std::size_t kBatchHookCount = 8;

struct CallbackAccess {
  static void set_model(Callback& callback, Model* model) { callback.model_ = model; }
  static void set_session(Callback& callback, Session* session) { callback.session_ = session; }
  static void set_params(Callback& callback, const FitParams& params) { callback.params_ = params; }
  static void set_type_name(Callback& callback, std::string name) { callback.type_name_ = std::move(name); }
  static void set_origin(Callback& callback, std::string origin) { callback.origin_ = std::move(origin); }

  // Whether callback's class overrides hook, told from its vtable without calling anything.
  //   ensures: false only when the hook is Callback's own no-op; true where the compiler gives
  //            no way to tell (then the host simply calls the hook).
  static bool overrides(Callback& callback, BatchHook hook);
};

}  // namespace plugfit
