#include "metrics.hpp"

#include <algorithm>
#include <memory>

#include <plugfit/registry.hpp>

namespace plugfit {

Metric::~Metric() = default;

namespace {

// A running mean of per-sample scores.
class MeanMetric : public Metric {
 public:
  void reset() override { total_ = 0.0, count_ = 0.0; }
  double result() const override { return count_ == 0.0 ? 0.0 : total_ / count_; }

 protected:
  double total_ = 0.0, count_ = 0.0;
};

std::size_t argmax_row(const float* row, std::size_t cols) {
  return static_cast<std::size_t>(std::max_element(row, row + cols) - row);
}

void accept_metric_options(Config& config) { config.accept({"name", "dtype"}); }

class SparseCategoricalAccuracy final : public MeanMetric {
 public:
  explicit SparseCategoricalAccuracy(Config& config) { accept_metric_options(config); }
  void update(const Tensor& y_pred, const Tensor& y_true) override {
    const std::size_t rows = y_pred.shape()[0], cols = y_pred.size() / rows;
    for (std::size_t r = 0; r < rows; ++r)
      total_ += static_cast<float>(argmax_row(y_pred.data() + r * cols, cols)) == y_true.data()[r] ? 1.0 : 0.0;
    count_ += static_cast<double>(rows);
  }
};

class CategoricalAccuracy final : public MeanMetric {
 public:
  explicit CategoricalAccuracy(Config& config) { accept_metric_options(config); }
  void update(const Tensor& y_pred, const Tensor& y_true) override {
    const std::size_t rows = y_pred.shape()[0], cols = y_pred.size() / rows;
    for (std::size_t r = 0; r < rows; ++r)
      total_ += argmax_row(y_pred.data() + r * cols, cols) == argmax_row(y_true.data() + r * cols, cols) ? 1.0 : 0.0;
    count_ += static_cast<double>(rows);
  }
};

class BinaryAccuracy final : public MeanMetric {
 public:
  explicit BinaryAccuracy(Config& config) : threshold_(config.get<float>("threshold", 0.5f)) {
    accept_metric_options(config);
  }
  void update(const Tensor& y_pred, const Tensor& y_true) override {
    for (std::size_t i = 0; i < y_pred.size(); ++i)
      total_ += (y_pred.data()[i] > threshold_ ? 1.f : 0.f) == y_true.data()[i] ? 1.0 : 0.0;
    count_ += static_cast<double>(y_pred.size());
  }

 private:
  float threshold_;
};

class MeanSquaredErrorMetric final : public MeanMetric {
 public:
  explicit MeanSquaredErrorMetric(Config& config) { accept_metric_options(config); }
  int direction() const override { return -1; }
  void update(const Tensor& y_pred, const Tensor& y_true) override {
    for (std::size_t i = 0; i < y_pred.size(); ++i) {
      const double d = y_pred.data()[i] - y_true.data()[i];
      total_ += d * d;
    }
    count_ += static_cast<double>(y_pred.size());
  }
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
  double result() const override { return resolved_ ? resolved_->result() : 0.0; }
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
}

}  // namespace plugfit
