#include <doctest/doctest.h>

#include <cmath>

#include <plugfit/config.hpp>

#include "layers/activations.hpp"

using namespace plugfit;

TEST_CASE("softmax rows sum to one and survive large logits") {
  std::vector<float> y{1000.f, 1001.f, 1002.f, -5.f, 0.f, 5.f};
  activation_forward(ActivationKind::softmax, y.data(), 2, 3);
  for (int r = 0; r < 2; ++r) {
    float sum = 0.f;
    for (int c = 0; c < 3; ++c) {
      CHECK(std::isfinite(y[std::size_t(r * 3 + c)]));
      sum += y[std::size_t(r * 3 + c)];
    }
    CHECK(sum == doctest::Approx(1.0));
  }
  CHECK(y[2] > y[1]);
}

TEST_CASE("relu, sigmoid and tanh forward values") {
  std::vector<float> y{-1.f, 0.f, 2.f};
  activation_forward(ActivationKind::relu, y.data(), 1, 3);
  CHECK(y == std::vector<float>{0.f, 0.f, 2.f});
  std::vector<float> s{0.f};
  activation_forward(ActivationKind::sigmoid, s.data(), 1, 1);
  CHECK(s[0] == doctest::Approx(0.5));
  std::vector<float> t{0.5f};
  activation_forward(ActivationKind::tanh, t.data(), 1, 1);
  CHECK(t[0] == doctest::Approx(std::tanh(0.5)));
}

TEST_CASE("activation names parse as Keras's, unknown ones are listed") {
  CHECK(parse_activation(Json(nullptr), "Dense") == ActivationKind::linear);
  CHECK(parse_activation("softmax", "Dense") == ActivationKind::softmax);
  CHECK_THROWS_WITH_AS(parse_activation("relu6", "Dense"),
                       "Dense: unknown activation \"relu6\" (known: linear, relu, sigmoid, softmax, tanh)", InputError);
}
