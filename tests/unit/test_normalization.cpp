// BatchNormalization against loops written here and against torch.nn.BatchNorm2d.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <deque>
#include <filesystem>

#include <plugfit/plugfit.hpp>
#include <plugfit/registry.hpp>
#include <plugfit/testing.hpp>

#include "builtins/builtins.hpp"
#include "layers/build_context.hpp"
#include "resume_support.hpp"
#include "test_support.hpp"

using namespace plugfit;
using namespace plugfit::test;

namespace {

// A layer built alone, its weights in one buffer, in declaration order.
struct Built {
  std::unique_ptr<Layer> layer;
  std::deque<Weight> weights;
  std::vector<float> values, grads;
  Rng rng{3};
  SampleStreams samples{rng};
  Built(const Json& config, const Shape& input_shape, bool frozen = false) {
    layer = builtins().create_layer("BatchNormalization", config);
    layer->set_name("bn");
    WeightCollector ctx(weights, "bn", rng, samples, !frozen);
    layer->build(input_shape, ctx);
    std::size_t total = 0;
    for (auto& w : weights) total += w.size;
    values.assign(total, 0.f);
    grads.assign(total, 0.f);
    std::size_t offset = 0;
    for (auto& w : weights) {
      w.bind(values.data() + offset, grads.data() + offset);
      w.initializer.fill(w.value_data, w.shape, rng);
      offset += w.size;
    }
  }
  Weight& weight(const std::string& name) {
    for (auto& w : weights)
      if (w.name == "bn/" + name) return w;
    FAIL("no weight " << name);
    throw 0;
  }
  void set(const std::string& name, std::initializer_list<float> v) { std::copy(v.begin(), v.end(), weight(name).value_data); }
};


// Channel of flat index i for a channels_last tensor with c channels.
std::size_t last_channel(std::size_t i, std::size_t c) { return i % c; }


}  // namespace

TEST_CASE("BatchNormalization inference: gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta") {
  Built bn({{"epsilon", 0.01}}, {2, 2, 3});
  bn.set("gamma", {0.5f, 2.f, -1.f});
  bn.set("beta", {0.1f, 0.f, 3.f});
  bn.set("moving_mean", {1.f, -2.f, 0.5f});
  bn.set("moving_variance", {4.f, 0.25f, 1.f});
  const Tensor x = ramp({2, 2, 2, 3});
  const std::vector<float> before = bn.values;
  const Tensor y = bn.layer->forward(x, false);
  const float g[] = {0.5f, 2.f, -1.f}, b[] = {0.1f, 0.f, 3.f}, m[] = {1.f, -2.f, 0.5f}, v[] = {4.f, 0.25f, 1.f};
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t c = last_channel(i, 3);
    CHECK(y.data()[i] == doctest::Approx(g[c] * (x.data()[i] - m[c]) / std::sqrt(v[c] + 0.01f) + b[c]).epsilon(1e-5));
  }
  CHECK(bn.values == before);  // inference leaves the moving statistics alone
}

TEST_CASE("BatchNormalization training: batch statistics over every axis but the last, and Keras's moving update") {
  for (const Shape& shape : {Shape{3}, Shape{2, 2, 3}}) {
    CAPTURE(shape_str(shape));
    Built bn({{"momentum", 0.9}}, shape);
    bn.set("gamma", {0.5f, 2.f, -1.f});
    bn.set("beta", {0.1f, 0.f, 3.f});
    bn.set("moving_mean", {1.f, -2.f, 0.5f});
    bn.set("moving_variance", {4.f, 0.25f, 1.f});
    Shape full{4};
    full.insert(full.end(), shape.begin(), shape.end());
    const Tensor x = ramp(full);
    const Tensor y = bn.layer->forward(x, true);
    const float g[] = {0.5f, 2.f, -1.f}, b[] = {0.1f, 0.f, 3.f}, m0[] = {1.f, -2.f, 0.5f}, v0[] = {4.f, 0.25f, 1.f};
    for (std::size_t c = 0; c < 3; ++c) {
      double sum = 0, n = 0;
      for (std::size_t i = c; i < x.size(); i += 3) sum += x.data()[i], ++n;
      const double mean = sum / n;
      double sq = 0;
      for (std::size_t i = c; i < x.size(); i += 3) sq += std::pow(x.data()[i] - mean, 2);
      const double var = sq / n;  // biased, as Keras
      for (std::size_t i = c; i < x.size(); i += 3)
        CHECK(y.data()[i] == doctest::Approx(g[c] * (x.data()[i] - mean) / std::sqrt(var + 1e-3) + b[c]).epsilon(1e-5));
      CHECK(bn.weight("moving_mean").value_data[c] == doctest::Approx(m0[c] * 0.9 + mean * 0.1).epsilon(1e-6));
      CHECK(bn.weight("moving_variance").value_data[c] == doctest::Approx(v0[c] * 0.9 + var * 0.1).epsilon(1e-6));
    }
  }
}

TEST_CASE("BatchNormalization with axis 1 matches torch.nn.BatchNorm2d (momentum 0.01, eps 1e-3) on NCHW") {
  // /usr/bin/python3: x as ramp(), weight [0.5, 1.5, -1], bias [0.1, -0.2, 0.3], train(); torch's
  // running_var is unbiased, so the expected moving variance converts it to Keras's biased one.
  Built bn({{"axis", 1}}, {3, 2, 2});
  bn.set("gamma", {0.5f, 1.5f, -1.f});
  bn.set("beta", {0.1f, -0.2f, 0.3f});
  const Tensor y = bn.layer->forward(ramp({2, 3, 2, 2}), true);
  const float torch_y[] = {-0.4338474f, 0.12877789f, 0.51702118f, 0.63851482f, 1.790467f,   -1.2880614f,
                           -1.5738803f, -1.234701f,  1.9931411f,  -0.95772749f, 1.1264349f, -0.87159705f,
                           0.44171047f, 0.32535404f, 0.12262139f, -0.94015253f, -1.737941f, -0.67922926f,
                           0.82274252f, 2.3006036f,  0.12331998f, -0.44337115f, 0.18592745f, 1.2438728f};
  for (std::size_t i = 0; i < 24; ++i) CHECK(y.data()[i] == doctest::Approx(torch_y[i]).epsilon(1e-5));
  const float torch_mean[] = {0.027826497f, 0.010885204f, 0.027955387f};
  const float biased_var[] = {1.057914f, 1.0770977f, 0.99994516f};
  for (std::size_t c = 0; c < 3; ++c) {
    CHECK(bn.weight("moving_mean").value_data[c] == doctest::Approx(torch_mean[c]).epsilon(1e-5));
    CHECK(bn.weight("moving_variance").value_data[c] == doctest::Approx(biased_var[c]).epsilon(1e-5));
  }
}

TEST_CASE("BatchNormalization passes the gradient check in training mode (gamma, beta, input)") {
  auto check = [](const Json& config, const Shape& shape, std::size_t batch) {
    auto layer = builtins().create_layer("BatchNormalization", config);
    testing::GradientCheckOptions options;
    options.batch = batch;
    const auto result = testing::check_layer_gradients(*layer, shape, options);
    INFO(config.dump() << " " << shape_str(shape) << "\n" << result.report);
    CHECK(result.passed);
    CHECK(result.input_error < 1e-3);
  };
  check(Json::object(), {4}, 5);
  check(Json::object(), {3, 2, 2}, 2);
  check({{"axis", 1}}, {2, 3, 2}, 2);
  check({{"axis", 2}}, {2, 3, 2}, 2);
  check({{"center", false}, {"scale", false}}, {3}, 4);
  // Inference mode needs a positive moving variance, which the check's random weights do not keep:
  // the layer is affine there, checked by the inference test's exact values.
}

TEST_CASE("BatchNormalization declares gamma, beta trainable and the moving statistics non-trainable") {
  Built bn(Json::object(), {5});
  REQUIRE(bn.weights.size() == 4);
  CHECK(bn.weights[0].name == "bn/gamma");
  CHECK(bn.weights[1].name == "bn/beta");
  CHECK(bn.weights[2].name == "bn/moving_mean");
  CHECK(bn.weights[3].name == "bn/moving_variance");
  CHECK(bn.weights[0].trainable);
  CHECK(bn.weights[1].trainable);
  CHECK_FALSE(bn.weights[2].trainable);
  CHECK_FALSE(bn.weights[3].trainable);
  CHECK(bn.values == std::vector<float>{1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1});
  Built plain({{"center", false}, {"scale", false}}, {5});
  CHECK(plain.weights.size() == 2);
}

TEST_CASE("a frozen BatchNormalization normalizes with its moving statistics in training, as Keras 3") {
  Built bn(Json::object(), {2}, /*frozen=*/true);
  bn.set("moving_mean", {1.f, 2.f});
  bn.set("moving_variance", {4.f, 9.f});
  const Tensor x = ramp({3, 2});
  const Tensor y = bn.layer->forward(x, true);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float m = i % 2 == 0 ? 1.f : 2.f, v = i % 2 == 0 ? 4.f : 9.f;
    CHECK(y.data()[i] == doctest::Approx((x.data()[i] - m) / std::sqrt(v + 1e-3f)));
  }
  CHECK(bn.weight("moving_mean").value_data[0] == 1.f);
}

TEST_CASE("BatchNormalization's bad options and axes are one sentence naming the layer") {
  CHECK(error_of([] { builtins().create_layer("BatchNormalization", {{"epsilon", -1e-3}}); }) ==
        "BatchNormalization: \"epsilon\" must be a non-negative number, got -0.001");
  CHECK(error_of([] { builtins().create_layer("BatchNormalization", {{"momentum", 1.5}}); }) ==
        "BatchNormalization: \"momentum\" must be in [0, 1], got 1.5");
  CHECK(error_of([] { builtins().create_layer("BatchNormalization", {{"renorm", true}}); }).find("\"renorm\" is not supported") !=
        std::string::npos);
  CHECK(error_of([] { builtins().create_layer("BatchNormalization", {{"gamma_regularizer", "l2"}}); }) ==
        "BatchNormalization: the option \"gamma_regularizer\" is not supported by plugfit (use null)");
  auto build_error = [](int axis, const Shape& shape) {
    return error_of([&] {
      Built bn({{"axis", axis}}, shape);
    });
  };
  CHECK(error_of([] { builtins().create_layer("BatchNormalization", {{"axis", {1, 2}}}); }) ==
        "BatchNormalization: \"axis\" must be one integer (plugfit normalizes along one axis), got [1,2]");
  CHECK(error_of([] { builtins().create_layer("BatchNormalization", {{"virtual_batch_size", 8}}); }) ==
        "BatchNormalization: the option \"virtual_batch_size\" is not supported by plugfit (use null)");
  CHECK(build_error(0, {3}) == "layer \"bn\" (BatchNormalization): axis 0 is the batch axis for input (None, 3)");
  CHECK(build_error(2, {3}) == "layer \"bn\" (BatchNormalization): axis 2 is outside the input's rank 2 for input (None, 3)");
  CHECK(build_error(-3, {3}) == "layer \"bn\" (BatchNormalization): axis -3 is outside the input's rank 2 for input (None, 3)");
}

TEST_CASE("BatchNormalization's get_config round-trips with Keras's names") {
  const Json config = {{"axis", 1}, {"momentum", 0.9}, {"epsilon", 1e-5}, {"center", false},
                       {"gamma_initializer", "glorot_uniform"}, {"synchronized", false}};
  auto layer = builtins().create_layer("BatchNormalization", config);
  Json out = layer->get_config();
  CHECK(out["axis"] == 1);
  CHECK(out["momentum"] == 0.9);
  CHECK(out["epsilon"] == 1e-5);
  CHECK(out["center"] == false);
  CHECK(out["scale"] == true);
  out.erase("name");
  auto again = builtins().create_layer("BatchNormalization", out);
  Json twice = again->get_config();
  twice.erase("name");
  CHECK(twice == out);
  // tf.keras 2 files write the axis as the list it built, and "fused".
  auto keras2 = builtins().create_layer("BatchNormalization", {{"axis", {3}}, {"fused", true}, {"renorm", false}});
  CHECK(keras2->get_config()["axis"] == 3);
}

TEST_CASE("a model with BatchNormalization resumes bit for bit, moving statistics included") {
  const Dataset data = load_dataset("synthetic:samples=240,features=4,classes=3,seed=5,labels=linear");
  auto make = [] {
    Sequential model({Input({4}), layer("Dense", {{"units", 8}}), layer("BatchNormalization", Json::object()),
                      layer("Activation", {{"activation", "relu"}}), layer("Dense", {{"units", 3}, {"activation", "softmax"}})});
    model.compile({.optimizer = {{"class_name", "Adam"}, {"config", {{"learning_rate", 0.02}}}},
                   .loss = "sparse_categorical_crossentropy",
                   .metrics = {"accuracy"}});
    return model;
  };
  auto [straight, resumed] = test::straight_and_resumed(make, data);
  const Weight* moving = nullptr;
  for (const Weight* w : straight.weights())
    if (w->name == "batch_normalization/moving_mean") moving = w;
  REQUIRE(moving != nullptr);
  CHECK(moving->value_data[0] != 0.f);  // training moved it
  const Tensor a = straight.predict(data, 64), b = resumed.predict(data, 64);
  CHECK(plugfit::test::same_memory(a.data(), b.data(), a.size() * sizeof(float)));
}
