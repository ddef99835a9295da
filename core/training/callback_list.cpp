#include "callback_list.hpp"

#include <algorithm>

#include "../util/rethrow.hpp"

namespace plugfit {

void rethrow_from_hook(const Callback& callback, const char* hook) {
  rethrow_as_failure("callback " + callback.type_name() +
                     (callback.origin().empty() ? "" : " (" + callback.origin() + ")") + " failed in " + hook);
}

CallbackList::CallbackList(std::vector<Callback*> callbacks) : callbacks_(std::move(callbacks)) {
  for (std::size_t i = 0; i < kBatchHookCount; ++i)
    for (Callback* cb : callbacks_)
      if (CallbackAccess::overrides(*cb, static_cast<BatchHook>(i))) listeners_[i].push_back(cb);
}

void CallbackList::set_model(Model* model) {
  for (Callback* cb : callbacks_) CallbackAccess::set_model(*cb, model);
}

void CallbackList::set_session(Session* session) {
  for (Callback* cb : callbacks_) CallbackAccess::set_session(*cb, session);
}

void CallbackList::set_params(const FitParams& params) {
  for (Callback* cb : callbacks_) CallbackAccess::set_params(*cb, params);
}

template <class F>
void CallbackList::each(const char* hook, F&& call) {
  for (Callback* cb : callbacks_) call_hook(*cb, hook, call);
}

void CallbackList::on_train_begin(Logs& logs) { each("on_train_begin", [&](Callback& c) { c.on_train_begin(logs); }); }
void CallbackList::on_train_end(Logs& logs) { each("on_train_end", [&](Callback& c) { c.on_train_end(logs); }); }
void CallbackList::on_epoch_begin(int epoch, Logs& logs) {
  each("on_epoch_begin", [&](Callback& c) { c.on_epoch_begin(epoch, logs); });
}
void CallbackList::on_epoch_end(int epoch, Logs& logs) {
  each("on_epoch_end", [&](Callback& c) { c.on_epoch_end(epoch, logs); });
}
void CallbackList::on_test_begin(Logs& logs) { each("on_test_begin", [&](Callback& c) { c.on_test_begin(logs); }); }
void CallbackList::on_test_end(Logs& logs) { each("on_test_end", [&](Callback& c) { c.on_test_end(logs); }); }
void CallbackList::on_predict_begin(Logs& logs) {
  each("on_predict_begin", [&](Callback& c) { c.on_predict_begin(logs); });
}
void CallbackList::on_predict_end(Logs& logs) { each("on_predict_end", [&](Callback& c) { c.on_predict_end(logs); }); }

void CallbackList::on_exception(const std::exception& error) {
  for (Callback* cb : callbacks_) {
    try {
      cb->on_exception(error);
    } catch (...) {
      // on_exception must not throw; one that does cannot stop the others from running.
    }
  }
}

void CallbackList::on_batch(BatchHook hook, std::int64_t batch, Logs& logs) {
  auto& list = listeners_[index(hook)];
  static constexpr const char* names[] = {"on_train_batch_begin",   "on_train_batch_end",     "on_test_batch_begin",
                                          "on_test_batch_end",      "on_predict_batch_begin", "on_predict_batch_end",
                                          "on_after_backward",      "on_before_optimizer_step"};
  for (Callback* cb : list) {
    call_hook(*cb, names[index(hook)], [&](Callback& c) {
      switch (hook) {
        case BatchHook::kTrainBatchBegin: c.on_train_batch_begin(batch, logs); break;
        case BatchHook::kTrainBatchEnd: c.on_train_batch_end(batch, logs); break;
        case BatchHook::kTestBatchBegin: c.on_test_batch_begin(batch, logs); break;
        case BatchHook::kTestBatchEnd: c.on_test_batch_end(batch, logs); break;
        case BatchHook::kPredictBatchBegin: c.on_predict_batch_begin(batch, logs); break;
        case BatchHook::kPredictBatchEnd: c.on_predict_batch_end(batch, logs); break;
        case BatchHook::kAfterBackward: c.on_after_backward(batch); break;
        case BatchHook::kBeforeOptimizerStep: c.on_before_optimizer_step(batch); break;
      }
    });
  }
}

}  // namespace plugfit
