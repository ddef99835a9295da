#include "reduce_lr_on_plateau.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace plugfit {

ReduceLROnPlateau::ReduceLROnPlateau(Config& config)
    : monitor_("ReduceLROnPlateau", config.get<std::string>("monitor", "val_loss"),
               config.get<std::string>("mode", "auto"), config.get<double>("min_delta", 1e-4)),
      factor_(config.get<double>("factor", 0.1)),
      min_lr_(config.get<double>("min_lr", 0.0)),
      patience_(config.get<int>("patience", 10)),
      verbose_(config.get<int>("verbose", 0)),
      cooldown_(config.get<int>("cooldown", 0)) {
  if (factor_ >= 1.0)
    throw InputError("ReduceLROnPlateau does not support a factor >= 1.0. Received factor=" + python_float(factor_));
  if (!(factor_ >= 0.0)) throw InputError("ReduceLROnPlateau: factor must be in [0, 1), got " + python_float(factor_));
  if (!(min_lr_ >= 0.0) || !std::isfinite(min_lr_))
    throw InputError("ReduceLROnPlateau: min_lr must be a non-negative number, got " + python_float(min_lr_));
  if (patience_ < 0) throw InputError("ReduceLROnPlateau: patience must be non-negative");
  if (cooldown_ < 0) throw InputError("ReduceLROnPlateau: cooldown must be non-negative");
  if (verbose_ < 0 || verbose_ > 1) throw InputError("ReduceLROnPlateau: verbose must be 0 or 1");
}

Optimizer& ReduceLROnPlateau::optimizer() const {
  Optimizer* optimizer = model().optimizer();
  if (optimizer == nullptr) throw RuntimeFailure("ReduceLROnPlateau needs a compiled model (it has no optimizer)");
  return *optimizer;
}

void ReduceLROnPlateau::on_train_begin(Logs&) {
  monitor_.resolve(session());
  // Keras resets the counters here so an instance can be reused; a resumed run has just loaded them.
  if (!loaded_) {
    wait_ = 0;
    cooldown_counter_ = 0;
    best_.reset();
  }
  loaded_ = false;
}

void ReduceLROnPlateau::on_epoch_end(int epoch, Logs& logs) {
  if (!monitor_.resolved()) monitor_.resolve(session());
  Optimizer& opt = optimizer();
  logs["learning_rate"] = opt.learning_rate();
  const double* current = monitor_.value(logs, "Learning rate reduction is conditioned on metric ", ".");
  if (current == nullptr) return;
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    wait_ = 0;
  }
  if (monitor_.improves(*current, best_)) {
    best_ = *current;
    wait_ = 0;
    return;
  }
  if (cooldown_counter_ > 0) return;
  if (++wait_ < patience_) return;
  const double old_lr = opt.learning_rate();
  // Keras's rate is a float32 variable compared with float32(min_lr): a rate already clamped
  // to min_lr (give or take the double rounding of lr * factor) stays put, silently.
  if (static_cast<float>(old_lr) > static_cast<float>(min_lr_)) {
    const double new_lr = std::max(old_lr * factor_, min_lr_);
    opt.set_learning_rate(new_lr);
    if (verbose_ > 0) {
      std::printf("\nEpoch %d: ReduceLROnPlateau reducing learning rate to %s.\n", epoch + 1,
                  python_float(new_lr).c_str());
      std::fflush(stdout);
    }
    cooldown_counter_ = cooldown_;
    wait_ = 0;
  }
}

Json ReduceLROnPlateau::state() const {
  return {{"wait", wait_}, {"cooldown_counter", cooldown_counter_}, {"best", best_ ? Json(*best_) : Json()}};
}

void ReduceLROnPlateau::load_state(const Json& state) {
  const std::string who = "ReduceLROnPlateau";
  wait_ = static_cast<int>(state_integer(state, "wait", 0, who));
  cooldown_counter_ = static_cast<int>(state_integer(state, "cooldown_counter", 0, who));
  best_ = state_number(state, "best", who);
  loaded_ = true;
}

std::string ReduceLROnPlateau::state_key() const { return "ReduceLROnPlateau{monitor=" + monitor_.key() + "}"; }

}  // namespace plugfit
