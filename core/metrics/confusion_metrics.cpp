#include "confusion_metrics.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include <plugfit/registry.hpp>

namespace plugfit {

namespace {

void refuse_set(Config& config, const char* key, const char* why) {
  if (config.has(key)) throw InputError(config.type_name() + ": \"" + key + "\" " + why);
}

// Counts decisions at one threshold, over all outputs or one class column.
class ThresholdCounts {
 public:
  explicit ThresholdCounts(Config& config) {
    config.accept({"name", "dtype"});
    refuse_set(config, "top_k", "is not supported (only null)");
    const Json& thresholds = config.raw("thresholds");
    if (thresholds.is_array()) {
      if (thresholds.size() != 1 || !thresholds[0].is_number())
        throw InputError(config.type_name() + ": \"thresholds\" must be one number (several thresholds are not supported)");
      threshold_ = thresholds[0].get<float>();
    } else if (!thresholds.is_null()) {
      threshold_ = config.get<float>("thresholds", 0.5f);
    }
    if (config.has("class_id")) class_id_ = static_cast<long long>(config.get<std::size_t>("class_id", 0));
  }
  void reset() { counts_ = {0.0, 0.0, 0.0}; }
  void update(const std::string& metric, const Tensor& y_pred, const Tensor& y_true) {
    if (y_true.size() != y_pred.size() || y_pred.size() == 0)
      throw InputError(metric + ": targets of shape " + full_shape_str(shape_of(y_true)) +
                       " do not fit predictions of shape " + full_shape_str(shape_of(y_pred)) +
                       " (expected one target per output)");
    const std::size_t rows = y_pred.shape()[0], cols = y_pred.size() / rows;
    if (class_id_ >= 0 && static_cast<std::size_t>(class_id_) >= cols)
      throw InputError(metric + ": class_id " + std::to_string(class_id_) + " is not an output of predictions of shape " +
                       full_shape_str(shape_of(y_pred)));
    const std::size_t first = class_id_ >= 0 ? static_cast<std::size_t>(class_id_) : 0;
    const std::size_t last = class_id_ >= 0 ? first + 1 : cols;
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = first; c < last; ++c) {
        const bool predicted = y_pred.data()[r * cols + c] > threshold_;
        const bool actual = y_true.data()[r * cols + c] != 0.f;
        counts_[kTruePositives] += predicted && actual ? 1.0 : 0.0;
        counts_[kFalsePositives] += predicted && !actual ? 1.0 : 0.0;
        counts_[kFalseNegatives] += !predicted && actual ? 1.0 : 0.0;
      }
  }
  static double ratio(double num, double den) { return den == 0.0 ? 0.0 : num / den; }
  enum : std::size_t { kTruePositives, kFalsePositives, kFalseNegatives };
  std::span<const double> totals() const { return counts_; }

 private:
  std::array<double, 3> counts_{};
  float threshold_ = 0.5f;
  long long class_id_ = -1;
};

class Precision final : public Metric {
 public:
  explicit Precision(Config& config) : counts_(config), type_(config.type_name()) {}
  void reset() override { counts_.reset(); }
  void update(const Tensor& y_pred, const Tensor& y_true) override { counts_.update(type_, y_pred, y_true); }
  std::span<const double> totals() const override { return counts_.totals(); }
  double result_of(std::span<const double> t) const override {
    return ThresholdCounts::ratio(t[ThresholdCounts::kTruePositives], t[ThresholdCounts::kTruePositives] + t[ThresholdCounts::kFalsePositives]);
  }

 private:
  ThresholdCounts counts_;
  std::string type_;
};

class Recall final : public Metric {
 public:
  explicit Recall(Config& config) : counts_(config), type_(config.type_name()) {}
  void reset() override { counts_.reset(); }
  void update(const Tensor& y_pred, const Tensor& y_true) override { counts_.update(type_, y_pred, y_true); }
  std::span<const double> totals() const override { return counts_.totals(); }
  double result_of(std::span<const double> t) const override {
    return ThresholdCounts::ratio(t[ThresholdCounts::kTruePositives], t[ThresholdCounts::kTruePositives] + t[ThresholdCounts::kFalseNegatives]);
  }

 private:
  ThresholdCounts counts_;
  std::string type_;
};

class AUC final : public Metric {
 public:
  explicit AUC(Config& config)
      : thresholds_(config.get<std::size_t>("num_thresholds", 200)),
        pr_(parse_curve(config)),
        summation_(parse_summation(config)),
        from_logits_(config.get<bool>("from_logits", false)),
        type_(config.type_name()) {
    config.accept({"name", "dtype", "num_labels"});
    if (thresholds_ < 2) throw InputError(type_ + ": \"num_thresholds\" must be greater than 1");
    refuse_set(config, "thresholds", "is not supported (AUC uses num_thresholds evenly spaced thresholds)");
    refuse_set(config, "label_weights", "is not supported");
    if (config.get<bool>("multi_label", false)) throw InputError(type_ + ": \"multi_label\" true is not supported");
    buckets_.assign(2 * thresholds_, 0.0);
  }

  void reset() override { std::fill(buckets_.begin(), buckets_.end(), 0.0); }

  // Each prediction lands in the bucket of the last threshold it exceeds; tp at threshold i is
  // then the number of positives in buckets >= i.
  void update(const Tensor& y_pred, const Tensor& y_true) override {
    if (y_true.size() != y_pred.size())
      throw InputError(type_ + ": targets of shape " + full_shape_str(shape_of(y_true)) +
                       " do not fit predictions of shape " + full_shape_str(shape_of(y_pred)) +
                       " (expected one target per output)");
    const float steps = static_cast<float>(thresholds_ - 1);
    for (std::size_t i = 0; i < y_pred.size(); ++i) {
      float p = y_pred.data()[i];
      if (from_logits_) p = 1.f / (1.f + std::exp(-p));
      const float bucket = std::clamp(std::ceil(p * steps) - 1.f, 0.f, steps);
      buckets_[(y_true.data()[i] != 0.f ? 0 : thresholds_) + static_cast<std::size_t>(bucket)] += 1.0;
    }
  }

  // The positives per bucket, then the negatives.
  std::span<const double> totals() const override { return buckets_; }
  double result_of(std::span<const double> buckets) const override {
    const std::span<const double> positives = buckets.first(thresholds_), negatives = buckets.subspan(thresholds_);
    // Walk the thresholds from the highest down, keeping the counts at threshold i + 1.
    double all_positives = 0.0, all_negatives = 0.0;
    for (std::size_t i = 0; i < thresholds_; ++i) all_positives += positives[i], all_negatives += negatives[i];
    double tp_next = positives[thresholds_ - 1], fp_next = negatives[thresholds_ - 1];
    double area = 0.0;
    for (std::size_t i = thresholds_ - 1; i-- > 0;) {
      const double tp = tp_next + positives[i], fp = fp_next + negatives[i];
      area += term(tp, fp, tp_next, fp_next, all_positives, all_negatives);
      tp_next = tp, fp_next = fp;
    }
    return area;
  }

 private:
  enum class Summation { interpolation, minoring, majoring };

  static bool parse_curve(Config& config) {
    const std::string curve = config.get<std::string>("curve", "ROC");
    if (curve != "ROC" && curve != "PR")
      throw InputError(config.type_name() + ": \"curve\" must be \"ROC\" or \"PR\", got \"" + curve + "\"");
    return curve == "PR";
  }
  static Summation parse_summation(Config& config) {
    const std::string method = config.get<std::string>("summation_method", "interpolation");
    if (method == "interpolation") return Summation::interpolation;
    if (method == "minoring") return Summation::minoring;
    if (method == "majoring") return Summation::majoring;
    throw InputError(config.type_name() + ": \"summation_method\" must be \"interpolation\", \"minoring\" or \"majoring\", got \"" +
                     method + "\"");
  }
  static double ratio(double num, double den) { return den == 0.0 ? 0.0 : num / den; }

  // The area between threshold i (tp, fp) and i + 1 (tp1, fp1).
  double term(double tp, double fp, double tp1, double fp1, double positives, double negatives) const {
    if (pr_ && summation_ == Summation::interpolation) {
      // Precision interpolated along the line of tp against predicted positives.
      const double dtp = tp - tp1, p = tp + fp, p1 = tp1 + fp1;
      const double slope = ratio(dtp, std::max(p - p1, 0.0));
      const double intercept = tp1 - slope * p1;
      const double safe_ratio = p > 0.0 && p1 > 0.0 ? ratio(p, std::max(p1, 0.0)) : 1.0;
      return ratio(slope * (dtp + intercept * std::log(safe_ratio)), positives);  // tp1 + fn1 = all positives
    }
    const double x = pr_ ? ratio(tp, positives) : ratio(fp, negatives);
    const double x1 = pr_ ? ratio(tp1, positives) : ratio(fp1, negatives);
    const double y = pr_ ? ratio(tp, tp + fp) : ratio(tp, positives);
    const double y1 = pr_ ? ratio(tp1, tp1 + fp1) : ratio(tp1, positives);
    const double height = summation_ == Summation::interpolation ? (y + y1) / 2
                          : summation_ == Summation::minoring    ? std::min(y, y1)
                                                                 : std::max(y, y1);
    return (x - x1) * height;
  }

  std::size_t thresholds_;
  bool pr_;
  Summation summation_;
  bool from_logits_;
  std::string type_;
  std::vector<double> buckets_;  // per bucket: the positives, then the negatives
};

}  // namespace

void register_confusion_metrics(Registrar& registry) {
  for (const char* name : {"Precision", "precision"}) registry.add_metric<Precision>(name);
  for (const char* name : {"Recall", "recall"}) registry.add_metric<Recall>(name);
  for (const char* name : {"AUC", "auc"}) registry.add_metric<AUC>(name);
}

}  // namespace plugfit
