// The SDK's Monitor (plugfit/monitor.hpp): Keras's MonitorCallback rules.
#include <plugfit/monitor.hpp>

#include <cmath>
#include <cstdio>
#include <limits>

namespace plugfit {

Monitor::Monitor(std::string who, std::string key, std::string mode, double min_delta, std::optional<double> baseline)
    : who_(std::move(who)),
      key_(std::move(key)),
      mode_(std::move(mode)),
      min_delta_(std::fabs(min_delta)),
      baseline_(baseline) {
  // Keras warns and falls back to "auto"; plugfit refuses, as it does for a misspelt option.
  if (mode_ != "auto" && mode_ != "min" && mode_ != "max")
    throw InputError(who_ + ": mode must be \"auto\", \"min\" or \"max\", got \"" + mode_ + "\"");
  if (!std::isfinite(min_delta)) throw InputError(who_ + ": min_delta must be a finite number");
  if (baseline_ && std::isnan(*baseline_)) throw InputError(who_ + ": the baseline must be a number, not NaN");
}

namespace {

// The metric a logs key reports: "val_accuracy" -> "accuracy".
std::string metric_of(const std::string& key) { return key.rfind("val_", 0) == 0 ? key.substr(4) : key; }

}  // namespace

void Monitor::resolve(std::optional<int> metric_direction) {
  if (resolved()) return;
  if (metric_of(key_) == "loss") {
    mode_ = "min";
    return;
  }
  if (!metric_direction || *metric_direction == 0)
    throw InputError(who_ + " cannot tell whether \"" + key_ + "\" should be maximized or minimized; pass mode " +
                     "\"max\" or \"min\"");
  mode_ = *metric_direction > 0 ? "max" : "min";
}

void Monitor::resolve(const Session& session) {
  if (resolved()) return;
  const std::string metric = metric_of(key_);
  resolve(metric == "loss" ? std::optional<int>() : session.metric_direction(metric));
}

bool Monitor::higher_is_better() const {
  if (!resolved())
    throw InputError(who_ + ": the direction of \"" + key_ + "\" is not settled yet (mode \"auto\" before training)");
  return mode_ == "max";
}

bool Monitor::improves(double current, std::optional<double> reference) const {
  constexpr double inf = std::numeric_limits<double>::infinity();
  if (higher_is_better()) return current - min_delta_ > reference.value_or(-inf);
  return current + min_delta_ < reference.value_or(inf);
}

bool Monitor::clears_baseline(double current) const { return !baseline_ || improves(current, baseline_); }

bool Monitor::better(double a, double b) const {
  if (std::isnan(a)) return false;
  if (std::isnan(b)) return true;
  return higher_is_better() ? a > b : a < b;
}

const double* Monitor::value(const Logs& logs, const char* prefix, const char* suffix) const {
  const double* v = logs.find(key_);
  if (v == nullptr) {
    std::string keys;
    for (const auto& [key, value] : logs) keys += (keys.empty() ? "" : ",") + key;
    std::fprintf(stderr, "plugfit: warning: %s`%s` which is not available. Available metrics are: %s%s\n", prefix,
                 key_.c_str(), keys.c_str(), suffix);
  }
  return v;
}

}  // namespace plugfit
