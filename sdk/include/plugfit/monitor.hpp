// Monitor: "has the monitored value improved?", the one policy behind ModelCheckpoint (its best
// and save_top_k), EarlyStopping, ReduceLROnPlateau, the checkpoint index's "best" and any
// plugin callback that watches a metric (as Keras's MonitorCallback is their common base).
//
//   key        the logs key watched ("val_loss", "accuracy", ...)
//   mode       "min", "max" or "auto". Auto is Keras's rule: a key that is "loss" or
//              "val_loss" is minimized; any other key, less a "val_" prefix, is looked up among
//              the compiled metrics (Session::metric_direction) and follows its direction;
//              a key it cannot place is an InputError asking for "min" or "max".
//   min_delta  the margin a value must win by (its absolute value is used; must be finite)
//   baseline   an optional bar a value must also clear: EarlyStopping's baseline; for
//              ModelCheckpoint, initial_value_threshold (the best before any save)
//
// Keras's improvement test: improves(current, reference) is
//   mode min: current + min_delta < reference      mode max: current - min_delta > reference
// where no reference counts as +inf (min) or -inf (max), as Keras's initial best. NaN never
// improves. better(a, b) ranks two values (min_delta 0; NaN ranks last).
//
// Threading: a Monitor is a value; its const members may be used from any thread.
#pragma once

#include <optional>
#include <string>

#include "callback.hpp"
#include "export.hpp"
#include "session.hpp"

namespace plugfit {

class PLUGFIT_API Monitor {
 public:
  // requires: mode is "auto", "min" or "max" and min_delta finite; otherwise an InputError whose
  // sentence starts with who (the callback's name, for messages).
  Monitor(std::string who, std::string key, std::string mode = "auto", double min_delta = 0.0,
          std::optional<double> baseline = std::nullopt);

  // Settles mode "auto" by the rule above (asking session only when the key is not a loss).
  // ensures: resolved(); a no-op when already resolved.
  void resolve(const Session& session);
  // Settles mode "auto" given the compiled metric's direction (+1 higher is better, -1 lower,
  // nullopt unknown): for a host or test that knows it without a session.
  void resolve(std::optional<int> metric_direction);
  bool resolved() const { return mode_ != "auto"; }
  // requires: resolved() (an InputError naming who otherwise).
  bool higher_is_better() const;

  // Keras's test above. requires: resolved().
  bool improves(double current, std::optional<double> reference) const;
  // improves(current, baseline): true without a baseline.
  bool clears_baseline(double current) const;
  // Strict ranking without min_delta: a better than b; a NaN is worse than any number.
  // requires: resolved().
  bool better(double a, double b) const;

  // The monitored value in logs, or nullptr after warning on stderr as Keras does:
  // "plugfit: warning: <prefix>`<key>` which is not available. Available metrics are: <keys><suffix>".
  const double* value(const Logs& logs, const char* prefix, const char* suffix) const;

  const std::string& who() const { return who_; }
  const std::string& key() const { return key_; }
  // "min" or "max" once resolved, "auto" before.
  const std::string& mode() const { return mode_; }
  double min_delta() const { return min_delta_; }
  const std::optional<double>& baseline() const { return baseline_; }

 private:
  std::string who_, key_, mode_;
  double min_delta_;
  std::optional<double> baseline_;
};

}  // namespace plugfit
