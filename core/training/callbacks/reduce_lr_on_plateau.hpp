// ReduceLROnPlateau: multiplies the optimizer's learning rate by factor when the monitored value
// has not improved for patience epochs, with Keras 3's parameters, rules and messages.
//
//   monitor "val_loss", factor 0.1 (must be < 1), patience 10, verbose 0 (or 1), mode "auto",
//   min_delta 1e-4, cooldown 0, min_lr 0.0
//
// Every epoch end writes the learning rate the epoch trained with to logs["learning_rate"].
// During the cooldown epochs after a reduction wait stays 0; otherwise an epoch that does not
// beat best by more than min_delta adds one to wait, and at wait >= patience the rate becomes
// max(lr * factor, min_lr) (if lr is still above min_lr) and the cooldown starts.
//
// State (survives a resume): wait, cooldown_counter, best; on_train_begin resets it unless
// load_state() restored it. The rate itself is the optimizer's, restored with it.
// State key "ReduceLROnPlateau{monitor=...}".
#pragma once

#include <optional>
#include <string>

#include <plugfit/callback.hpp>

#include "monitor.hpp"

namespace plugfit {

class ReduceLROnPlateau final : public Callback {
 public:
  explicit ReduceLROnPlateau(Config& config);
  void on_train_begin(Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  Json state() const override;
  void load_state(const Json& state) override;
  std::string state_key() const override;

  int wait() const { return wait_; }
  int cooldown_counter() const { return cooldown_counter_; }
  std::optional<double> best() const { return best_; }

 private:
  Optimizer& optimizer() const;

  Monitor monitor_;
  double factor_, min_lr_;
  int patience_, verbose_, cooldown_;

  int wait_ = 0;
  int cooldown_counter_ = 0;
  std::optional<double> best_;  // none yet: Keras's +-inf
  bool loaded_ = false;         // load_state() ran since the last on_train_begin
};

}  // namespace plugfit
