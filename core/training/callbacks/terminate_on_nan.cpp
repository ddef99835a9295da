#include "terminate_on_nan.hpp"

#include <cmath>
#include <cstdio>

#include "../callback_access.hpp"
#include "monitor.hpp"

namespace plugfit {

TerminateOnNaN::TerminateOnNaN(Config& config) : raise_error_(config.get<bool>("raise_error", false)) {}

TerminateOnNaN::TerminateOnNaN(bool raise_error) : raise_error_(raise_error) {
  CallbackAccess::set_type_name(*this, "TerminateOnNaN");
}

void TerminateOnNaN::on_train_begin(Logs&) { stop_reason_.clear(); }
void TerminateOnNaN::on_epoch_begin(int epoch, Logs&) { epoch_ = epoch; }

void TerminateOnNaN::on_train_batch_end(std::int64_t batch, Logs& logs) {
  const double* loss = logs.find("loss");
  if (loss == nullptr || std::isfinite(*loss)) return;
  if (raise_error_)
    throw RuntimeFailure("NaN or Inf loss encountered at batch " + std::to_string(batch) +
                         ". Loss value: " + python_float(*loss) + ". Terminating training immediately.");
  std::printf("Batch %lld: Invalid loss, terminating training\n", static_cast<long long>(batch));
  std::fflush(stdout);
  model().stop_training = true;
  stop_reason_ = "training stopped at epoch " + std::to_string(epoch_ + 1) + ", batch " + std::to_string(batch + 1) +
                 ": the loss is " + python_float(*loss) + " (TerminateOnNaN)";
}

}  // namespace plugfit
