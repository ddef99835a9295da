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

namespace {
std::unique_ptr<Metric> metric(const std::string& name, const Json& config = Json::object()) {
  return test::builtins().create_metric(name, config);
}
}  // namespace

TEST_CASE("every loss name is a metric: the mean over samples of the loss's per-sample value, smaller is better") {
  const Tensor p = tensor({2, 3}, {0.3f, 0.9f, 0.4f, 1.6f, 0.05f, 0.7f});
  const Tensor t = tensor({2, 3}, {0.f, 1.f, 1.f, 2.f, 0.2f, 0.f});
  for (const char* name : {"mean_absolute_error", "mae", "MAE", "MeanAbsoluteError", "mean_absolute_percentage_error",
                           "mape", "mean_squared_logarithmic_error", "msle", "huber", "log_cosh", "logcosh",
                           "LogCoshError", "kl_divergence", "kld", "kullback_leibler_divergence", "poisson", "hinge",
                           "squared_hinge", "categorical_hinge", "mse", "MeanSquaredError"}) {
    INFO(std::string(name));
    auto m = metric(name);
    auto loss = test::builtins().create_loss(std::string(name) == "LogCoshError" ? "log_cosh" : name, Json::object());
    m->update(p, t);
    // Equal-sized samples: the mean over samples equals the loss's sum_over_batch_size value.
    CHECK(m->result() == doctest::Approx(loss->compute(p, t, nullptr)).epsilon(1e-6));
    CHECK(m->direction() == -1);
  }
  // Per-sample mae (numpy: abs(p - t).mean(-1)) is 0.33333.. and 0.41666..; a second batch of one sample
  // [1, 2, 3] against zeros adds 2. Keras's MeanMetricWrapper weighs samples, not batches:
  // (0.333333333 + 0.416666667 + 2) / 3.
  auto mae = metric("mae");
  mae->update(p, t);
  mae->update(tensor({1, 3}, {1.f, 2.f, 3.f}), tensor({1, 3}, {0.f, 0.f, 0.f}));
  CHECK(mae->result() == doctest::Approx(0.916666666667));
  mae->reset();
  CHECK(mae->result() == 0.0);
}

TEST_CASE("top-k accuracy, dense and sparse: k 5 by default, a tie at the boundary counts (TF's in_top_k)") {
  // Six classes; sample 0's target (class 0) is the lowest score: out of the top 5. Sample 1's
  // target ties with three classes above two others: in. Sample 2's target is the best: in.
  const Tensor p = tensor({3, 6}, {0.0f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f,
                                   0.1f, 0.5f, 0.1f, 0.1f, 0.4f, 0.3f,
                                   0.9f, 0.1f, 0.0f, 0.0f, 0.0f, 0.0f});
  const Tensor onehot = tensor({3, 6}, {1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0});
  const Tensor labels = tensor({3}, {0.f, 0.f, 0.f});
  auto dense = metric("top_k_categorical_accuracy");
  dense->update(p, onehot);
  CHECK(dense->result() == doctest::Approx(2.0 / 3));
  auto sparse = metric("sparse_top_k_categorical_accuracy");
  sparse->update(p, labels);
  CHECK(sparse->result() == doctest::Approx(2.0 / 3));
  auto top1 = metric("SparseTopKCategoricalAccuracy", {{"k", 1}});
  top1->update(p, labels);
  CHECK(top1->result() == doctest::Approx(1.0 / 3));
  CHECK_THROWS_WITH_AS(sparse->update(p, tensor({3}, {0.f, 6.f, 0.f})),
                       "sparse_top_k_categorical_accuracy: label 6.000000 (sample 1 of the batch) is not a class index for 6 classes",
                       InputError);
}
