#include "metrics.hpp"

#include <algorithm>

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

}  // namespace

std::string resolve_metric_name(const std::string& requested, const std::string& loss_name) {
  if (requested != "accuracy" && requested != "acc") return requested;
  if (loss_name == "sparse_categorical_crossentropy" || loss_name == "SparseCategoricalCrossentropy")
    return "sparse_categorical_accuracy";
  if (loss_name == "binary_crossentropy" || loss_name == "BinaryCrossentropy") return "binary_accuracy";
  return "categorical_accuracy";
}

void register_builtin_metrics(Registrar& registry) {
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
