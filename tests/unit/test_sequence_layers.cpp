// LayerNormalization, RepeatVector and TimeDistributed against loops written here, their
// gradients, masks passed on, Keras's options and the bad ones refused.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "layer_fixture.hpp"

using namespace plugfit;
using namespace plugfit::test;

TEST_CASE("LayerNormalization normalizes over the last axis as Keras does") {
  BuiltLayer built("LayerNormalization", Json::object(), {3, 5});
  const Tensor x = random_tensor({2, 3, 5}, 6);
  const Tensor& y = built.layer->forward(x, true);
  const float* gamma = built.weight("gamma").value_data;
  const float* beta = built.weight("beta").value_data;
  for (std::size_t b = 0; b < 2; ++b)
    for (std::size_t t = 0; t < 3; ++t) {
      double mean = 0, var = 0;
      for (std::size_t f = 0; f < 5; ++f) mean += x(b, t, f) / 5.0;
      for (std::size_t f = 0; f < 5; ++f) var += (x(b, t, f) - mean) * (x(b, t, f) - mean) / 5.0;
      for (std::size_t f = 0; f < 5; ++f)
        CHECK(y(b, t, f) == doctest::Approx((x(b, t, f) - mean) / std::sqrt(var + 1e-3) * gamma[f] + beta[f]).epsilon(1e-4));
    }
  BuiltLayer bare("LayerNormalization", {{"center", false}, {"scale", false}, {"epsilon", 1e-5}}, {4});
  CHECK(bare.weights.empty());
  const Tensor row = {{1.f, 2.f, 3.f, 4.f}};
  CHECK(bare.layer->forward(row, false)(0, 0) == doctest::Approx(-1.5 / std::sqrt(1.25 + 1e-5)));
}

TEST_CASE("LayerNormalization's gradients match central differences") {
  check_gradients("LayerNormalization", Json::object(), {3, 4});
  check_gradients("LayerNormalization", {{"center", false}}, {6});
  check_gradients("LayerNormalization", {{"scale", false}, {"axis", Json::array({-1})}}, {2, 2, 3});
}

TEST_CASE("LayerNormalization refuses what it does not do, and round-trips its config") {
  CHECK(error_of([] { builtins().create_layer("LayerNormalization", {{"axis", -2}}); }) ==
        "LayerNormalization: only axis -1 (the last axis) is supported, got -2");
  CHECK(build_error("LayerNormalization", {{"axis", 1}}, {3, 4}) ==
        "layer \"l\" (LayerNormalization): only the last axis is supported, got axis 1 for input (None, 3, 4)");
  BuiltLayer keras2("LayerNormalization", {{"axis", Json::array({2})}}, {3, 4});  // tf.keras 2's saved form
  CHECK(keras2.output_shape == Shape{3, 4});
  CHECK(error_of([] { builtins().create_layer("LayerNormalization", {{"name", "ln"}, {"rms_scaling", true}}); }) ==
        "layer \"ln\" (LayerNormalization): rms_scaling true is not supported");
  auto layer = builtins().create_layer("LayerNormalization", {{"epsilon", 1e-6}, {"rms_scaling", false}});
  Json config = layer->get_config();
  CHECK(config["epsilon"] == 1e-6);
  config.erase("name");
  CHECK(builtins().create_layer("LayerNormalization", config)->get_config() == layer->get_config());
  CHECK(layer->mask_support() == Layer::MaskSupport::propagate);
}

TEST_CASE("RepeatVector repeats, sums its gradient back, and refuses a sequence input") {
  BuiltLayer built("RepeatVector", {{"n", 3}}, {2});
  CHECK(built.output_shape == Shape{3, 2});
  const Tensor x = {{1.f, 2.f}, {3.f, 4.f}};
  const Tensor& y = built.layer->forward(x, false);
  for (std::size_t i = 0; i < 3; ++i) CHECK((y(1, i, 0) == 3.f && y(1, i, 1) == 4.f));
  check_gradients("RepeatVector", {{"n", 4}}, {3});
  CHECK(build_error("RepeatVector", {{"n", 2}}, {3, 2}) ==
        "layer \"l\" (RepeatVector) expects input of shape (None, features), got (None, 3, 2)");
  CHECK(builtins().create_layer("RepeatVector", {{"n", 2}})->mask_support() == Layer::MaskSupport::none);
}

TEST_CASE("TimeDistributed(Dense) applies the Dense to every step with the Dense's weights") {
  const Json config = {{"layer", {{"class_name", "Dense"}, {"config", {{"units", 3}, {"activation", "tanh"}}}}}};
  BuiltLayer built("TimeDistributed", config, {4, 2});
  CHECK(built.output_shape == Shape{4, 3});
  REQUIRE(built.weights.size() == 2);
  CHECK(built.weight("kernel").shape == Shape{2, 3});
  CHECK(built.weight("bias").shape == Shape{3});
  const Tensor x = random_tensor({2, 4, 2}, 1);
  const Tensor& y = built.layer->forward(x, false);
  const float* k = built.weight("kernel").value_data;
  const float* bias = built.weight("bias").value_data;
  for (std::size_t b = 0; b < 2; ++b)
    for (std::size_t t = 0; t < 4; ++t)
      for (std::size_t u = 0; u < 3; ++u) {
        const double z = bias[u] + x(b, t, 0) * k[u] + x(b, t, 1) * k[3 + u];
        CHECK(y(b, t, u) == doctest::Approx(std::tanh(z)).epsilon(1e-5));
      }
  check_gradients("TimeDistributed", config, {4, 2});
  check_gradients("TimeDistributed", {{"layer", {{"class_name", "Conv1D"}, {"config", {{"filters", 2}, {"kernel_size", 2}}}}}},
                  {3, 4, 2});
}

TEST_CASE("TimeDistributed passes a mask on, round-trips its config and names a bad inner layer") {
  const Json layers = Json::array({
      {{"class_name", "Embedding"}, {"config", {{"input_dim", 8}, {"output_dim", 2}, {"mask_zero", true}}}},
      {{"class_name", "TimeDistributed"},
       {"config", {{"layer", {{"class_name", "Dense"}, {"config", {{"units", 3}, {"name", "proj"}}}}}}}},
      {{"class_name", "LayerNormalization"}, {"config", Json::object()}},
      {{"class_name", "GlobalAveragePooling1D"}, {"config", Json::object()}},
  });
  auto model = Sequential::from_config({{"layers", layers}}, builtins());
  model->build({4}, 2);
  const Tensor ids = {{3.f, 0.f, 0.f, 0.f}};
  const Tensor& y = model->forward(ids, false);
  CHECK(y.shape()[1] == 3);
  std::vector<std::string> names;
  for (const Weight* w : model->weights()) names.push_back(w->name);
  CHECK(names == std::vector<std::string>{"embedding/embeddings", "time_distributed/kernel", "time_distributed/bias",
                                          "layer_normalization/gamma", "layer_normalization/beta"});
  const Json config = model->get_config()["config"]["layers"][1]["config"];
  CHECK(config["layer"]["class_name"] == "Dense");
  CHECK(config["layer"]["config"]["name"] == "proj");
  CHECK(config["layer"]["config"]["units"] == 3);
  CHECK(error_of([] {
          builtins().create_layer("TimeDistributed", {{"name", "td"}, {"layer", {{"class_name", "Dense"}, {"config", Json::object()}}}});
        }).find("layer \"td\" (TimeDistributed): its layer (Dense): ") == 0);
  CHECK(error_of([] { builtins().create_layer("TimeDistributed", Json::object()); }) ==
        "TimeDistributed: needs \"layer\", the layer to apply to every step");
  CHECK(build_error("TimeDistributed", {{"layer", {{"class_name", "Dense"}, {"config", {{"units", 2}}}}}}, {3}) ==
        "layer \"l\" (TimeDistributed) expects input of shape (None, steps, ...), got (None, 3)");
}
