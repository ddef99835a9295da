// "accuracy" resolved as Keras 3's compile_utils.get_metric does: from the shapes of the first
// batch, not from the loss.
#include <doctest/doctest.h>

#include <plugfit/registry.hpp>

#include "metrics/metrics.hpp"
#include "test_support.hpp"

using namespace plugfit;

namespace {
std::unique_ptr<Metric> accuracy() { return test::builtins().create_metric("accuracy", Json::object()); }

Tensor tensor(const Shape& shape, const std::vector<float>& values) {
  Tensor t = Tensor::from_shape(shape);
  std::copy(values.begin(), values.end(), t.begin());
  return t;
}
}  // namespace

TEST_CASE("one output (mse regression): binary accuracy, as Keras (was 1.0 from the loss name)") {
  auto metric = accuracy();
  CHECK(resolved_metric_class(*metric).empty());
  // Predictions 0.2, 0.7, 0.9, 0.4 against targets 0.1, 1.0, 0.3, 0.0: thresholded at 0.5,
  // equal to the target for samples 1 and 4 only.
  metric->update(tensor({4, 1}, {0.2f, 0.7f, 0.9f, 0.4f}), tensor({4, 1}, {0.1f, 1.f, 0.3f, 0.f}));
  CHECK(resolved_metric_class(*metric) == "binary_accuracy");
  CHECK(metric->result() == doctest::Approx(0.5));
}

TEST_CASE("ten outputs with one-hot targets (binary CE): categorical accuracy, as Keras 3") {
  auto metric = accuracy();
  std::vector<float> pred(20, 0.f), target(20, 0.f);
  pred[3] = 0.9f, target[3] = 1.f;             // sample 0: right
  pred[10 + 1] = 0.8f, target[10 + 7] = 1.f;  // sample 1: wrong
  metric->update(tensor({2, 10}, pred), tensor({2, 10}, target));
  CHECK(resolved_metric_class(*metric) == "categorical_accuracy");
  CHECK(metric->result() == doctest::Approx(0.5));
}

TEST_CASE("class-index targets, of lower rank or with a last dimension of 1: sparse categorical accuracy") {
  for (const Shape& shape : {Shape{2}, Shape{2, 1}}) {
    auto metric = accuracy();
    metric->update(tensor({2, 3}, {0.1f, 0.8f, 0.1f, 0.6f, 0.3f, 0.1f}), tensor(shape, {1.f, 2.f}));
    CHECK(resolved_metric_class(*metric) == "sparse_categorical_accuracy");
    CHECK(metric->result() == doctest::Approx(0.5));
    metric->reset();
    CHECK(metric->result() == 0.0);
  }
}

TEST_CASE("acc is accuracy; other metric names are not resolved") {
  auto metric = test::builtins().create_metric("acc", Json::object());
  metric->update(tensor({1, 2}, {0.2f, 0.8f}), tensor({1, 2}, {0.f, 1.f}));
  CHECK(resolved_metric_class(*metric) == "categorical_accuracy");
  auto mse = test::builtins().create_metric("mse", Json::object());
  CHECK(resolved_metric_class(*mse).empty());
  CHECK(mse->direction() == -1);
  CHECK(metric->direction() == +1);
}
