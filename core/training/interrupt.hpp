// Ctrl-C as a clean stop (Lightning's graceful shutdown; Keras has none).
//
// While an InterruptGuard lives (fit() holds one), the first SIGINT or SIGTERM only records the
// signal; fit() reads it after each training batch (validation and epoch-end work finish
// first), and stops by
// throwing TrainingInterrupted, so every callback's on_exception and on_train_end run as for
// any error. Callbacks that save on the way out (BackupAndRestore, the run's checkpoint
// manager) note where through TrainingInterrupted::note_saved. A second signal ends the process
// at once: the handler restores the default action and raises the signal again.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <plugfit/error.hpp>

namespace plugfit {

// Training stopped on a signal, at a clean position. Exit code 128 + the signal (130, 143).
class TrainingInterrupted final : public Error {
 public:
  // epoch: the 0-based epoch to continue; batch: the batches of it already trained.
  TrainingInterrupted(int signal_number, int epoch, std::int64_t batch);
  int signal_number() const noexcept { return signal_; }
  int epoch() const noexcept { return epoch_; }
  std::int64_t batch() const noexcept { return batch_; }
  // "interrupted at epoch 2, batch 118 (SIGINT)" (the epoch 1-based, as the progress bar counts).
  std::string where() const;
  // Called from on_exception: a location holding the stopped run ("dir:/x/ckpts#ckpt-0002-000118").
  // Copies of the exception share the list.
  void note_saved(const std::string& location) const { saved_->push_back(location); }
  const std::vector<std::string>& saved() const noexcept { return *saved_; }

 private:
  int signal_;
  int epoch_;
  std::int64_t batch_;
  std::shared_ptr<std::vector<std::string>> saved_ = std::make_shared<std::vector<std::string>>();
};

// "SIGINT", "SIGTERM", else "signal N".
std::string signal_name(int signal_number);

// Installs the SIGINT and SIGTERM handlers for its lifetime, restoring the previous ones after.
// Nested guards leave the outer one's handlers in place. Construct on the main thread.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  // The first signal received while a guard is installed, 0 if none. Lock-free; no allocation.
  static int pending() noexcept;

 private:
  bool installed_ = false;
};

}  // namespace plugfit
