// TerminateOnNaN: ends training when the loss becomes NaN or infinite, as Keras's does.
//
//   raise_error false: after each training batch whose running loss (logs["loss"]) is NaN or
//                      Inf, prints "Batch b: Invalid loss, terminating training" and sets
//                      model().stop_training (the epoch ends, on_train_end runs as usual);
//                      true: throws a RuntimeFailure instead, so fit() fails (exit code 1).
//                      Unlike Keras, plugfit still runs every callback's on_exception and
//                      on_train_end before the error propagates.
// Stateless.
#pragma once

#include <plugfit/callback.hpp>

namespace plugfit {

class TerminateOnNaN final : public Callback {
 public:
  explicit TerminateOnNaN(Config& config);
  explicit TerminateOnNaN(bool raise_error = false);
  void on_train_batch_end(std::int64_t batch, Logs& logs) override;

 private:
  bool raise_error_;
};

}  // namespace plugfit
