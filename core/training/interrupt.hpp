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

#include <plugfit/sequential.hpp>

namespace plugfit {

// TrainingInterrupted (what fit() throws) is public: plugfit/sequential.hpp.

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
