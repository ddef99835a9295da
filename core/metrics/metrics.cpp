#include "metrics.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <string>

#include <plugfit/registry.hpp>

#include "../losses/loss_formulas.hpp"
#include "confusion_metrics.hpp"

namespace plugfit {

Metric::~Metric() = default;

namespace {

// A running mean of per-sample scores.
class MeanMetric : public Metric {
 public:
  void reset() override { sums_ = {0.0, 0.0}; }
  std::span<const double> totals() const override { return sums_; }
  double result_of(std::span<const double> totals) const override { return mean_of(totals); }
  static double mean_of(std::span<const double> totals) { return totals[1] == 0.0 ? 0.0 : totals[0] / totals[1]; }

 protected:
  void add(double score_total, double samples) { sums_[0] += score_total, sums_[1] += samples; }

 private:
  std::array<double, 2> sums_{};  // the scores' total, the samples' count
};

std::size_t argmax_row(const float* row, std::size_t cols) {
  return static_cast<std::size_t>(std::max_element(row, row + cols) - row);
}

void accept_metric_options(Config& config) { config.accept({"name", "dtype"}); }

class SparseCategoricalAccuracy final : public MeanMetric {
 public:
  explicit SparseCategoricalAccuracy(Config& config) { accept_metric_options(config); }
  void update(const Tensor& y_pred, const Tensor& y_true) override {
    double total = 0.0;
    const std::size_t rows = y_pred.shape()[0], cols = y_pred.size() / rows;
    for (std::size_t r = 0; r < rows; ++r)
      total += static_cast<float>(argmax_row(y_pred.data() + r * cols, cols)) == y_true.data()[r] ? 1.0 : 0.0;
    add(total, static_cast<double>(rows));
  }
};

class CategoricalAccuracy final : public MeanMetric {
 public:
  explicit CategoricalAccuracy(Config& config) { accept_metric_options(config); }
  void update(const Tensor& y_pred, const Tensor& y_true) override {
    double total = 0.0;
    const std::size_t rows = y_pred.shape()[0], cols = y_pred.size() / rows;
    for (std::size_t r = 0; r < rows; ++r)
      total += argmax_row(y_pred.data() + r * cols, cols) == argmax_row(y_true.data() + r * cols, cols) ? 1.0 : 0.0;
    add(total, static_cast<double>(rows));
  }
};

class BinaryAccuracy final : public MeanMetric {
 public:
  explicit BinaryAccuracy(Config& config) : threshold_(config.get<float>("threshold", 0.5f)) {
    accept_metric_options(config);
  }
  void update(const Tensor& y_pred, const Tensor& y_true) override {
    double total = 0.0;
    for (std::size_t i = 0; i < y_pred.size(); ++i)
      total += (y_pred.data()[i] > threshold_ ? 1.f : 0.f) == y_true.data()[i] ? 1.0 : 0.0;
    add(total, static_cast<double>(y_pred.size()));
  }

 private:
  float threshold_;
};

class MeanSquaredErrorMetric final : public MeanMetric {
 public:
  explicit MeanSquaredErrorMetric(Config& config) { accept_metric_options(config); }
  int direction() const override { return -1; }
  void update(const Tensor& y_pred, const Tensor& y_true) override {
    double total = 0.0;
    for (std::size_t i = 0; i < y_pred.size(); ++i) {
      const double d = y_pred.data()[i] - y_true.data()[i];
      total += d * d;
    }
    add(total, static_cast<double>(y_pred.size()));
  }
};

// A loss of loss_formulas.hpp as a metric: the mean of its per-sample values over every sample
// since reset (Keras's MeanMetricWrapper). Smaller is better.
template <class Formula>
class SampleMeanMetric final : public MeanMetric {
 public:
  explicit SampleMeanMetric(Config& config) : formula_(config), type_(config.type_name()) { accept_metric_options(config); }
  int direction() const override { return -1; }
  void update(const Tensor& y_pred, const Tensor& y_true) override {
    double total = 0.0;
    const std::size_t batch = y_pred.dimension() == 0 ? 0 : y_pred.shape()[0];
    if (batch == 0 || y_true.size() != y_pred.size() || y_true.dimension() == 0 || y_true.shape()[0] != batch)
      throw InputError(type_ + ": targets of shape " + full_shape_str(shape_of(y_true)) +
                       " do not fit predictions of shape " + full_shape_str(shape_of(y_pred)) +
                       " (expected one target per output)");
    const std::size_t c = y_pred.size() / batch;
    const bool binary = Formula::kHingeLabels && loss_formulas::all_binary(y_true.data(), y_true.size());
    for (std::size_t r = 0; r < batch; ++r)
      total += formula_.sample(y_pred.data() + r * c, y_true.data() + r * c, c, nullptr, binary);
    add(total, static_cast<double>(batch));
  }

 private:
  Formula formula_;
  std::string type_;
};

// Keras's in_top_k: a sample counts when fewer than k classes score strictly higher than its
// target class (so a tie at the boundary counts, as TensorFlow's in_top_k). The target is the
// label (sparse) or the argmax of the one-hot row.
template <bool sparse>
class TopKAccuracy final : public MeanMetric {
 public:
  explicit TopKAccuracy(Config& config) : k_(config.get<std::size_t>("k", 5)) {
    accept_metric_options(config);
    if (k_ == 0) throw InputError(config.type_name() + ": \"k\" must be a positive integer");
    if constexpr (sparse) {
      if (config.get<bool>("from_sorted_ids", false))
        throw InputError(config.type_name() + ": \"from_sorted_ids\" is not supported");
    }
  }
  void update(const Tensor& y_pred, const Tensor& y_true) override {
    double total = 0.0;
    const std::size_t rows = y_pred.shape()[0], cols = y_pred.size() / rows;
    for (std::size_t r = 0; r < rows; ++r) {
      const float* row = y_pred.data() + r * cols;
      const std::size_t target = sparse ? label(y_true, r, cols) : argmax_row(y_true.data() + r * cols, cols);
      std::size_t higher = 0;
      for (std::size_t c = 0; c < cols; ++c) higher += row[c] > row[target] ? 1 : 0;
      total += higher < k_ ? 1.0 : 0.0;
    }
    add(total, static_cast<double>(rows));
  }

 private:
  std::size_t label(const Tensor& y_true, std::size_t r, std::size_t classes) const {
    if (y_true.size() != y_true.shape()[0] || r >= y_true.size())
      throw InputError(name() + ": targets of shape " + full_shape_str(shape_of(y_true)) +
                       " are not one class index per sample");
    const float value = y_true.data()[r];
    if (!(value >= 0.f && value < static_cast<float>(classes)) || value != std::floor(value))
      throw InputError(name() + ": label " + std::to_string(value) + " (sample " + std::to_string(r) +
                       " of the batch) is not a class index for " + std::to_string(classes) + " classes");
    return static_cast<std::size_t>(value);
  }
  std::size_t k_;
};

// Keras's "accuracy" (compile_utils.get_metric): which accuracy is decided by the shapes of the
// first batch it sees. A last prediction dimension of 1 is binary; targets of lower rank than the
// predictions, or with a last dimension of 1 where the predictions have more, are class indices
// (sparse); anything else is one-hot (categorical). The loss plays no part.
class ShapeResolvedAccuracy final : public Metric {
 public:
  explicit ShapeResolvedAccuracy(Config& config) { accept_metric_options(config); }
  void reset() override {
    if (resolved_) resolved_->reset();
  }
  void update(const Tensor& y_pred, const Tensor& y_true) override {
    if (!resolved_) resolved_ = resolve(y_pred, y_true);
    resolved_->update(y_pred, y_true);
  }
  // Every accuracy it resolves to is a mean: {total, count}, also before the first batch.
  std::span<const double> totals() const override { return resolved_ ? resolved_->totals() : std::span<const double>(unresolved_); }
  double result_of(std::span<const double> totals) const override { return MeanMetric::mean_of(totals); }
  // The metric chosen, or null before the first batch.
  const Metric* resolved() const { return resolved_.get(); }

 private:
  static std::unique_ptr<Metric> resolve(const Tensor& y_pred, const Tensor& y_true) {
    const std::size_t pred_rank = y_pred.dimension(), true_rank = y_true.dimension();
    const std::size_t pred_last = pred_rank < 2 ? 1 : y_pred.shape()[pred_rank - 1];
    const std::size_t true_last = true_rank < 2 ? 1 : y_true.shape()[true_rank - 1];
    Config none(Json::object(), "accuracy");
    if (pred_last == 1) return std::make_unique<BinaryAccuracy>(none);
    if (true_rank < pred_rank || (true_last == 1 && pred_last > 1)) return std::make_unique<SparseCategoricalAccuracy>(none);
    return std::make_unique<CategoricalAccuracy>(none);
  }
  std::unique_ptr<Metric> resolved_;
  std::array<double, 2> unresolved_{};
};

}  // namespace

std::string resolved_metric_class(const Metric& metric) {
  const auto* accuracy = dynamic_cast<const ShapeResolvedAccuracy*>(&metric);
  if (accuracy == nullptr || accuracy->resolved() == nullptr) return "";
  const Metric* m = accuracy->resolved();
  if (dynamic_cast<const BinaryAccuracy*>(m) != nullptr) return "binary_accuracy";
  if (dynamic_cast<const SparseCategoricalAccuracy*>(m) != nullptr) return "sparse_categorical_accuracy";
  return "categorical_accuracy";
}

void register_builtin_metrics(Registrar& registry) {
  registry.add_metric<ShapeResolvedAccuracy>("accuracy");
  registry.add_metric<ShapeResolvedAccuracy>("acc");
  registry.add_metric<SparseCategoricalAccuracy>("sparse_categorical_accuracy");
  registry.add_metric<SparseCategoricalAccuracy>("SparseCategoricalAccuracy");
  registry.add_metric<CategoricalAccuracy>("categorical_accuracy");
  registry.add_metric<CategoricalAccuracy>("CategoricalAccuracy");
  registry.add_metric<BinaryAccuracy>("binary_accuracy");
  registry.add_metric<BinaryAccuracy>("BinaryAccuracy");
  registry.add_metric<MeanSquaredErrorMetric>("mean_squared_error");
  registry.add_metric<MeanSquaredErrorMetric>("mse");
  registry.add_metric<MeanSquaredErrorMetric>("MSE");
  registry.add_metric<MeanSquaredErrorMetric>("MeanSquaredError");
  namespace f = loss_formulas;
  for (const char* name : {"MeanAbsoluteError", "mean_absolute_error", "mae", "MAE"})
    registry.add_metric<SampleMeanMetric<f::AbsoluteError>>(name);
  for (const char* name : {"MeanAbsolutePercentageError", "mean_absolute_percentage_error", "mape", "MAPE"})
    registry.add_metric<SampleMeanMetric<f::AbsolutePercentageError>>(name);
  for (const char* name : {"MeanSquaredLogarithmicError", "mean_squared_logarithmic_error", "msle", "MSLE"})
    registry.add_metric<SampleMeanMetric<f::SquaredLogarithmicError>>(name);
  for (const char* name : {"Huber", "huber"}) registry.add_metric<SampleMeanMetric<f::HuberError>>(name);
  for (const char* name : {"LogCoshError", "LogCosh", "log_cosh", "logcosh"})
    registry.add_metric<SampleMeanMetric<f::LogCoshError>>(name);
  for (const char* name : {"KLDivergence", "kl_divergence", "kld", "KLD", "kullback_leibler_divergence"})
    registry.add_metric<SampleMeanMetric<f::KLDivergence>>(name);
  for (const char* name : {"Poisson", "poisson"}) registry.add_metric<SampleMeanMetric<f::PoissonError>>(name);
  for (const char* name : {"Hinge", "hinge"}) registry.add_metric<SampleMeanMetric<f::HingeError<1>>>(name);
  for (const char* name : {"SquaredHinge", "squared_hinge"}) registry.add_metric<SampleMeanMetric<f::HingeError<2>>>(name);
  for (const char* name : {"CategoricalHinge", "categorical_hinge"})
    registry.add_metric<SampleMeanMetric<f::CategoricalHingeError>>(name);
  for (const char* name : {"TopKCategoricalAccuracy", "top_k_categorical_accuracy"})
    registry.add_metric<TopKAccuracy<false>>(name);
  for (const char* name : {"SparseTopKCategoricalAccuracy", "sparse_top_k_categorical_accuracy"})
    registry.add_metric<TopKAccuracy<true>>(name);
  register_confusion_metrics(registry);
}

}  // namespace plugfit
