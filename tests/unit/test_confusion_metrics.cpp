// Precision, Recall and AUC against numpy implementations of Keras's algorithms
// (keras/src/metrics/confusion_metrics.py, metrics_utils.py), written for this test:
//   thr = [0-1e-7] + [(i+1)/(n-1) for i in range(n-2)] + [1+1e-7]
//   tp[i] = sum((p > thr[i]) & y), fp[i] = sum((p > thr[i]) & ~y), fn = P - tp, tn = N - fp
//   ROC: x = fp/(fp+tn), h = heights of tp/(tp+fn); PR minoring/majoring: x = tp/(tp+fn),
//   h of tp/(tp+fp); area = sum((x[:-1]-x[1:]) * h), h = (y[:-1]+y[1:])/2, minimum or maximum;
//   PR interpolation: dtp = tp[:-1]-tp[1:], P = tp+fp, slope = dtp/max(P[:-1]-P[1:], 0),
//   intercept = tp[1:]-slope*P[1:], ratio = P[:-1]/P[1:] where both > 0 else 1,
//   area = sum(slope*(dtp+intercept*log(ratio))/(tp[1:]+fn[1:])), with x/0 = 0 throughout.
// The numpy code compares p > thr directly; plugfit buckets as Keras does, so the two paths agree
// only if Keras's bucketing is reproduced.
#include <doctest/doctest.h>

#include <plugfit/registry.hpp>

#include "checkpoint/record.hpp"
#include "metrics/confusion_metrics.hpp"
#include "model/sequential.hpp"
#include "test_support.hpp"

using namespace plugfit;

namespace {

std::unique_ptr<Metric> metric(const std::string& name, const Json& config = Json::object()) {
  return test::builtins().create_metric(name, config);
}

Tensor column(const std::vector<float>& values) {
  Tensor t = Tensor::from_shape({values.size(), 1});
  std::copy(values.begin(), values.end(), t.begin());
  return t;
}

// numpy: rng = default_rng(7); p = round(rng.uniform(0.001, 0.999, 20), 3),
// y = rng.uniform(size=20) < 0.5 + 0.4 (p - 0.5).
const std::vector<float> kPred{0.625f, 0.896f, 0.775f, 0.226f, 0.301f, 0.873f, 0.006f, 0.821f, 0.796f, 0.468f,
                               0.303f, 0.279f, 0.255f, 0.445f, 0.505f, 0.553f, 0.995f, 0.792f, 0.622f, 0.988f};
const std::vector<float> kTrue{1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1};

// Feeds the 20 samples as two batches (12 and 8), so that accumulation across batches is exercised.
void feed(Metric& m, const std::vector<float>& pred = kPred) {
  m.reset();
  m.update(column({pred.begin(), pred.begin() + 12}), column({kTrue.begin(), kTrue.begin() + 12}));
  m.update(column({pred.begin() + 12, pred.end()}), column({kTrue.begin() + 12, kTrue.end()}));
}

}  // namespace

TEST_CASE("AUC over two batches matches numpy's Keras algorithm for each curve and summation method") {
  struct Case {
    Json config;
    double expected;
  };
  const std::vector<Case> cases{
      {Json::object(), 0.552083333333},
      {{{"curve", "PR"}}, 0.738144961232},
      {{{"curve", "PR"}, {"summation_method", "minoring"}}, 0.643775661974},
      {{{"curve", "PR"}, {"summation_method", "majoring"}}, 0.748514161778},
      {{{"num_thresholds", 10}}, 0.567708333333},
      {{{"num_thresholds", 10}, {"summation_method", "minoring"}}, 0.5},
      {{{"num_thresholds", 10}, {"summation_method", "majoring"}}, 0.635416666667},
      {{{"num_thresholds", 10}, {"curve", "PR"}}, 0.736125355534},
      {{{"num_thresholds", 10}, {"curve", "PR"}, {"summation_method", "minoring"}}, 0.454761904762},
      {{{"num_thresholds", 10}, {"curve", "PR"}, {"summation_method", "majoring"}}, 0.779276315789},
  };
  for (const auto& c : cases) {
    INFO(c.config.dump());
    auto auc = metric("AUC", c.config);
    feed(*auc);
    CHECK(auc->result() == doctest::Approx(c.expected).epsilon(1e-9));
    feed(*auc);  // reset() clears the epoch's counts: the same data gives the same area
    CHECK(auc->result() == doctest::Approx(c.expected).epsilon(1e-9));
  }
  // from_logits: numpy's ROC AUC of sigmoid(8 p - 4) is 0.557291666667.
  std::vector<float> logits;
  for (float v : kPred) logits.push_back(8.f * v - 4.f);
  auto from_logits = metric("auc", {{"from_logits", true}});
  feed(*from_logits, logits);
  CHECK(from_logits->result() == doctest::Approx(0.557291666667).epsilon(1e-9));
}

TEST_CASE("Precision and Recall accumulate the epoch's counts at threshold 0.5 (numpy: p > 0.5)") {
  auto precision = metric("Precision");
  auto recall = metric("recall");
  feed(*precision);
  feed(*recall);
  CHECK(precision->result() == doctest::Approx(0.583333333333));  // 7 of 12 predicted positives
  CHECK(recall->result() == doctest::Approx(0.583333333333));     // 7 of 12 positives
  auto precision_03 = metric("precision", {{"thresholds", 0.3}});
  auto recall_03 = metric("Recall", {{"thresholds", Json::array({0.3})}});
  feed(*precision_03);
  feed(*recall_03);
  CHECK(precision_03->result() == doctest::Approx(0.5625));
  CHECK(recall_03->result() == doctest::Approx(0.75));
  precision->reset();
  CHECK(precision->result() == 0.0);  // nothing counted: Keras's divide_no_nan gives 0
}

TEST_CASE("class_id counts one output column; options Keras has and plugfit does not compute are refused") {
  Tensor p = Tensor::from_shape({2, 2});
  Tensor t = Tensor::from_shape({2, 2});
  std::vector<float> pv{0.9f, 0.9f, 0.9f, 0.1f}, tv{1.f, 0.f, 0.f, 1.f};
  std::copy(pv.begin(), pv.end(), p.begin());
  std::copy(tv.begin(), tv.end(), t.begin());
  auto second = metric("Precision", {{"class_id", 1}});
  second->update(p, t);
  CHECK(second->result() == 0.0);  // column 1: one predicted positive (sample 0), a negative
  auto first = metric("Recall", {{"class_id", 0}});
  first->update(p, t);
  CHECK(first->result() == 1.0);
  CHECK_THROWS_WITH_AS(metric("Precision", {{"class_id", 2}})->update(p, t),
                       "Precision: class_id 2 is not an output of predictions of shape (2, 2)", InputError);
  CHECK_THROWS_WITH_AS(metric("Precision", {{"top_k", 2}}), "Precision: \"top_k\" is not supported (only null)", InputError);
  CHECK_THROWS_WITH_AS(metric("Recall", {{"thresholds", Json::array({0.3, 0.6})}}),
                       "Recall: \"thresholds\" must be one number (several thresholds are not supported)", InputError);
  CHECK_THROWS_WITH_AS(metric("AUC", {{"curve", "DET"}}), "AUC: \"curve\" must be \"ROC\" or \"PR\", got \"DET\"", InputError);
  CHECK_THROWS_WITH_AS(metric("AUC", {{"multi_label", true}}), "AUC: \"multi_label\" true is not supported", InputError);
  CHECK_THROWS_AS(metric("AUC", {{"num_thresholds", 1}}), InputError);
  CHECK_THROWS_AS(metric("AUC", {{"summation_method", "careful"}}), InputError);
}

TEST_CASE("a metric's config name is its log key, so ROC and PR AUC can both be logged") {
  auto model = Sequential::from_config(
      {{"layers", {{{"class_name", "Dense"}, {"config", {{"units", 1}, {"activation", "sigmoid"}}}}}}}, test::builtins());
  model->build({3}, 1);
  const Json compile = {{"optimizer", "Adam"},
                        {"loss", "binary_crossentropy"},
                        {"metrics", {"AUC", {{"class_name", "AUC"}, {"config", {{"curve", "PR"}, {"name", "pr_auc"}}}}, "acc"}}};
  compile_from_config(*model, compile, test::builtins());
  const auto& metrics = SequentialAccess::impl(*model).metrics_;
  REQUIRE(metrics.size() == 3);
  CHECK(metrics[0]->name() == "AUC");
  CHECK(metrics[1]->name() == "pr_auc");
  CHECK(metrics[2]->name() == "accuracy");
}
