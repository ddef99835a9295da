// Optimizer updates against Keras's formulas, computed here step by step in double.
#include <doctest/doctest.h>

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

TEST_CASE("options are checked in the constructor") {
  CHECK_THROWS_WITH_AS(make("Adam", {{"learning_rate", -1.0}}), doctest::Contains("learning rate must be a non-negative number"),
                       InputError);
  CHECK_THROWS_WITH_AS(make("SGD", {{"momentum", 1.5}}), doctest::Contains("\"momentum\" must be in [0"), InputError);
  CHECK_THROWS_WITH_AS(make("Adam", {{"amsgrad", true}}), doctest::Contains("amsgrad"), InputError);
}
