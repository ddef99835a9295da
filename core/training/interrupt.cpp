#include "interrupt.hpp"

#include <atomic>
#include <csignal>

namespace plugfit {

namespace {

std::atomic<int> received_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs a lock-free flag");
bool guard_installed = false;
struct sigaction previous_int, previous_term;

// Async-signal-safe: an atomic store, or sigaction and raise.
extern "C" void on_stop_signal(int signal_number) {
  int expected = 0;
  if (received_signal.compare_exchange_strong(expected, signal_number)) return;
  // The second signal: the default action, delivered as soon as this handler returns.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  sigaction(signal_number, &default_action, nullptr);
  raise(signal_number);
}

// "interrupted at epoch 2, batch 118 (SIGINT)": the epoch 1-based, as the progress bar counts.
std::string describe(int signal_number, int epoch, std::int64_t batch) {
  return "interrupted at epoch " + std::to_string(epoch + 1) + ", batch " + std::to_string(batch) + " (" +
         signal_name(signal_number) + ")";
}

}  // namespace

std::string signal_name(int signal_number) {
  if (signal_number == SIGINT) return "SIGINT";
  if (signal_number == SIGTERM) return "SIGTERM";
  return "signal " + std::to_string(signal_number);
}

TrainingInterrupted::TrainingInterrupted(int signal_number, int epoch, std::int64_t batch)
    : Error("training " + describe(signal_number, epoch, batch), 128 + signal_number),
      signal_(signal_number),
      epoch_(epoch),
      batch_(batch) {}

std::string TrainingInterrupted::where() const { return describe(signal_, epoch_, batch_); }
TrainingInterrupted::~TrainingInterrupted() = default;

InterruptGuard::InterruptGuard() {
  if (guard_installed) return;
  received_signal.store(0);
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // a write in progress completes rather than failing with EINTR
  sigaction(SIGINT, &action, &previous_int);
  sigaction(SIGTERM, &action, &previous_term);
  guard_installed = installed_ = true;
}

InterruptGuard::~InterruptGuard() {
  if (!installed_) return;
  sigaction(SIGINT, &previous_int, nullptr);
  sigaction(SIGTERM, &previous_term, nullptr);
  guard_installed = false;
  received_signal.store(0);
}

int InterruptGuard::pending() noexcept { return received_signal.load(std::memory_order_relaxed); }

}  // namespace plugfit
