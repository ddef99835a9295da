// EarlyStopping: stops training when the monitored value has stopped improving, with Keras 3's
// parameters, rules and messages.
//
//   monitor "val_loss", min_delta 0, patience 0, verbose 0 (or 1), mode "auto" ("min", "max"),
//   baseline null, restore_best_weights false, start_from_epoch 0
//
// From start_from_epoch on, every epoch with the monitored value adds one to wait. A value
// better than best by more than min_delta becomes best (and, with restore_best_weights, its
// weights are copied); wait goes back to 0 only if the value also beats baseline by min_delta.
// Training stops when wait >= patience at an epoch > 0. With restore_best_weights, on_train_end
// puts the best epoch's weights back whether or not it stopped training.
//
// State (survives a resume, unlike Keras's): wait, best, best_epoch, stopped_epoch. The best
// weights are not in it (a copy of every parameter would bloat each checkpoint's info): after
// a resume, restore_best_weights restores them only if the best epoch came after the resume,
// and otherwise warns and keeps the last weights (ModelCheckpoint with save_best_only keeps the
// best epoch's weights on disk). on_train_begin resets the state unless load_state() restored it.
// State key "EarlyStopping{monitor=...}".
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <plugfit/callback.hpp>

#include "monitor.hpp"

namespace plugfit {

class EarlyStopping final : public Callback {
 public:
  explicit EarlyStopping(Config& config);
  void on_train_begin(Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_end(Logs& logs) override;
  Json state() const override;
  void load_state(const Json& state) override;
  std::string state_key() const override;

  int wait() const { return wait_; }
  std::optional<double> best() const { return best_; }
  std::optional<int> best_epoch() const { return best_epoch_; }
  int stopped_epoch() const { return stopped_epoch_; }

 private:
  Monitor monitor_;
  int patience_, verbose_, start_from_epoch_;
  bool restore_best_weights_;

  int wait_ = 0;
  std::optional<double> best_;     // none yet: Keras's +-inf
  std::optional<int> best_epoch_;  // none until an epoch was monitored
  int stopped_epoch_ = 0;
  std::vector<float> best_weights_;  // the flat parameters at best_epoch_, when restore_best_weights
  bool loaded_ = false;              // load_state() ran since the last on_train_begin
};

}  // namespace plugfit
