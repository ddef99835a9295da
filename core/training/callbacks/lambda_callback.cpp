#include "lambda_callback.hpp"

#include "../callback_access.hpp"

namespace plugfit {

LambdaCallback::LambdaCallback(Functions f) : functions(std::move(f)) {
  CallbackAccess::set_type_name(*this, "LambdaCallback");
}

void LambdaCallback::on_train_begin(Logs& logs) {
  if (functions.on_train_begin) functions.on_train_begin(logs);
}
void LambdaCallback::on_train_end(Logs& logs) {
  if (functions.on_train_end) functions.on_train_end(logs);
}
void LambdaCallback::on_epoch_begin(int epoch, Logs& logs) {
  if (functions.on_epoch_begin) functions.on_epoch_begin(epoch, logs);
}
void LambdaCallback::on_epoch_end(int epoch, Logs& logs) {
  if (functions.on_epoch_end) functions.on_epoch_end(epoch, logs);
}
void LambdaCallback::on_test_begin(Logs& logs) {
  if (functions.on_test_begin) functions.on_test_begin(logs);
}
void LambdaCallback::on_test_end(Logs& logs) {
  if (functions.on_test_end) functions.on_test_end(logs);
}
void LambdaCallback::on_predict_begin(Logs& logs) {
  if (functions.on_predict_begin) functions.on_predict_begin(logs);
}
void LambdaCallback::on_predict_end(Logs& logs) {
  if (functions.on_predict_end) functions.on_predict_end(logs);
}
void LambdaCallback::on_exception(const std::exception& error) {
  if (functions.on_exception) functions.on_exception(error);
}

// An empty batch function falls back to the SDK's no-op. (LambdaCallback overrides every hook,
// so the host calls all of them: it is for tests and small programs, not the hot path.)
void LambdaCallback::on_train_batch_begin(std::int64_t batch, Logs& logs) {
  if (functions.on_train_batch_begin) functions.on_train_batch_begin(batch, logs);
  else Callback::on_train_batch_begin(batch, logs);
}
void LambdaCallback::on_train_batch_end(std::int64_t batch, Logs& logs) {
  if (functions.on_train_batch_end) functions.on_train_batch_end(batch, logs);
  else Callback::on_train_batch_end(batch, logs);
}
void LambdaCallback::on_after_backward(std::int64_t batch) {
  if (functions.on_after_backward) functions.on_after_backward(batch);
  else Callback::on_after_backward(batch);
}
void LambdaCallback::on_before_optimizer_step(std::int64_t batch) {
  if (functions.on_before_optimizer_step) functions.on_before_optimizer_step(batch);
  else Callback::on_before_optimizer_step(batch);
}
void LambdaCallback::on_test_batch_begin(std::int64_t batch, Logs& logs) {
  if (functions.on_test_batch_begin) functions.on_test_batch_begin(batch, logs);
  else Callback::on_test_batch_begin(batch, logs);
}
void LambdaCallback::on_test_batch_end(std::int64_t batch, Logs& logs) {
  if (functions.on_test_batch_end) functions.on_test_batch_end(batch, logs);
  else Callback::on_test_batch_end(batch, logs);
}
void LambdaCallback::on_predict_batch_begin(std::int64_t batch, Logs& logs) {
  if (functions.on_predict_batch_begin) functions.on_predict_batch_begin(batch, logs);
  else Callback::on_predict_batch_begin(batch, logs);
}
void LambdaCallback::on_predict_batch_end(std::int64_t batch, Logs& logs) {
  if (functions.on_predict_batch_end) functions.on_predict_batch_end(batch, logs);
  else Callback::on_predict_batch_end(batch, logs);
}

}  // namespace plugfit
