// Keras's ProgbarLogger: "Epoch 3/10", then
//   1875/1875 [==============================] - 4s 2ms/step - loss: 0.4321 - accuracy: 0.8456
// redrawn in place on a terminal (at most every 50 ms); one line per epoch when the output is
// not a terminal. verbose 2 prints one line per epoch without a bar. On a terminal each redrawn
// line fits its width (TIOCGWINSZ, else $COLUMNS, else 80): the bar narrows, then the per-step
// time, the bar, the timing and the last metrics go. An epoch that stopped early (TerminateOnNaN)
// ends at the batch it reached ("3/422"). NaN and infinities print as Keras prints them.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include <plugfit/callback.hpp>

namespace plugfit {

class ProgbarLogger final : public Callback {
 public:
  // out defaults to stdout; interactive decides redraws (defaults to isatty(out)).
  explicit ProgbarLogger(int verbose, std::FILE* out = stdout, int interactive = -1);

  void on_train_begin(Logs& logs) override;
  void on_epoch_begin(int epoch, Logs& logs) override;
  void on_train_batch_end(std::int64_t batch, Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_end(Logs& logs) override;
  void on_test_begin(Logs& logs) override;
  void on_test_batch_end(std::int64_t batch, Logs& logs) override;
  void on_test_end(Logs& logs) override;

  // "0.4321", or "1.2345e-04" for magnitudes under 1e-3, "nan", "inf", "-inf", as Keras formats
  // values.
  static std::string format_value(double v);

 private:
  void start(std::int64_t target);
  void update(std::int64_t current, const Logs& logs, bool final);

  int verbose_;
  std::FILE* out_;
  bool interactive_;
  bool in_fit_ = false;
  std::int64_t target_ = 0;
  std::int64_t seen_ = 0;  // batches of the current epoch (or evaluation) done so far
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace plugfit
