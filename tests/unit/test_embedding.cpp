// Embedding and Masking: lookups, masks, the scattered gradient (against central differences
// written here), the token-id errors, Keras's defaults, the mask refused by Flatten in a model.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "layer_fixture.hpp"
#include "layers/embedding.hpp"

using namespace plugfit;
using namespace plugfit::test;

TEST_CASE("Embedding looks rows up and mask_zero masks the id 0") {
  BuiltLayer built("Embedding", {{"input_dim", 6}, {"output_dim", 3}, {"mask_zero", true}}, {4});
  CHECK(built.output_shape == Shape{4, 3});
  CHECK(built.weight("embeddings").shape == Shape{6, 3});
  const Tensor ids = {{1.f, 5.f, 0.f, 2.f}, {0.f, 0.f, 3.f, 3.f}};
  const Tensor& y = built.layer->forward(ids, false);
  const float* table = built.weight("embeddings").value_data;
  for (std::size_t b = 0; b < 2; ++b)
    for (std::size_t t = 0; t < 4; ++t)
      for (std::size_t c = 0; c < 3; ++c) CHECK(y(b, t, c) == table[std::size_t(ids(b, t)) * 3 + c]);
  const Tensor* mask = built.layer->output_mask();
  REQUIRE(mask);
  const Tensor want = {{1.f, 1.f, 0.f, 1.f}, {0.f, 0.f, 1.f, 1.f}};
  CHECK(*mask == want);
  BuiltLayer plain("Embedding", {{"input_dim", 6}, {"output_dim", 3}}, {4});
  plain.layer->forward(ids, false);
  CHECK(plain.layer->output_mask() == nullptr);
}

TEST_CASE("Embedding's gradient is dy scattered into the rows used, the other rows zero, batch after batch") {
  BuiltLayer built("Embedding", {{"input_dim", 5}, {"output_dim", 2}}, {3});
  const Weight& table = built.weight("embeddings");
  const Tensor r = random_tensor({2, 3, 2}, 3);  // L = sum(y * r)
  auto loss = [&](const Tensor& ids) {
    const Tensor& y = built.layer->forward(ids, true);
    double sum = 0.0;
    for (std::size_t i = 0; i < y.size(); ++i) sum += double(y.data()[i]) * r.data()[i];
    return sum;
  };
  std::fill(built.grads.begin(), built.grads.end(), 7.f);  // stale values the first backward must clear
  for (const Tensor& ids : {Tensor{{1.f, 1.f, 4.f}, {0.f, 2.f, 1.f}}, Tensor{{3.f, 3.f, 3.f}, {0.f, 0.f, 3.f}}}) {
    loss(ids);
    built.layer->backward(r);
    const std::vector<float> analytic(table.grad_data, table.grad_data + table.size);
    for (std::size_t i = 0; i < table.size; ++i) {
      const float saved = table.value_data[i];
      table.value_data[i] = saved + 1e-2f;
      const double up = loss(ids);
      table.value_data[i] = saved - 1e-2f;
      const double down = loss(ids);
      table.value_data[i] = saved;
      CHECK(analytic[i] == doctest::Approx((up - down) / 2e-2).epsilon(1e-3));
    }
  }
}

TEST_CASE("Embedding names the sample and the id it cannot look up") {
  BuiltLayer built("Embedding", {{"input_dim", 1000}, {"output_dim", 4}}, {2});
  built.layer->set_name("embedding");
  auto error = [&](float bad) {
    Tensor ids = xt::zeros<float>({5, 2});
    ids(3, 1) = bad;
    return error_of([&] { built.layer->forward(ids, false); });
  };
  CHECK(error(1200.f) == "layer \"embedding\" (Embedding): sample 3 of the batch holds token id 1200, outside input_dim 1000");
  CHECK(error(-1.f) == "layer \"embedding\" (Embedding): sample 3 of the batch holds token id -1, outside input_dim 1000");
  CHECK(error(2.5f) == "layer \"embedding\" (Embedding): sample 3 of the batch holds token id 2.5, outside input_dim 1000");
  CHECK(error(std::nanf("")).find("holds token id nan") != std::string::npos);
  CHECK(build_error("Embedding", {{"input_dim", 10}, {"output_dim", 4}}, {2, 3}) ==
        "layer \"l\" (Embedding) expects input of shape (None, steps) of token ids, got (None, 2, 3)");
  CHECK(build_error("Embedding", {{"input_dim", 10}, {"output_dim", 4}, {"input_length", 5}}, {3}) ==
        "layer \"l\" (Embedding): \"input_length\" is 5 but the input has 3 steps");
}

TEST_CASE("Embedding checks a whole data set's ids, naming the sample and step in the data") {
  BuiltLayer built("Embedding", {{"input_dim", 1000}, {"output_dim", 4}}, {3});
  built.layer->set_name("embedding");
  const auto& embedding = dynamic_cast<const Embedding&>(*built.layer);
  Tensor ids = xt::zeros<float>({6, 3});
  ids(4, 2) = 999.f;  // the largest id it takes
  embedding.check_ids(ids, "the training data npy:x.npy");
  ids(5, 1) = 1000.f;
  CHECK(error_of([&] { embedding.check_ids(ids, "the training data npy:x.npy"); }) ==
        "the training data npy:x.npy: sample 5 holds token id 1000 at step 1, outside input_dim 1000 of layer "
        "\"embedding\" (Embedding)");
  ids(5, 1) = 0.5f;
  CHECK(error_of([&] { embedding.check_ids(ids, "data"); }) ==
        "data: sample 5 holds token id 0.5 at step 1, outside input_dim 1000 of layer \"embedding\" (Embedding)");
  // Above 2^24 float32 ids would round onto their neighbours: refused when the layer is made.
  const Json huge = {{"name", "embedding"}, {"input_dim", 16777217}, {"output_dim", 1}};
  CHECK(error_of([&] { builtins().create_layer("Embedding", huge); }) ==
        "layer \"embedding\" (Embedding): \"input_dim\" 16777217 is above 16777216 (2^24), the most token ids "
        "float32 inputs hold exactly");
}

TEST_CASE("Embedding's defaults, config round trip and place in a model") {
  auto layer = builtins().create_layer("Embedding", {{"input_dim", 10}, {"output_dim", 4}, {"input_length", 3}});
  const Json config = layer->get_config();
  CHECK(config["embeddings_initializer"]["class_name"] == "RandomUniform");
  CHECK(config["embeddings_initializer"]["config"]["minval"] == -0.05);
  CHECK(config["mask_zero"] == false);
  Json again = config;
  again.erase("name");
  CHECK(builtins().create_layer("Embedding", again)->get_config() == config);
  // In a model: input_dim is the vocabulary (not an input shape), input_length the steps; ids get no gradient.
  const Json layers = Json::array({
      {{"class_name", "Embedding"}, {"config", {{"input_dim", 10}, {"output_dim", 4}, {"input_length", 3}}}},
      {{"class_name", "Flatten"}, {"config", Json::object()}},
      {{"class_name", "Dense"}, {"config", {{"units", 1}}}},
  });
  auto model = Sequential::from_config({{"layers", layers}}, builtins());
  REQUIRE(model->declared_input_shape());
  CHECK(*model->declared_input_shape() == Shape{3});
  model->build({3}, 1);
  for (const Weight* w : model->weights())
    if (w->name == "embedding/embeddings")
      for (std::size_t i = 0; i < w->size; ++i) CHECK(std::fabs(w->value_data[i]) <= 0.05f);
  const Tensor ids = {{1.f, 2.f, 9.f}};
  CHECK(model->forward(ids, false).shape()[1] == 1);
  // A bad id in a model is bad input (InputError), not a runtime failure.
  const Tensor bad = {{1.f, 2.f, 10.f}};
  CHECK(error_of([&] { model->forward(bad, false); }) ==
        "layer \"embedding\" (Embedding): sample 0 of the batch holds token id 10, outside input_dim 10");
}

TEST_CASE("a model refuses Embedding(mask_zero) -> Flatten with one sentence naming both layers") {
  const Json layers = Json::array({
      {{"class_name", "Embedding"}, {"config", {{"input_dim", 10}, {"output_dim", 4}, {"mask_zero", true}}}},
      {{"class_name", "Flatten"}, {"config", Json::object()}},
  });
  auto model = Sequential::from_config({{"layers", layers}}, builtins());
  model->build({3}, 1);
  const Tensor ids = {{1.f, 2.f, 0.f}};
  CHECK(error_of([&] { model->forward(ids, false); }) ==
        "layer \"flatten\" (Flatten) cannot take the mask that layer \"embedding\" (Embedding) passes on; put a layer "
        "that consumes it (an RNN, GlobalAveragePooling1D) before it");
}

TEST_CASE("Masking zeroes the steps equal to mask_value and masks them") {
  BuiltLayer built("Masking", {{"mask_value", -1.0}}, {3, 2});
  const Tensor x = {{{1.f, -1.f}, {-1.f, -1.f}, {0.f, 0.f}}};
  const Tensor& y = built.layer->forward(x, true);
  const Tensor want_y = {{{1.f, -1.f}, {0.f, 0.f}, {0.f, 0.f}}};
  CHECK(y == want_y);
  const Tensor want_mask = {{1.f, 0.f, 1.f}};
  REQUIRE(built.layer->output_mask());
  CHECK(*built.layer->output_mask() == want_mask);
  const Tensor dy = {{{1.f, 2.f}, {3.f, 4.f}, {5.f, 6.f}}};
  const Tensor want_dx = {{{1.f, 2.f}, {0.f, 0.f}, {5.f, 6.f}}};
  CHECK(built.layer->backward(dy) == want_dx);
  CHECK(builtins().create_layer("Masking", Json::object())->get_config()["mask_value"] == 0.0);
  CHECK(build_error("Masking", Json::object(), {4}) ==
        "layer \"l\" (Masking) expects input of shape (None, steps, features), got (None, 4)");
}

TEST_CASE("a Keras model JSON keeps Embedding's output_dim (Keras 1's Dense output_dim is renamed, not this one)") {
  const Json keras = {{"keras_version", "2.15.0"},
                      {"class_name", "Sequential"},
                      {"config",
                       {{"layers", Json::array({{{"class_name", "Embedding"},
                                                 {"config", {{"name", "embedding"}, {"input_dim", 50}, {"output_dim", 8},
                                                             {"batch_input_shape", {nullptr, 6}}, {"input_length", 6}}}},
                                                {{"class_name", "GlobalAveragePooling1D"}, {"config", Json::object()}}})}}}};
  auto model = Sequential::from_config(keras, builtins());
  model->build({6}, 1);
  CHECK(model->output_shape() == Shape{8});
}
