// LearningRateScheduler: sets the optimizer's learning rate at each epoch's start from a
// schedule, as Keras's does, and logs it at the epoch's end as logs["learning_rate"].
//
//   schedule  (required) a named schedule, {"class_name": NAME, "config": {...}}; epochs are
//             0-based, as in Keras:
//     "step"                initial_learning_rate, drop, every:
//                           lr = initial * drop^floor(epoch / every)
//     "exponential"         initial_learning_rate, decay_rate, decay_steps (epochs), staircase false:
//                           lr = initial * decay_rate^(epoch / decay_steps) (floored when staircase)
//     "cosine"              initial_learning_rate, decay_steps (epochs), alpha 0:
//                           lr = initial * ((1 - alpha) * 0.5 * (1 + cos(pi * min(epoch, decay_steps) /
//                           decay_steps)) + alpha)
//     "piecewise_constant"  boundaries (increasing epochs), values (one more than boundaries):
//                           values[0] while epoch <= boundaries[0], values[i] while epoch <=
//                           boundaries[i], the last value after (Keras's PiecewiseConstantDecay)
//     "warmup"              initial_learning_rate, warmup_epochs, after null: linear warm-up,
//                           lr = initial * (epoch + 1) / warmup_epochs for epoch < warmup_epochs,
//                           then initial, or the "after" schedule (a schedule spec) at epoch -
//                           warmup_epochs
//             and any schedule a plugin registers (Registry::add_schedule, "plugin>Name").
//   verbose   0 (or 1: prints "Epoch N: LearningRateScheduler setting learning rate to X.")
//
// For C++ users, a constructor takes the schedule as a function of (epoch, current rate).
// State: the epoch last scheduled and the rate before it, so that a run resumed in the middle
// of that epoch gives a rate-dependent schedule the same input again instead of applying it
// twice. State key "LearningRateScheduler{schedule=NAME}" ("function" for a C++ schedule).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <plugfit/callback.hpp>

namespace plugfit {

// The learning rate for a 0-based epoch, given the rate the optimizer has now.
using Schedule = std::function<double(int epoch, double learning_rate)>;
// Makes a schedule from its "config", reading the options with config.get()/require() (a key it
// does not read is reported as unknown, naming the schedule).
using ScheduleFactory = std::function<Schedule(Config& config)>;

// Adds a built-in named schedule. Throws InputError when the name is taken. Thread-safe.
// (Plugins register schedules with Registry::add_schedule.)
void register_schedule(const std::string& name, ScheduleFactory factory);
// The schedule that spec {"class_name": NAME, "config": {...}} names: a built-in one, or one a
// plugin registered in registry; an InputError naming the option at fault, or listing the names.
Schedule make_schedule(const Json& spec, const Registry* registry = nullptr);
// The known schedule names, sorted.
std::vector<std::string> schedule_names();

class LearningRateScheduler final : public Callback {
 public:
  explicit LearningRateScheduler(Config& config);
  explicit LearningRateScheduler(Schedule schedule, int verbose = 0);
  void on_train_begin(Logs& logs) override;
  void on_epoch_begin(int epoch, Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  Json state() const override;
  void load_state(const Json& state) override;
  std::string state_key() const override { return "LearningRateScheduler{schedule=" + name_ + "}"; }

 private:
  Optimizer& optimizer() const;

  Schedule schedule_;
  std::string name_;
  int verbose_;
  std::optional<int> last_epoch_;  // the epoch last scheduled, and the rate before it
  double rate_before_ = 0.0;
  bool loaded_ = false;  // load_state() ran since the last on_train_begin
};

}  // namespace plugfit
