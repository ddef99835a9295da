#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <vector>

#include <plugfit/config.hpp>
#include <plugfit/registry.hpp>
#include <plugfit/testing.hpp>

#include "layers/activations.hpp"
#include "test_support.hpp"

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
  CHECK(parse_activation("silu", "Dense") == ActivationKind::swish);
  CHECK(parse_activation("None", "Dense") == ActivationKind::linear);
  CHECK_THROWS_WITH_AS(parse_activation("relu7", "Dense"),
                       "Dense: unknown activation \"relu7\" (known: linear, relu, sigmoid, tanh, softmax, elu, selu, "
                       "gelu, gelu_approximate, swish, silu, softplus, softsign, hard_sigmoid, hard_sigmoid_keras2, "
                       "relu6, leaky_relu, exponential, mish, log_softmax)",
                       InputError);
}

// Keras's formulas (keras/src/activations/activations.py) evaluated in numpy float64 at
// x = [-3.5, -1.2, -0.3, 0, 0.4, 1.7, 4, 7], e.g. gelu: 0.5*x*(1+erf(x/sqrt(2))) (math.erf),
// gelu_approximate: 0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x**3))), selu: 1.0507009873554805 *
// where(x>0, x, 1.6732632423543772*(exp(x)-1)), hard_sigmoid: minimum(maximum(x+3,0),6)/6,
// hard_sigmoid_keras2: clip(0.2*x+0.5,0,1), leaky_relu: where(x>0,x,0.2*x), mish:
// x*tanh(log1p(exp(x))), log_softmax: x-log(sum(exp(x))) (the eight values as one row).
TEST_CASE("each Keras activation's forward values match numpy's evaluation of Keras's formula") {
  const std::vector<float> x{-3.5f, -1.2f, -0.3f, 0.f, 0.4f, 1.7f, 4.f, 7.f};
  const std::map<std::string, std::vector<double>> expected{
      {"elu", {-0.969802617, -0.698805788, -0.259181779, 0, 0.4, 1.7, 4, 7}},
      {"selu", {-1.70500934, -1.22857, -0.455667315, 0, 0.420280395, 1.78619168, 4.20280395, 7.35490691}},
      {"gelu", {-0.000814201777, -0.138083604, -0.114626573, 0, 0.262168697, 1.62423871, 3.99987332, 7}},
      {"gelu_approximate", {-0.000616197655, -0.138297231, -0.114629076, 0, 0.262161169, 1.6241059, 3.99992975, 7}},
      {"swish", {-0.102592808, -0.27777026, -0.127667245, 0, 0.239475064, 1.43740905, 3.92805516, 6.99362264}},
      {"silu", {-0.102592808, -0.27777026, -0.127667245, 0, 0.239475064, 1.43740905, 3.92805516, 6.99362264}},
      {"softplus", {0.0297504183, 0.263282467, 0.554355244, 0.693147181, 0.913015252, 1.86778603, 4.01814993, 7.00091147}},
      {"softsign", {-0.777777778, -0.545454545, -0.230769231, 0, 0.285714286, 0.62962963, 0.8, 0.875}},
      {"hard_sigmoid", {0, 0.3, 0.45, 0.5, 0.566666667, 0.783333333, 1, 1}},
      {"hard_sigmoid_keras2", {0, 0.26, 0.44, 0.5, 0.58, 0.84, 1, 1}},
      {"relu6", {0, 0, 0, 0, 0.4, 1.7, 4, 6}},
      {"leaky_relu", {-0.7, -0.24, -0.06, 0, 0.4, 1.7, 4, 7}},
      {"exponential", {0.0301973834, 0.301194212, 0.740818221, 1, 1.4918247, 5.47394739, 54.59815, 1096.63316}},
      {"mish", {-0.104095754, -0.308835796, -0.151133177, 0, 0.289030534, 1.62076807, 3.99741281, 6.99998838}},
      {"log_softmax", {-10.5564074, -8.2564074, -7.3564074, -7.0564074, -6.6564074, -5.3564074, -3.0564074, -0.056407404}},
  };
  for (const auto& [name, want] : expected) {
    std::vector<float> y = x;
    activation_forward(parse_activation(name, "Dense"), y.data(), 1, y.size());
    for (std::size_t i = 0; i < y.size(); ++i) {
      INFO(name << " at x = " << x[i]);
      CHECK(y[i] == doctest::Approx(want[i]).epsilon(2e-6).scale(1e-6));
    }
  }
}

TEST_CASE("every activation passes the SDK gradient check, in Dense and as an Activation layer") {
  for (const char* name : {"elu", "selu", "gelu", "gelu_approximate", "swish", "silu", "softplus", "softsign",
                           "hard_sigmoid", "hard_sigmoid_keras2", "relu6", "leaky_relu", "exponential", "mish",
                           "log_softmax"}) {
    auto dense = test::builtins().create_layer("Dense", {{"units", 4}, {"activation", name}});
    const auto in_dense = testing::check_layer_gradients(*dense, {5});
    INFO(name << " in Dense\n" << in_dense.report);
    CHECK(in_dense.passed);
    auto layer = test::builtins().create_layer("Activation", {{"activation", name}});
    const auto alone = testing::check_layer_gradients(*layer, {6});
    INFO(name << " as Activation\n" << alone.report);
    CHECK(alone.passed);
    CHECK(std::string(activation_name(parse_activation(name, "Dense"))) == (std::string(name) == "silu" ? "swish" : name));
  }
}

TEST_CASE("log_softmax, like softmax, needs (None, classes) input in an Activation layer") {
  auto layer = test::builtins().create_layer("Activation", {{"activation", "log_softmax"}});
  CHECK_THROWS_AS(testing::check_layer_gradients(*layer, {2, 3}), InputError);
}
