// What EarlyStopping and ReduceLROnPlateau share, as Keras's MonitorCallback does: the
// monitored key, its direction, Keras's improvement test, and Python's str(float) for messages.
#pragma once

#include <optional>
#include <string>

#include <plugfit/callback.hpp>

namespace plugfit {

class Monitor {
 public:
  // requires: mode is "auto", "min" or "max" (checked here; an InputError names who).
  Monitor(std::string who, std::string key, std::string mode, double min_delta);

  // Decides mode "auto" from the monitor's name and the compiled metric's direction (Keras's
  // rule); an InputError when it cannot tell. Idempotent.
  void resolve(Model& model);
  // Keras's test: op(current - min_delta, reference) with op "<" and min_delta negated in mode
  // min. No reference counts as +inf (min) or -inf (max), as Keras's initial best.
  // requires: resolve() was called.
  bool improves(double current, std::optional<double> reference) const;
  // The monitored value in logs, or nullptr after warning as Keras does: prefix, the key, then
  // the keys present and suffix.
  const double* value(const Logs& logs, const char* prefix, const char* suffix) const;

  const std::string& key() const { return key_; }
  const std::string& mode() const { return mode_; }

 private:
  std::string who_, key_, mode_;
  double min_delta_;
};

// Python's str(float): the shortest text that reads back as x ("0.1", "1e-05", "2.0", "nan").
std::string python_float(double x);

// Keras's "the available metrics" list: the keys of logs joined by ','.
std::string log_keys(const Logs& logs);

// Reads a state field that must be a number or null (null and absent read as nullopt); an
// InputError naming who and the field otherwise.
std::optional<double> state_number(const Json& state, const char* field, const std::string& who);
// Reads an integer state field, fallback when absent; an InputError naming who otherwise.
long long state_integer(const Json& state, const char* field, long long fallback, const std::string& who);

}  // namespace plugfit
