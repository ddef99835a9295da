// Optimizer updates against Keras's formulas, computed here step by step in double.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include <plugfit/registry.hpp>

#include "test_support.hpp"

using namespace plugfit;

namespace {
std::unique_ptr<Optimizer> make(const std::string& name, const Json& config) {
  auto opt = test::builtins().create_optimizer(name, config);
  opt->build(2);
  return opt;
}
}  // namespace

TEST_CASE("Adam follows Keras's update with bias correction") {
  auto adam = make("Adam", {{"learning_rate", 0.1}});
  std::vector<float> p{1.f, -2.f};
  const std::vector<float> g{0.5f, -1.5f};
  double m[2] = {0, 0}, v[2] = {0, 0}, ref[2] = {1.0, -2.0};
  for (int t = 1; t <= 3; ++t) {
    adam->step(p, g);
    const double alpha = 0.1 * std::sqrt(1 - std::pow(0.999, t)) / (1 - std::pow(0.9, t));
    for (int i = 0; i < 2; ++i) {
      m[i] += (g[std::size_t(i)] - m[i]) * 0.1;
      v[i] += (double(g[std::size_t(i)]) * g[std::size_t(i)] - v[i]) * 0.001;
      ref[i] -= alpha * m[i] / (std::sqrt(v[i]) + 1e-7);
    }
  }
  CHECK(adam->iterations() == 3);
  CHECK(p[0] == doctest::Approx(ref[0]).epsilon(1e-5));
  CHECK(p[1] == doctest::Approx(ref[1]).epsilon(1e-5));
  auto slots = adam->slots();
  REQUIRE(slots.size() == 2);
  CHECK(slots[0].name == "m");
  CHECK((*slots[0].values)[0] == doctest::Approx(m[0]).epsilon(1e-5));
}

TEST_CASE("SGD: plain, momentum and nesterov as Keras computes them") {
  const std::vector<float> g{1.f, -1.f};
  {
    auto sgd = make("SGD", {{"learning_rate", 0.5}});
    std::vector<float> p{0.f, 0.f};
    sgd->step(p, g);
    CHECK(p[0] == doctest::Approx(-0.5));
  }
  {
    auto sgd = make("SGD", {{"learning_rate", 0.5}, {"momentum", 0.9}});
    std::vector<float> p{0.f, 0.f};
    sgd->step(p, g);  // m = -0.5, p = -0.5
    sgd->step(p, g);  // m = -0.45 - 0.5 = -0.95, p = -1.45
    CHECK(p[0] == doctest::Approx(-1.45));
  }
  {
    auto sgd = make("SGD", {{"learning_rate", 0.5}, {"momentum", 0.9}, {"nesterov", true}});
    std::vector<float> p{0.f, 0.f};
    sgd->step(p, g);  // m = -0.5, p += 0.9 * -0.5 - 0.5 = -0.95
    CHECK(p[0] == doctest::Approx(-0.95));
  }
}

TEST_CASE("RMSprop follows Keras's update") {
  auto rms = make("RMSprop", {{"learning_rate", 0.01}});
  std::vector<float> p{1.f, 1.f};
  const std::vector<float> g{2.f, 0.f};
  rms->step(p, g);
  const double v = 0.1 * 4.0;
  CHECK(p[0] == doctest::Approx(1.0 - 0.01 * 2.0 / std::sqrt(v + 1e-7)).epsilon(1e-6));
  CHECK(p[1] == 1.f);
}

TEST_CASE("RMSprop with epsilon_outside_sqrt follows Keras 2.3's update, and keeps the option in its config") {
  auto rms = make("RMSprop", {{"learning_rate", 0.01}, {"epsilon", 0.5}, {"epsilon_outside_sqrt", true}});
  std::vector<float> p{1.f, 1.f};
  const std::vector<float> g{2.f, 1.f};
  rms->step(p, g);
  CHECK(p[0] == doctest::Approx(1.0 - 0.01 * 2.0 / (std::sqrt(0.4) + 0.5)).epsilon(1e-6));
  CHECK(p[1] == doctest::Approx(1.0 - 0.01 * 1.0 / (std::sqrt(0.1) + 0.5)).epsilon(1e-6));
  CHECK(rms->get_config().value("epsilon_outside_sqrt", false));
  CHECK_FALSE(make("RMSprop", Json::object())->get_config().contains("epsilon_outside_sqrt"));
  CHECK_THROWS_WITH_AS(make("RMSprop", {{"epsilon_outside_sqrt", true}, {"centered", true}}),
                       doctest::Contains("\"epsilon_outside_sqrt\" (Keras <= 2.3's update) takes neither"), InputError);
}

TEST_CASE("options are checked in the constructor") {
  CHECK_THROWS_WITH_AS(make("Adam", {{"learning_rate", -1.0}}), doctest::Contains("learning rate must be a non-negative number"),
                       InputError);
  CHECK_THROWS_WITH_AS(make("SGD", {{"momentum", 1.5}}), doctest::Contains("\"momentum\" must be in [0"), InputError);
}

namespace {
// Keras's Adam step in double, with or without AMSGrad; t counts updates from 1.
struct AdamReference {
  double lr, b1 = 0.9, b2 = 0.999, eps = 1e-7;
  bool amsgrad = false;
  std::vector<double> m, v, v_hat;
  explicit AdamReference(double rate, std::size_t n, bool ams = false)
      : lr(rate), amsgrad(ams), m(n, 0.0), v(n, 0.0), v_hat(n, 0.0) {}
  void step(std::vector<double>& p, const std::vector<double>& g, int t) {
    const double alpha = lr * std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t));
    for (std::size_t i = 0; i < p.size(); ++i) {
      m[i] += (g[i] - m[i]) * (1 - b1);
      v[i] += (g[i] * g[i] - v[i]) * (1 - b2);
      v_hat[i] = std::max(v_hat[i], v[i]);
      p[i] -= alpha * m[i] / (std::sqrt(amsgrad ? v_hat[i] : v[i]) + eps);
    }
  }
};
}  // namespace

TEST_CASE("Adam amsgrad divides by the largest second moment so far, kept in a \"v_hat\" slot") {
  auto adam = make("Adam", {{"learning_rate", 0.1}, {"amsgrad", true}});
  std::vector<float> p{1.f, -2.f};
  std::vector<double> ref{1.0, -2.0};
  AdamReference reference(0.1, 2, true);
  // Large then small gradients: v falls below its maximum, so v_hat differs from v.
  const std::vector<std::vector<float>> grads{{3.f, -1.f}, {0.1f, 0.2f}, {0.05f, -0.1f}, {0.01f, 0.3f}};
  int t = 0;
  for (const auto& g : grads) {
    adam->step(p, g);
    reference.step(ref, {g[0], g[1]}, ++t);
  }
  CHECK(p[0] == doctest::Approx(ref[0]).epsilon(1e-5));
  CHECK(p[1] == doctest::Approx(ref[1]).epsilon(1e-5));
  auto slots = adam->slots();
  REQUIRE(slots.size() == 3);
  CHECK(slots[2].name == "v_hat");
  CHECK((*slots[2].values)[0] == doctest::Approx(reference.v_hat[0]).epsilon(1e-5));
  CHECK((*slots[2].values)[0] > (*slots[1].values)[0]);
  // Without amsgrad the same gradients end elsewhere: the option is not ignored.
  auto plain = make("Adam", {{"learning_rate", 0.1}});
  std::vector<float> q{1.f, -2.f};
  for (const auto& g : grads) plain->step(q, g);
  CHECK(q[0] != p[0]);
}

TEST_CASE("gradient_accumulation_steps: the average of N gradients applied on every Nth step, as Keras") {
  auto adam = make("Adam", {{"learning_rate", 0.1}, {"gradient_accumulation_steps", 3}});
  std::vector<float> p{1.f, -2.f};
  std::vector<double> ref{1.0, -2.0};
  AdamReference reference(0.1, 2);
  const std::vector<std::vector<float>> grads{{0.5f, -1.5f}, {1.f, 2.f}, {-0.25f, 0.5f},
                                              {2.f, 0.f},    {0.f, 1.f}, {1.f, -1.f}, {4.f, 4.f}};
  std::vector<double> sum{0.0, 0.0};
  for (std::size_t b = 0; b < grads.size(); ++b) {
    const std::vector<float> before = p;
    adam->step(p, grads[b]);
    for (int i = 0; i < 2; ++i) sum[std::size_t(i)] += grads[b][std::size_t(i)];
    CHECK(adam->iterations() == std::int64_t(b + 1));  // every call counts (Keras's _iterations)
    if ((b + 1) % 3 == 0) {
      reference.step(ref, {sum[0] / 3, sum[1] / 3}, int((b + 1) / 3));  // bias correction counts updates
      sum = {0.0, 0.0};
      CHECK(p[0] == doctest::Approx(ref[0]).epsilon(1e-5));
      CHECK(p[1] == doctest::Approx(ref[1]).epsilon(1e-5));
    } else {
      CHECK(p == before);  // only accumulated
    }
  }
  CHECK(adam->updates_applied() == 2);
  auto slots = adam->slots();
  REQUIRE(slots.size() == 3);
  CHECK(slots[2].name == "gradient_accumulator");
  CHECK((*slots[2].values)[0] == 4.f);  // the seventh gradient, waiting for two more
  CHECK(adam->get_config()["gradient_accumulation_steps"] == 3);
}

TEST_CASE("gradient accumulation resumed mid-window from its slots continues bit for bit") {
  const Json config = {{"learning_rate", 0.05}, {"gradient_accumulation_steps", 4}};
  const std::vector<std::vector<float>> grads{{0.5f, -1.5f}, {1.f, 2.f},   {-0.25f, 0.5f}, {2.f, 0.f}, {0.f, 1.f},
                                              {1.f, -1.f},   {4.f, 4.f},   {0.3f, -0.7f},  {1.f, 1.f}, {2.f, -2.f}};
  auto straight = make("Adam", config);
  std::vector<float> p{1.f, -2.f};
  for (const auto& g : grads) straight->step(p, g);

  auto first = make("Adam", config);
  std::vector<float> q{1.f, -2.f};
  for (std::size_t b = 0; b < 6; ++b) first->step(q, grads[b]);  // 6 = one update and 2 accumulated
  auto resumed = make("Adam", config);
  auto from = first->slots(), to = resumed->slots();
  REQUIRE(from.size() == to.size());
  for (std::size_t s = 0; s < from.size(); ++s) *to[s].values = *from[s].values;
  resumed->set_iterations(first->iterations());
  for (std::size_t b = 6; b < grads.size(); ++b) resumed->step(q, grads[b]);
  CHECK(q == p);
}

TEST_CASE("loss_scale_factor: gradients are divided by it before the update") {
  auto scaled = make("SGD", {{"learning_rate", 0.5}, {"loss_scale_factor", 128.0}});
  auto plain = make("SGD", {{"learning_rate", 0.5}});
  CHECK(scaled->loss_scale_factor() == 128.0);
  CHECK(plain->loss_scale_factor() == 1.0);
  std::vector<float> p{0.f, 0.f}, q{0.f, 0.f};
  scaled->step(p, std::vector<float>{128.f, -64.f});
  plain->step(q, std::vector<float>{1.f, -0.5f});
  CHECK(p == q);
}

TEST_CASE("weight_decay is Keras's decoupled p -= p * weight_decay * learning_rate, before the rule") {
  auto sgd = make("SGD", {{"learning_rate", 0.1}, {"weight_decay", 0.01}});
  std::vector<float> p{2.f, -4.f};
  sgd->step(p, std::vector<float>{1.f, 0.f});
  CHECK(p[0] == doctest::Approx(2.0 - 2.0 * 0.01 * 0.1 - 0.1 * 1.0).epsilon(1e-6));
  CHECK(p[1] == doctest::Approx(-4.0 + 4.0 * 0.01 * 0.1).epsilon(1e-6));
}

TEST_CASE("clipnorm per weight, global_clipnorm over all, clipvalue per element, as Keras clips") {
  const std::size_t two_weights[] = {2, 2};
  const std::vector<float> g{3.f, 4.f, 0.3f, 0.4f};  // norms 5 and 0.5; global norm sqrt(25.25)
  auto run = [&](const Json& config) {
    auto sgd = test::builtins().create_optimizer("SGD", config);
    sgd->build(two_weights);
    std::vector<float> p(4, 0.f);
    sgd->step(p, g);
    return p;  // -g after clipping, with learning rate 1
  };
  const auto by_norm = run({{"learning_rate", 1.0}, {"clipnorm", 1.0}});
  CHECK(by_norm[0] == doctest::Approx(-0.6));
  CHECK(by_norm[1] == doctest::Approx(-0.8));
  CHECK(by_norm[2] == doctest::Approx(-0.3));  // under the norm: unchanged
  const auto global = run({{"learning_rate", 1.0}, {"global_clipnorm", 1.0}});
  const double factor = 1.0 / std::sqrt(25.25);
  CHECK(global[0] == doctest::Approx(-3.0 * factor));
  CHECK(global[3] == doctest::Approx(-0.4 * factor));
  const auto by_value = run({{"learning_rate", 1.0}, {"clipvalue", 0.35}});
  CHECK(by_value == std::vector<float>{-0.35f, -0.35f, -0.3f, -0.35f});
}

TEST_CASE("no Keras base option is accepted and ignored: each works or is refused in one sentence") {
  CHECK_THROWS_WITH_AS(make("Adam", {{"jit_compile", true}}),
                       "Adam: jit_compile is an XLA compilation flag; plugfit has no XLA, set it to false", InputError);
  CHECK_NOTHROW(make("Adam", {{"jit_compile", false}, {"ema_momentum", 0.99}, {"ema_overwrite_frequency", nullptr},
                              {"clipnorm", nullptr}, {"weight_decay", nullptr}, {"loss_scale_factor", nullptr}}));
  CHECK_THROWS_WITH_AS(make("RMSprop", {{"use_ema", true}}), doctest::Contains("RMSprop: use_ema is not supported"),
                       InputError);
  CHECK_THROWS_WITH_AS(make("SGD", {{"clipnorm", 1.0}, {"clipvalue", 1.0}}),
                       doctest::Contains("only one of \"clipnorm\", \"clipvalue\" and \"global_clipnorm\""),
                       InputError);
  CHECK_THROWS_WITH_AS(make("Adam", {{"gradient_accumulation_steps", 1}}),
                       doctest::Contains("\"gradient_accumulation_steps\" must be an integer >= 2"), InputError);
  CHECK_THROWS_WITH_AS(make("Adam", {{"clipvalue", -1.0}}), doctest::Contains("\"clipvalue\" must be a positive number"),
                       InputError);
  CHECK_THROWS_WITH_AS(make("SGD", {{"weight_decay", -0.1}}), doctest::Contains("\"weight_decay\" must be a non-negative"),
                       InputError);
  CHECK_THROWS_WITH_AS(make("SGD", {{"loss_scale_factor", 0.0}}),
                       doctest::Contains("\"loss_scale_factor\" must be a positive number"), InputError);
  const Json config = make("SGD", {{"weight_decay", 0.01}, {"clipvalue", 2.0}})->get_config();
  CHECK(config["weight_decay"] == 0.01);
  CHECK(config["clipvalue"] == 2.0);
}
