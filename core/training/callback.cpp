// Key functions of the SDK's Callback and Logs.
#include <plugfit/callback.hpp>

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
// The default batch hooks record that they are defaults, so the host stops calling them.
void Callback::on_train_batch_begin(std::int64_t, Logs&) { default_hooks_ |= kTrainBatchBegin; }
void Callback::on_train_batch_end(std::int64_t, Logs&) { default_hooks_ |= kTrainBatchEnd; }
void Callback::on_test_batch_begin(std::int64_t, Logs&) { default_hooks_ |= kTestBatchBegin; }
void Callback::on_test_batch_end(std::int64_t, Logs&) { default_hooks_ |= kTestBatchEnd; }
void Callback::on_predict_batch_begin(std::int64_t, Logs&) { default_hooks_ |= kPredictBatchBegin; }
void Callback::on_predict_batch_end(std::int64_t, Logs&) { default_hooks_ |= kPredictBatchEnd; }
void Callback::on_after_backward(std::int64_t) { default_hooks_ |= kAfterBackward; }
void Callback::on_before_optimizer_step(std::int64_t) { default_hooks_ |= kBeforeOptimizerStep; }

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

}  // namespace plugfit
