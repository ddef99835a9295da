#include "early_stopping.hpp"

#include <algorithm>
#include <cstdio>

namespace plugfit {

EarlyStopping::EarlyStopping(Config& config)
    : monitor_("EarlyStopping", config.get<std::string>("monitor", "val_loss"),
               config.get<std::string>("mode", "auto"), config.get<double>("min_delta", 0.0),
               config.has("baseline") ? std::optional<double>(config.get<double>("baseline", 0.0)) : std::nullopt),
      patience_(config.get<int>("patience", 0)),
      verbose_(config.get<int>("verbose", 0)),
      start_from_epoch_(config.get<int>("start_from_epoch", 0)),
      restore_best_weights_(config.get<bool>("restore_best_weights", false)) {
  if (patience_ < 0) throw InputError("EarlyStopping: patience must be non-negative, got " + std::to_string(patience_));
  if (start_from_epoch_ < 0)
    throw InputError("EarlyStopping: start_from_epoch must be non-negative, got " + std::to_string(start_from_epoch_));
  if (verbose_ < 0 || verbose_ > 1) throw InputError("EarlyStopping: verbose must be 0 or 1");
}

void EarlyStopping::on_train_begin(Logs&) {
  monitor_.resolve(session());
  // Keras resets here so an instance can be reused; a resumed run has just loaded its state.
  if (!loaded_) {
    wait_ = 0;
    best_.reset();
    best_epoch_.reset();
    stopped_epoch_ = 0;
  }
  best_weights_.clear();
  loaded_ = false;
}

void EarlyStopping::on_epoch_end(int epoch, Logs& logs) {
  if (!monitor_.resolved()) monitor_.resolve(session());
  const double* current = monitor_.value(logs, "Early stopping conditioned on metric ", "");
  if (current == nullptr || epoch < start_from_epoch_) return;  // nothing to monitor, or still warming up
  const auto params = model().parameters();
  // Keras: until some epoch is best, the first monitored epoch's weights stand in for the best.
  if (restore_best_weights_ && best_weights_.empty() && !best_epoch_) {
    best_weights_.assign(params.begin(), params.end());
    best_epoch_ = epoch;
  }
  ++wait_;
  if (monitor_.improves(*current, best_)) {
    best_ = *current;
    best_epoch_ = epoch;
    if (restore_best_weights_) best_weights_.assign(params.begin(), params.end());
    // Only a value that also beats the baseline restarts the wait.
    if (monitor_.clears_baseline(*current)) wait_ = 0;
    return;
  }
  if (wait_ >= patience_ && epoch > 0) {
    stopped_epoch_ = epoch;
    model().stop_training = true;
  }
}

void EarlyStopping::on_train_end(Logs&) {
  if (stopped_epoch_ > 0 && verbose_ > 0) std::printf("Epoch %d: early stopping\n", stopped_epoch_ + 1);
  if (restore_best_weights_ && !best_weights_.empty()) {
    if (verbose_ > 0)
      std::printf("Restoring model weights from the end of the best epoch: %d.\n", *best_epoch_ + 1);
    const auto params = model().parameters();
    if (params.size() == best_weights_.size()) std::copy(best_weights_.begin(), best_weights_.end(), params.begin());
  } else if (restore_best_weights_ && best_epoch_) {
    std::fprintf(stderr,
                 "plugfit: warning: EarlyStopping: the best epoch (%d) came before the resume and its weights were "
                 "not kept; the model keeps its last weights (ModelCheckpoint with save_best_only keeps the best)\n",
                 *best_epoch_ + 1);
  }
  std::fflush(stdout);
}

Json EarlyStopping::state() const {
  return {{"wait", wait_},
          {"best", best_ ? Json(*best_) : Json()},
          {"best_epoch", best_epoch_ ? Json(*best_epoch_) : Json()},
          {"stopped_epoch", stopped_epoch_}};
}

void EarlyStopping::load_state(const Json& state) {
  const std::string who = "EarlyStopping";
  wait_ = static_cast<int>(state_integer(state, "wait", 0, who));
  best_ = state_number(state, "best", who);
  const auto best_epoch = state_number(state, "best_epoch", who);
  best_epoch_ = best_epoch ? std::optional<int>(static_cast<int>(*best_epoch)) : std::nullopt;
  stopped_epoch_ = static_cast<int>(state_integer(state, "stopped_epoch", 0, who));
  best_weights_.clear();  // the weights of a best epoch before the resume are not kept
  loaded_ = true;
}

std::string EarlyStopping::state_key() const { return "EarlyStopping{monitor=" + monitor_.key() + "}"; }

}  // namespace plugfit
