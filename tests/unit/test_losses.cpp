// Losses against TensorFlow's Keras formulas (keras/src/backend/tensorflow/nn.py), on saturating
// samples too: the returned gradient is the derivative of the returned loss (checked by finite
// differences in double) and nothing is clipped on the fused softmax path.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <plugfit/registry.hpp>
#include <plugfit/testing.hpp>

#include "losses/losses.hpp"
#include "test_support.hpp"

using namespace plugfit;

namespace {

std::unique_ptr<Loss> make(const std::string& name, const Json& config = Json::object()) {
  return test::builtins().create_loss(name, config);
}

Tensor matrix(const std::vector<std::vector<double>>& rows) {
  Tensor t = Tensor::from_shape({rows.size(), rows[0].size()});
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (std::size_t c = 0; c < rows[r].size(); ++c) t(r, c) = static_cast<float>(rows[r][c]);
  return t;
}

Tensor labels(const std::vector<float>& values) {
  Tensor t = Tensor::from_shape({values.size()});
  for (std::size_t i = 0; i < values.size(); ++i) t(i) = values[i];
  return t;
}

std::vector<double> softmax(const std::vector<double>& z) {
  double top = z[0];
  for (double v : z) top = std::max(top, v);
  double sum = 0.0;
  for (double v : z) sum += std::exp(v - top);
  std::vector<double> p;
  for (double v : z) p.push_back(std::exp(v - top) / sum);
  return p;
}

// d(loss)/d(input k) by central differences, where loss_at maps the input row to the loss.
template <class F>
double central_difference(F loss_at, std::vector<double> x, std::size_t k, double h) {
  x[k] += h;
  const double up = loss_at(x);
  x[k] -= 2 * h;
  return (up - loss_at(x)) / (2 * h);
}

}  // namespace

TEST_CASE("fused softmax + sparse CE on a saturating sample: TF's -log_softmax, no 1e-7 clip, no dead gradient") {
  auto loss = make("sparse_categorical_crossentropy");
  REQUIRE(loss->fuses_with_softmax());
  const std::vector<double> z{40.0, 0.0, 0.0};  // label 1 has p = e^-40 / (1 + 2 e^-40) < 1e-7
  const Tensor y = labels({1.f});
  const double tf_loss = std::log(std::exp(40.0) + 2.0) - 0.0;  // logsumexp(z) - z[label]
  Tensor grad;
  const double value = loss->compute_from_softmax(matrix({softmax(z)}), y, &grad);
  CHECK(value == doctest::Approx(tf_loss).epsilon(1e-6));  // the old clipped value was 16.118
  const auto p = softmax(z);
  CHECK(grad(0, 0) == doctest::Approx(p[0]));
  CHECK(grad(0, 1) == doctest::Approx(p[1] - 1.0));
  auto loss_at = [&](const std::vector<double>& logits) {
    return loss->compute_from_softmax(matrix({softmax(logits)}), y, nullptr);
  };
  for (std::size_t k = 0; k < 3; ++k)
    CHECK(central_difference(loss_at, z, k, 1e-2) == doctest::Approx(grad(0, k)).epsilon(1e-3).scale(1e-3));
}

TEST_CASE("fused softmax + categorical CE and from_logits agree with TF on a saturating sample") {
  const std::vector<double> z{0.0, 40.0, -3.0};
  const Tensor y = matrix({{1.0, 0.0, 0.0}});
  const double lse = 40.0 + std::log(1.0 + std::exp(-40.0) + std::exp(-43.0));
  auto fused = make("categorical_crossentropy");
  Tensor g_fused, g_logits;
  CHECK(fused->compute_from_softmax(matrix({softmax(z)}), y, &g_fused) == doctest::Approx(lse).epsilon(1e-6));
  auto from_logits = make("categorical_crossentropy", {{"from_logits", true}});
  CHECK(from_logits->compute(matrix({z}), y, &g_logits) == doctest::Approx(lse).epsilon(1e-6));
  auto loss_at = [&](const std::vector<double>& logits) { return from_logits->compute(matrix({logits}), y, nullptr); };
  for (std::size_t k = 0; k < 3; ++k) {
    CHECK(g_fused(0, k) == doctest::Approx(g_logits(0, k)));
    CHECK(central_difference(loss_at, z, k, 1e-2) == doctest::Approx(g_logits(0, k)).epsilon(1e-3).scale(1e-3));
  }
  CHECK(g_logits(0, 0) == doctest::Approx(softmax(z)[0] - 1.0));
}

TEST_CASE("categorical CE from probabilities (not fused): TF normalizes, clips, and the gradient follows both") {
  auto loss = make("categorical_crossentropy");
  const std::vector<double> q{0.2, 0.5, 0.1};  // sums to 0.8: TF divides by the sum first
  const Tensor y = matrix({{0.0, 1.0, 0.0}});
  Tensor grad;
  CHECK(loss->compute(matrix({q}), y, &grad) == doctest::Approx(-std::log(0.5 / 0.8)).epsilon(1e-6));
  auto loss_at = [&](const std::vector<double>& probs) { return loss->compute(matrix({probs}), y, nullptr); };
  for (std::size_t k = 0; k < 3; ++k)
    CHECK(central_difference(loss_at, q, k, 1e-4) == doctest::Approx(grad(0, k)).epsilon(1e-3));
  // A target class predicted at 1e-9 is clipped to 1e-7, as TF does, and passes no gradient.
  const std::vector<double> saturated{1e-9, 1.0 - 1e-9, 0.0};
  const Tensor first = matrix({{1.0, 0.0, 0.0}});
  CHECK(loss->compute(matrix({saturated}), first, &grad) == doctest::Approx(-std::log(1e-7)).epsilon(1e-5));
  CHECK(grad(0, 0) == 0.f);
}

TEST_CASE("sparse CE from probabilities (not fused): TF's -log(clip(p)[y] / sum(clip(p))), its exact gradient") {
  auto loss = make("sparse_categorical_crossentropy");
  const std::vector<double> q{0.3, 0.3, 0.2};
  const Tensor y = labels({2.f});
  Tensor grad;
  CHECK(loss->compute(matrix({q}), y, &grad) == doctest::Approx(-std::log(0.2 / 0.8)).epsilon(1e-6));
  auto loss_at = [&](const std::vector<double>& probs) { return loss->compute(matrix({probs}), y, nullptr); };
  for (std::size_t k = 0; k < 3; ++k)
    CHECK(central_difference(loss_at, q, k, 1e-4) == doctest::Approx(grad(0, k)).epsilon(1e-3));
}

TEST_CASE("binary CE: from logits exact (TF's sigmoid_cross_entropy_with_logits), from probabilities clipped") {
  auto logits = make("binary_crossentropy", {{"from_logits", true}});
  const Tensor z = matrix({{-40.0}, {2.0}});
  const Tensor y = matrix({{1.0}, {0.0}});
  Tensor grad;
  const double expected = (40.0 + std::log1p(std::exp(-40.0)) + 2.0 + std::log1p(std::exp(-2.0))) / 2;
  CHECK(logits->compute(z, y, &grad) == doctest::Approx(expected).epsilon(1e-6));
  CHECK(grad(0, 0) == doctest::Approx((1.0 / (1.0 + std::exp(40.0)) - 1.0) / 2));
  auto probs = make("binary_crossentropy");
  const std::vector<double> p{0.3, 0.9};
  auto loss_at = [&](const std::vector<double>& x) { return probs->compute(matrix({{x[0]}, {x[1]}}), y, nullptr); };
  probs->compute(matrix({{p[0]}, {p[1]}}), y, &grad);
  for (std::size_t k = 0; k < 2; ++k)
    CHECK(central_difference(loss_at, p, k, 1e-4) == doctest::Approx(grad(k, 0)).epsilon(1e-3));
}

TEST_CASE("scale_loss_gradient keeps the value and scales the gradient (Keras's loss_scale_factor)") {
  auto scaled = scale_loss_gradient(make("sparse_categorical_crossentropy"), 8.0);
  auto plain = make("sparse_categorical_crossentropy");
  const Tensor p = matrix({{0.7, 0.2, 0.1}});
  const Tensor y = labels({0.f});
  Tensor g_scaled, g_plain;
  CHECK(scaled->fuses_with_softmax());
  CHECK(scaled->compute_from_softmax(p, y, &g_scaled) == plain->compute_from_softmax(p, y, &g_plain));
  for (std::size_t k = 0; k < 3; ++k) CHECK(g_scaled(0, k) == 8.f * g_plain(0, k));
}

// Keras 3's formulas (keras/src/losses/losses.py) in numpy float64, reduced by
// sum_over_batch_size (mean of the per-sample losses), with
//   p = [[0.3, 0.9, -0.4], [1.6, 0.05, 0.7]], t = [[0, 1, 1], [2, 0.2, 0]], e = 1e-7,
//   m = lambda v: v.mean(axis=-1).mean(), d = p - t:
//   mae m(abs(d)); mape m(100*abs((t-p)/maximum(abs(t),e))); msle
//   m((log(maximum(p,e)+1)-log(maximum(t,e)+1))**2); huber m(where(abs(d)<=1,0.5*d*d,abs(d)-0.5));
//   log_cosh m(log(cosh(d))); hinge (t not all 0/1, so unconverted) m(maximum(1-t*p,0)).
// On distributions pd = [[0.2, 0.5, 0.3], [0.7, 0.1, 0.2]], td = [[0, 1, 0], [0.6, 0.3, 0.1]]:
//   kld (clip(td,e,1)*log(clip(td,e,1)/clip(pd,e,1))).sum(-1).mean(); poisson m(pd-td*log(pd+e));
//   categorical_hinge maximum(((1-td)*pd).max(-1)-(td*pd).sum(-1)+1,0).mean().
// Binary targets tb = [[0, 1, 1], [1, 0, 1]], read as y = 2*tb-1: hinge m(maximum(1-y*p,0)),
//   squared_hinge m(maximum(1-y*p,0)**2).
TEST_CASE("each Keras regression and margin loss matches numpy's Keras formula and passes the gradient check") {
  const Tensor p = matrix({{0.3, 0.9, -0.4}, {1.6, 0.05, 0.7}});
  const Tensor t = matrix({{0.0, 1.0, 1.0}, {2.0, 0.2, 0.0}});
  const Tensor pd = matrix({{0.2, 0.5, 0.3}, {0.7, 0.1, 0.2}});
  const Tensor td = matrix({{0.0, 1.0, 0.0}, {0.6, 0.3, 0.1}});
  const Tensor tb = matrix({{0.0, 1.0, 1.0}, {1.0, 0.0, 1.0}});
  struct Case {
    std::vector<std::string> names;
    const Tensor* pred;
    const Tensor* target;
    double expected;
  };
  const std::vector<Case> cases{
      {{"mean_absolute_error", "mae", "MAE", "MeanAbsoluteError"}, &p, &t, 0.508333333333},
      {{"mean_absolute_percentage_error", "mape", "MAPE", "MeanAbsolutePercentageError"}, &p, &t, 166666707.5},
      {{"mean_squared_logarithmic_error", "msle", "MSLE", "MeanSquaredLogarithmicError"}, &p, &t, 0.145298925184},
      {{"huber", "Huber"}, &p, &t, 0.214375},
      {{"log_cosh", "logcosh", "LogCosh"}, &p, &t, 0.188608313855},
      {{"kl_divergence", "kld", "KLD", "kullback_leibler_divergence", "KLDivergence"}, &pd, &td, 0.430461399465},
      {{"poisson", "Poisson"}, &pd, &td, 0.626478471725},
      {{"hinge", "Hinge"}, &p, &tb, 0.691666666667},
      {{"hinge"}, &p, &t, 0.748333333333},
      {{"squared_hinge", "SquaredHinge"}, &p, &tb, 0.80875},
      {{"categorical_hinge", "CategoricalHinge"}, &pd, &td, 0.805},
  };
  for (const auto& c : cases) {
    for (const auto& name : c.names) {
      INFO(name);
      auto loss = make(name);
      CHECK(loss->compute(*c.pred, *c.target, nullptr) == doctest::Approx(c.expected).epsilon(1e-6));
      CHECK(testing::check_loss_gradient(*loss, *c.pred, *c.target) < 1e-3);
    }
  }
}

TEST_CASE("huber reads delta; a target that does not fit is one sentence naming the loss and both shapes") {
  const Tensor p = matrix({{0.0, 3.0}});
  const Tensor t = matrix({{0.0, 0.0}});
  // delta 2: the error 3 is linear, 2*3 - 0.5*2^2 = 4; the sample mean is 2.
  CHECK(make("huber", {{"delta", 2.0}})->compute(p, t, nullptr) == doctest::Approx(2.0));
  CHECK(make("Huber", {{"delta", 2.0}})->get_config()["delta"] == 2.0);
  CHECK_THROWS_WITH_AS(make("huber", {{"delta", 0.0}}), "huber: \"delta\" must be positive", InputError);
  CHECK_THROWS_WITH_AS(make("mae")->compute(p, matrix({{1.0}}), nullptr),
                       "mae: targets of shape (1, 1) do not fit predictions of shape (1, 2) (expected one target per output)",
                       InputError);
}
