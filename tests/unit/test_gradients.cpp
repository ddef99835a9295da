// Every built-in layer and loss against central differences (see plugfit/testing.hpp for the
// error measure and why 1e-3 is the right tolerance for float layers).
#include <doctest/doctest.h>

#include <plugfit/registry.hpp>
#include <plugfit/testing.hpp>

#include "builtins/builtins.hpp"
#include "test_support.hpp"

using namespace plugfit;
using namespace plugfit::test;

namespace {


void check_layer(const std::string& class_name, const Json& config, const Shape& input_shape) {
  auto layer = builtins().create_layer(class_name, config);
  const auto result = testing::check_layer_gradients(*layer, input_shape);
  INFO(class_name << " " << config.dump() << "\n" << result.report);
  CHECK(result.passed);
  CHECK(result.input_error < 1e-3);
  CHECK(result.max_weight_error < 1e-3);
}

Tensor labels(std::initializer_list<float> values) {
  Tensor t = Tensor::from_shape({values.size()});
  std::copy(values.begin(), values.end(), t.begin());
  return t;
}

}  // namespace

TEST_CASE("Dense passes the gradient check with every activation") {
  for (const char* activation : {"linear", "relu", "sigmoid", "tanh", "softmax"}) {
    SUBCASE(activation) { check_layer("Dense", {{"units", 4}, {"activation", activation}}, {5}); }
  }
  SUBCASE("without bias") { check_layer("Dense", {{"units", 3}, {"use_bias", false}}, {6}); }
}

TEST_CASE("Activation passes the gradient check for each kind") {
  for (const char* activation : {"linear", "relu", "sigmoid", "tanh", "softmax"}) {
    SUBCASE(activation) { check_layer("Activation", {{"activation", activation}}, {7}); }
  }
}

TEST_CASE("Dropout passes the gradient check in training and inference") {
  check_layer("Dropout", {{"rate", 0.4}}, {4, 3});
  auto layer = builtins().create_layer("Dropout", {{"rate", 0.4}});
  testing::GradientCheckOptions inference;
  inference.training = false;
  CHECK(testing::check_layer_gradients(*layer, {6}, inference).passed);
}

TEST_CASE("Flatten passes the gradient check") { check_layer("Flatten", Json::object(), {2, 3, 2}); }

TEST_CASE("losses pass the gradient check") {
  Rng rng(3);
  Tensor probs = Tensor::from_shape({4, 3});
  for (auto& v : probs) v = 0.1f + 0.8f * rng.uniform();
  Tensor logits = Tensor::from_shape({4, 3});
  for (auto& v : logits) v = static_cast<float>(rng.normal());
  const Tensor sparse = labels({0, 2, 1, 2});
  Tensor onehot = xt::zeros<float>({4, 3});
  for (std::size_t r = 0; r < 4; ++r) onehot(r, static_cast<std::size_t>(sparse(r))) = 1.f;

  SUBCASE("sparse categorical cross-entropy, plain and fused with softmax") {
    auto loss = builtins().create_loss("sparse_categorical_crossentropy", Json::object());
    CHECK(testing::check_loss_gradient(*loss, probs, sparse) < 1e-3);
    CHECK(loss->fuses_with_softmax());
    CHECK(testing::check_fused_softmax_gradient(*loss, logits, sparse) < 1e-3);
  }
  SUBCASE("categorical cross-entropy, plain and fused with softmax") {
    auto loss = builtins().create_loss("categorical_crossentropy", Json::object());
    CHECK(testing::check_loss_gradient(*loss, probs, onehot) < 1e-3);
    CHECK(testing::check_fused_softmax_gradient(*loss, logits, onehot) < 1e-3);
  }
  SUBCASE("cross-entropy from logits") {
    auto loss = builtins().create_loss("SparseCategoricalCrossentropy", {{"from_logits", true}});
    CHECK_FALSE(loss->fuses_with_softmax());
    CHECK(testing::check_loss_gradient(*loss, logits, sparse) < 1e-3);
  }
  SUBCASE("binary cross-entropy, on probabilities and from logits") {
    Tensor p = Tensor::from_shape({5, 1});
    for (auto& v : p) v = 0.1f + 0.8f * rng.uniform();
    Tensor t = Tensor::from_shape({5, 1});
    t(0, 0) = t(2, 0) = t(3, 0) = 1.f;
    t(1, 0) = t(4, 0) = 0.f;
    CHECK(testing::check_loss_gradient(*builtins().create_loss("binary_crossentropy", Json::object()), p, t) < 1e-3);
    CHECK(testing::check_loss_gradient(*builtins().create_loss("binary_crossentropy", {{"from_logits", true}}), logits,
                                       xt::eval(xt::ones<float>({4, 3}) * 0.5f)) < 1e-3);
  }
  SUBCASE("mean squared error") {
    auto loss = builtins().create_loss("mse", Json::object());
    CHECK(testing::check_loss_gradient(*loss, logits, probs) < 1e-3);
  }
}

TEST_CASE("the gradient check catches a wrong gradient") {
  // A layer whose backward is off by a factor must fail, or the check proves nothing.
  class Doubler final : public Layer {
   public:
    Shape build(const Shape& in, BuildContext&) override { return in; }
    const Tensor& forward(const Tensor& x, bool) override { return y_ = x * 2.f; }
    const Tensor& backward(const Tensor& dy) override { return dx_ = dy * 2.1f; }
    Json get_config() const override { return Json::object(); }
    Tensor y_, dx_;
  } wrong;
  const auto result = testing::check_layer_gradients(wrong, {3});
  CHECK_FALSE(result.passed);
  CHECK(result.worst == "input");
}
