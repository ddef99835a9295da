// Key functions of the SDK's Callback and Logs.
#include <plugfit/callback.hpp>

#include "callback_access.hpp"

namespace plugfit {

double& Logs::operator[](std::string_view key) {
  for (auto& item : items_)
    if (item.first == key) return item.second;
  return items_.emplace_back(std::string(key), 0.0).second;
}

const double* Logs::find(std::string_view key) const {
  for (const auto& item : items_)
    if (item.first == key) return &item.second;
  return nullptr;
}

double Logs::at(std::string_view key) const {
  if (const double* v = find(key)) return *v;
  std::string keys;
  for (const auto& item : items_) keys += (keys.empty() ? "" : ", ") + item.first;
  throw InputError("no \"" + std::string(key) + "\" in the logs (available: " + (keys.empty() ? "none" : keys) + ")");
}

Json Logs::to_json() const {
  Json out = Json::object();
  for (const auto& [key, value] : items_) out[key] = value;
  return out;
}

Callback::~Callback() = default;

void Callback::on_train_begin(Logs&) {}
void Callback::on_train_end(Logs&) {}
void Callback::on_epoch_begin(int, Logs&) {}
void Callback::on_epoch_end(int, Logs&) {}
void Callback::on_test_begin(Logs&) {}
void Callback::on_test_end(Logs&) {}
void Callback::on_predict_begin(Logs&) {}
void Callback::on_predict_end(Logs&) {}
void Callback::on_exception(const std::exception&) {}
void Callback::on_train_batch_begin(std::int64_t, Logs&) {}
void Callback::on_train_batch_end(std::int64_t, Logs&) {}
void Callback::on_test_batch_begin(std::int64_t, Logs&) {}
void Callback::on_test_batch_end(std::int64_t, Logs&) {}
void Callback::on_predict_batch_begin(std::int64_t, Logs&) {}
void Callback::on_predict_batch_end(std::int64_t, Logs&) {}
void Callback::on_after_backward(std::int64_t) {}
void Callback::on_before_optimizer_step(std::int64_t) {}

Json Callback::state() const { return Json::object(); }
void Callback::load_state(const Json&) {}

Session::~Session() = default;

Session& Callback::session() const {
  if (session_ == nullptr) throw RuntimeFailure("callback " + type_name_ + " used its session outside fit()");
  return *session_;
}

Model& Callback::model() const {
  if (model_ == nullptr) throw RuntimeFailure("callback " + type_name_ + " used its model before training started");
  return *model_;
}

// The extension is the point here: silence its warnings for this part of the file only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpmf-conversions"
#pragma GCC diagnostic ignored "-Wpedantic"
#endif

namespace {

#if defined(__GNUC__) && !defined(__clang__)
// GCC can name the function a virtual call would reach ("bound member function" extension):
// the hook is overridden when that differs from what a plain Callback's call reaches.
template <class Hook>
bool reaches_override(Callback& callback, Hook hook) {
  static Callback plain;
  return reinterpret_cast<void*>(callback.*hook) != reinterpret_cast<void*>(plain.*hook);
}
#else
// No portable way to tell without a call: treat every hook as overridden, and call it.
template <class Hook>
bool reaches_override(Callback&, Hook) {
  return true;
}
#endif

}  // namespace

bool CallbackAccess::overrides(Callback& callback, BatchHook hook) {
  switch (hook) {
    case BatchHook::kTrainBatchBegin: return reaches_override(callback, &Callback::on_train_batch_begin);
    case BatchHook::kTrainBatchEnd: return reaches_override(callback, &Callback::on_train_batch_end);
    case BatchHook::kTestBatchBegin: return reaches_override(callback, &Callback::on_test_batch_begin);
    case BatchHook::kTestBatchEnd: return reaches_override(callback, &Callback::on_test_batch_end);
    case BatchHook::kPredictBatchBegin: return reaches_override(callback, &Callback::on_predict_batch_begin);
    case BatchHook::kPredictBatchEnd: return reaches_override(callback, &Callback::on_predict_batch_end);
    case BatchHook::kAfterBackward: return reaches_override(callback, &Callback::on_after_backward);
    case BatchHook::kBeforeOptimizerStep: return reaches_override(callback, &Callback::on_before_optimizer_step);
  }
  return true;
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace plugfit
