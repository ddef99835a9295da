// Dispatches hooks to a run's callbacks in order.
//
// Batch hooks go only to callbacks whose class overrides them (told once, at construction,
// without calling any hook). When no callback listens to a batch hook, wants() is false and
// the loop does not even build logs.
// An exception from a callback is rethrown as a RuntimeFailure naming the callback and hook.
#pragma once

#include <string>
#include <vector>

#include <plugfit/callback.hpp>

#include "callback_access.hpp"

namespace plugfit {

class CallbackList {
 public:
  explicit CallbackList(std::vector<Callback*> callbacks);

  void set_model(Model* model);
  void set_session(Session* session);
  void set_params(const FitParams& params);

  void on_train_begin(Logs& logs);
  void on_train_end(Logs& logs);
  void on_epoch_begin(int epoch, Logs& logs);
  void on_epoch_end(int epoch, Logs& logs);
  void on_test_begin(Logs& logs);
  void on_test_end(Logs& logs);
  void on_predict_begin(Logs& logs);
  void on_predict_end(Logs& logs);
  // Never throws: every callback's on_exception runs.
  void on_exception(const std::exception& error);

  bool wants(BatchHook hook) const { return !listeners_[index(hook)].empty(); }
  void on_batch(BatchHook hook, std::int64_t batch, Logs& logs);

  const std::vector<Callback*>& callbacks() const { return callbacks_; }

 private:
  static std::size_t index(BatchHook hook) { return static_cast<std::size_t>(hook); }
  template <class F>
  void each(const char* hook, F&& call);

  std::vector<Callback*> callbacks_;
  std::vector<Callback*> listeners_[kBatchHookCount];
};

[[noreturn]] void rethrow_from_hook(const Callback& callback, const char* hook);

// Runs call(callback), turning anything it throws into a RuntimeFailure that names the
// callback and the hook.
template <class F>
void call_hook(Callback& callback, const char* hook, F&& call) {
  try {
    call(callback);
  } catch (...) {
    rethrow_from_hook(callback, hook);
  }
}

}  // namespace plugfit
