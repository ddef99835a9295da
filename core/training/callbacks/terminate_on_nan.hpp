// TerminateOnNaN: ends training when the loss becomes NaN or infinite, as Keras's does.
//
//   raise_error false: after each training batch whose running loss (logs["loss"]) is NaN or
//                      Inf, prints "Batch b: Invalid loss, terminating training" and sets
//                      model().stop_training (the epoch ends, on_train_end runs as usual);
//                      true: throws a RuntimeFailure instead, so fit() fails (exit code 1).
//                      Unlike Keras, plugfit still runs every callback's on_exception and
//                      on_train_end before the error propagates.
// stop_reason(): after a run it stopped, one sentence naming the epoch and batch (1-based, as
// the progress bar counts) and the loss ("training stopped at epoch 1, batch 4: the loss is nan
// (TerminateOnNaN)"), so `plugfit train` can fail with it; empty otherwise.
// No state is saved in checkpoints.
#pragma once

#include <string>

#include <plugfit/callback.hpp>

namespace plugfit {

class TerminateOnNaN final : public Callback {
 public:
  explicit TerminateOnNaN(Config& config);
  explicit TerminateOnNaN(bool raise_error = false);
  void on_train_begin(Logs& logs) override;
  void on_epoch_begin(int epoch, Logs& logs) override;
  void on_train_batch_end(std::int64_t batch, Logs& logs) override;
  const std::string& stop_reason() const { return stop_reason_; }

 private:
  bool raise_error_;
  int epoch_ = 0;
  std::string stop_reason_;
};

}  // namespace plugfit
