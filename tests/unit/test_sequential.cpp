#include <doctest/doctest.h>

#include <plugfit/registry.hpp>

#include "model/sequential.hpp"
#include "builtins/builtins.hpp"
#include "test_support.hpp"

using namespace plugfit;
using namespace plugfit::test;

namespace {

const Json kMlp = Json::parse(R"({"class_name": "Sequential", "config": {"layers": [
  {"class_name": "Flatten", "config": {"input_shape": [4, 3]}},
  {"class_name": "Dense", "config": {"units": 5, "activation": "relu"}},
  {"class_name": "Dropout", "config": {"rate": 0.2}},
  {"class_name": "Dense", "config": {"units": 2, "activation": "softmax"}}]}})");
}  // namespace

TEST_CASE("layers get Keras's names and weights one flat buffer in layer order") {
  auto model = Sequential::from_config(kMlp, builtins());
  REQUIRE(model->declared_input_shape() == Shape{4, 3});
  model->build({4, 3}, 7);
  CHECK(model->layer(0).name() == "flatten");
  CHECK(model->layer(1).name() == "dense");
  CHECK(model->layer(3).name() == "dense_1");
  REQUIRE(model->weights().size() == 4);
  CHECK(model->weights()[0]->name == "dense/kernel");
  CHECK(model->weights()[0]->shape == Shape{12, 5});
  CHECK(model->weights()[3]->name == "dense_1/bias");
  CHECK(model->num_params() == 12 * 5 + 5 + 5 * 2 + 2);
  std::size_t offset = 0;
  for (Weight* w : model->weights()) {
    CHECK(w->offset == offset);
    CHECK(w->value_data == model->parameters().data() + offset);
    offset += w->size;
  }
  CHECK(model->find_weight("dense_1/kernel") == model->weights()[2]);
  CHECK(model->output_shape() == Shape{2});
}

TEST_CASE("the seed fixes the initial weights; glorot bounds hold; biases start at zero") {
  auto a = Sequential::from_config(kMlp, builtins());
  auto b = Sequential::from_config(kMlp, builtins());
  auto c = Sequential::from_config(kMlp, builtins());
  a->build({4, 3}, 1);
  b->build({4, 3}, 1);
  c->build({4, 3}, 2);
  CHECK(std::equal(a->parameters().begin(), a->parameters().end(), b->parameters().begin()));
  CHECK_FALSE(std::equal(a->parameters().begin(), a->parameters().end(), c->parameters().begin()));
  const float limit = std::sqrt(6.f / (12 + 5));
  for (float v : a->weights()[0]->value()) CHECK(std::fabs(v) <= limit);
  for (float v : a->weights()[1]->value()) CHECK(v == 0.f);
}

TEST_CASE("a shape mismatch names the layer and both shapes") {
  auto model = Sequential::from_config(kMlp, builtins());
  CHECK_THROWS_WITH_AS(model->build({28, 28}, 0),
                       "the model expects input of shape (None, 4, 3) but the data has shape (None, 28, 28)",
                       InputError);
  const Json no_flatten = {{"layers", {{{"class_name", "Dense"}, {"config", {{"units", 3}}}}}}};
  auto dense_only = Sequential::from_config(no_flatten, builtins());
  CHECK_THROWS_WITH_AS(dense_only->build({28, 28}, 0),
                       "layer \"dense\" (Dense) expects input of shape (None, features), got (None, 28, 28); put a "
                       "Flatten layer before it",
                       InputError);
}

TEST_CASE("config errors name the layer index and the problem") {
  CHECK_THROWS_WITH_AS(Sequential::from_config({{"layers", {{{"class_name", "Dense"}}}}}, builtins()),
                       "layer 0 (Dense): Dense: the option \"units\" is required", InputError);
  CHECK_THROWS_WITH_AS(Sequential::from_config({{"layers", {{{"class_name", "Conv2D"}}}}}, builtins()),
                       doctest::Contains("layer 0 (Conv2D): unknown layer \"Conv2D\" (known: Activation, Dense"),
                       InputError);
  CHECK_THROWS_WITH_AS(Sequential::from_config({{"class_name", "Functional"}}, builtins()),
                       doctest::Contains("only Sequential models are supported"), InputError);
}

TEST_CASE("get_config rebuilds an equal model") {
  auto a = Sequential::from_config(kMlp, builtins());
  a->build({4, 3}, 3);
  auto b = Sequential::from_config(a->get_config(), builtins());
  b->build(*b->declared_input_shape(), 3);
  CHECK(b->get_config() == a->get_config());
  CHECK(std::equal(a->parameters().begin(), a->parameters().end(), b->parameters().begin()));
}

TEST_CASE("forward maps a batch to the output shape; softmax rows sum to one") {
  auto model = Sequential::from_config(kMlp, builtins());
  model->build({4, 3}, 0);
  Tensor x = xt::ones<float>({6, 4, 3});
  const Tensor& y = model->forward(x, false);
  REQUIRE(y.shape()[0] == 6);
  REQUIRE(y.shape()[1] == 2);
  for (std::size_t r = 0; r < 6; ++r) CHECK(y(r, 0) + y(r, 1) == doctest::Approx(1.0));
}
