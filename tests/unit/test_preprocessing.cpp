// Keras 3's preprocessing layers against loops written here and torch.nn.functional.interpolate.
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

struct Built {
  std::unique_ptr<Layer> layer;
  std::deque<Weight> weights;
  std::vector<float> values, grads;
  Rng rng;
  SampleStreams samples{rng};
  Shape output_shape;
  Built(const std::string& class_name, const Json& config, const Shape& input_shape, std::uint64_t seed = 3) : rng(seed) {
    layer = builtins().create_layer(class_name, config);
    layer->set_name("pre");
    WeightCollector ctx(weights, "pre", rng, samples);
    output_shape = layer->build(input_shape, ctx);
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
};



void check_gradients(const std::string& class_name, const Json& config, const Shape& shape, bool training = true) {
  auto layer = builtins().create_layer(class_name, config);
  testing::GradientCheckOptions options;
  options.batch = 2;
  options.training = training;
  const auto result = testing::check_layer_gradients(*layer, shape, options);
  INFO(class_name << " " << config.dump() << "\n" << result.report);
  CHECK(result.passed);
}

Json round_trip(const std::string& class_name, const Json& config) {
  Json out = builtins().create_layer(class_name, config)->get_config();
  out.erase("name");
  Json again = builtins().create_layer(class_name, out)->get_config();
  again.erase("name");
  CHECK(again == out);
  return out;
}

}  // namespace

TEST_CASE("Rescaling: x * scale + offset, its gradient and config") {
  Built r("Rescaling", {{"scale", 1.0 / 255}, {"offset", -1.0}}, {2, 2, 1});
  const Tensor x = ramp({2, 2, 2, 1});
  const Tensor y = r.layer->forward(x, false);
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(y.data()[i] == doctest::Approx(x.data()[i] / 255.0 - 1.0));
  check_gradients("Rescaling", {{"scale", 0.5}, {"offset", 2}}, {3});
  CHECK(round_trip("Rescaling", {{"scale", 0.5}})["offset"] == 0.0);
  CHECK(error_of([] { builtins().create_layer("Rescaling", Json::object()); }).find("scale") != std::string::npos);
}

TEST_CASE("Normalization with given mean and variance, per channel and global") {
  Built per_channel("Normalization", {{"mean", {1.0, -2.0}}, {"variance", {4.0, 0.0}}}, {3, 2});
  CHECK(per_channel.weights.empty());
  const Tensor x = ramp({2, 3, 2});
  const Tensor y = per_channel.layer->forward(x, false);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const bool first = i % 2 == 0;
    // Keras: divide by max(sqrt(variance), epsilon 1e-7)
    CHECK(y.data()[i] == doctest::Approx(first ? (x.data()[i] - 1.0) / 2.0 : (x.data()[i] + 2.0) / 1e-7));
  }
  Built global("Normalization", {{"axis", nullptr}, {"mean", 3.0}, {"variance", 2.0}}, {3});
  CHECK(global.layer->forward(ramp({1, 3}), false)(0, 2) == doctest::Approx((ramp({1, 3})(0, 2) - 3.0) / std::sqrt(2.0)));
  Tensor three = Tensor::from_shape({3, 1});
  Built column("Normalization", {{"mean", 3.0}, {"variance", 2.0}}, {1});
  three(0, 0) = 1.f, three(1, 0) = 2.f, three(2, 0) = 3.f;
  const Tensor z = column.layer->forward(three, false);  // Keras's docstring example
  CHECK(z(0, 0) == doctest::Approx(-1.4142135));
  CHECK(z(1, 0) == doctest::Approx(-0.70710677));
  CHECK(z(2, 0) == doctest::Approx(0.0));
  Built inverted("Normalization", {{"mean", 3.0}, {"variance", 4.0}, {"invert", true}}, {1});
  CHECK(inverted.layer->forward(three, false)(0, 0) == doctest::Approx(5.0));
  check_gradients("Normalization", {{"mean", {1.0, 2.0}}, {"variance", {4.0, 0.5}}}, {3, 2});
  check_gradients("Normalization", {{"mean", 1.0}, {"variance", 4.0}, {"invert", true}}, {3});
  round_trip("Normalization", {{"axis", {1, 2}}, {"mean", 0.5}, {"variance", 2.0}});
}

TEST_CASE("Normalization without values keeps Keras's non-trainable mean, variance and count, used as weights") {
  Built n("Normalization", {{"axis", {1, -1}}}, {2, 3, 2});
  REQUIRE(n.weights.size() == 3);
  CHECK(n.weights[0].name == "pre/mean");
  CHECK(n.weights[0].shape == Shape{2, 2});
  CHECK(n.weights[1].name == "pre/variance");
  CHECK(n.weights[2].name == "pre/count");
  CHECK(n.weights[2].shape.empty());
  for (const auto& w : n.weights) CHECK_FALSE(w.trainable);
  const float mean[] = {1, 2, 3, 4}, variance[] = {1, 4, 9, 16};
  std::copy(mean, mean + 4, n.weights[0].value_data);
  std::copy(variance, variance + 4, n.weights[1].value_data);
  const Tensor x = ramp({2, 2, 3, 2});
  const Tensor y = n.layer->forward(x, true);
  for (std::size_t b = 0; b < 2; ++b)
    for (std::size_t i = 0; i < 2; ++i)
      for (std::size_t j = 0; j < 3; ++j)
        for (std::size_t k = 0; k < 2; ++k) {
          const std::size_t p = i * 2 + k;  // kept axes 1 and 3
          CHECK(y(b, i, j, k) == doctest::Approx((x(b, i, j, k) - mean[p]) / std::sqrt(variance[p])));
        }
}

TEST_CASE("Normalization's bad options are one sentence") {
  CHECK(error_of([] { builtins().create_layer("Normalization", {{"mean", 1.0}}); }) ==
        "Normalization: give both \"mean\" and \"variance\", or neither");
  CHECK(error_of([] { builtins().create_layer("Normalization", {{"mean", {1.0, 2.0}}, {"variance", 1.0}}); }) ==
        "Normalization: \"mean\" has shape (2,) but \"variance\" ()");
  CHECK(error_of([] { Built n("Normalization", {{"axis", 0}}, {3}); }) ==
        "layer \"pre\" (Normalization): axis 0 is the batch axis for input (None, 3)");
  CHECK(error_of([] { Built n("Normalization", {{"mean", {1.0, 2.0}}, {"variance", {1.0, 1.0}}}, {3}); }) ==
        "layer \"pre\" (Normalization): \"mean\" holds 2 values but the kept axes have shape (3,)");
}

TEST_CASE("Resizing matches torch's interpolate (bilinear without antialias, nearest-exact), both data formats") {
  const Tensor x = ramp({1, 3, 4, 2});  // (N, H, W, C)
  auto expect = [&](const Json& config, const Shape& out_shape, std::initializer_list<float> torch_values) {
    Built r("Resizing", config, {3, 4, 2});
    CHECK(r.output_shape == out_shape);
    const Tensor y = r.layer->forward(x, false);
    REQUIRE(y.size() == torch_values.size());
    std::size_t i = 0;
    for (float v : torch_values) CHECK(y.data()[i++] == doctest::Approx(v).epsilon(1e-5));
  };
  expect({{"height", 5}, {"width", 3}}, {5, 3, 2},
         {0.82605833f, 3.3754823f, 4.9806571f, 2.2686388f, -0.511446f, -0.96485645f, 0.99576569f, 3.6397369f,
          4.2953453f, 2.9455433f, 0.96423978f, -1.1947902f, 1.2503265f, 4.0361185f, 3.2673781f, 3.9608998f,
          3.177768f, -1.5396906f, -0.1585491f, 2.2881126f, 3.1287587f, 4.4481449f, 3.0229669f, 0.66474074f,
          -1.0977993f, 1.1227756f, 3.0363455f, 4.772975f, 2.9197662f, 2.1343613f});
  expect({{"height", 5}, {"width", 3}, {"interpolation", "nearest"}}, {5, 3, 2},
         {0.f, 2.932653f, 5.0049644f, -1.0523497f, -1.6147273f, -0.94735783f, 0.f, 2.932653f, 5.0049644f,
          -1.0523497f, -1.6147273f, -0.94735783f, 1.1062001f, 4.0504417f, 4.5637965f, 3.9572952f, 2.9005625f,
          -2.6390872f, -1.9375331f, 0.14558867f, 2.971822f, 3.5372405f, 2.9093552f, 1.8537858f, -1.9375331f,
          0.14558867f, 2.971822f, 3.5372405f, 2.9093552f, 1.8537858f});
  expect({{"height", 2}, {"width", 7}}, {2, 7, 2},
         {0.27655002f, 3.2121f, 1.6813544f, 3.916117f, 3.9290411f, 5.0425439f, 4.5523372f, 2.6917038f, 4.510345f,
          0.087893344f, 1.435729f, -0.80945057f, -0.48590484f, -1.3702903f, -1.1765999f, 1.121802f, 0.25018308f,
          2.6846077f, 2.5330355f, 5.1850972f, 3.0941038f, 4.5699558f, 3.3367686f, 3.4342763f, 3.0723922f,
          1.7704551f, 2.9071572f, 0.73056757f});
  // channels_first gives the same images, transposed.
  Built last("Resizing", {{"height", 5}, {"width", 3}}, {3, 4, 2});
  Built first("Resizing", {{"height", 5}, {"width", 3}, {"data_format", "channels_first"}}, {2, 3, 4});
  CHECK(first.output_shape == Shape{2, 5, 3});
  Tensor xt_first = Tensor::from_shape({1, 2, 3, 4});
  for (std::size_t h = 0; h < 3; ++h)
    for (std::size_t w = 0; w < 4; ++w)
      for (std::size_t c = 0; c < 2; ++c) xt_first(0, c, h, w) = x(0, h, w, c);
  const Tensor a = last.layer->forward(x, false), b = first.layer->forward(xt_first, false);
  for (std::size_t h = 0; h < 5; ++h)
    for (std::size_t w = 0; w < 3; ++w)
      for (std::size_t c = 0; c < 2; ++c) CHECK(a(0, h, w, c) == b(0, c, h, w));
  check_gradients("Resizing", {{"height", 5}, {"width", 3}}, {3, 4, 2});
  check_gradients("Resizing", {{"height", 2}, {"width", 2}, {"interpolation", "nearest"}}, {3, 4, 1});
}

TEST_CASE("Resizing with crop_to_aspect_ratio resizes the centered window of the target's ratio") {
  // A 4x6 image to 2x2: the centered 4x4 window (columns 1..4), then halved.
  const Tensor x = ramp({1, 4, 6, 1});
  Built cropped("Resizing", {{"height", 2}, {"width", 2}, {"crop_to_aspect_ratio", true}}, {4, 6, 1});
  const Tensor y = cropped.layer->forward(x, false);
  for (std::size_t r = 0; r < 2; ++r)
    for (std::size_t c = 0; c < 2; ++c) {
      // Half-pixel centers at 1.5 scale 2: the mean of the 2x2 block.
      const double block = (x(0, 2 * r, 1 + 2 * c, 0) + x(0, 2 * r, 2 + 2 * c, 0) + x(0, 2 * r + 1, 1 + 2 * c, 0) +
                            x(0, 2 * r + 1, 2 + 2 * c, 0)) / 4.0;
      CHECK(y(0, r, c, 0) == doctest::Approx(block));
    }
  CHECK(error_of([] { builtins().create_layer("Resizing", {{"height", 2}, {"width", 2}, {"interpolation", "bicubic"}}); }) ==
        "Resizing: interpolation \"bicubic\" is not supported (use \"bilinear\" or \"nearest\")");
  CHECK(error_of([] { Built r("Resizing", {{"height", 2}, {"width", 2}}, {4, 6}); }) ==
        "layer \"pre\" (Resizing) expects input of shape (None, height, width, channels), got (None, 4, 6)");
  round_trip("Resizing", {{"height", 2}, {"width", 3}, {"interpolation", "nearest"}});
}

TEST_CASE("RandomFlip: identity in inference; in training each image one of its flips, fixed by the seed") {
  const Tensor x = ramp({8, 2, 3, 1});
  Built a("RandomFlip", Json::object(), {2, 3, 1}, 11), b("RandomFlip", Json::object(), {2, 3, 1}, 11),
      other("RandomFlip", Json::object(), {2, 3, 1}, 12);
  CHECK(&a.layer->forward(x, false) == &x);
  const Tensor ya = a.layer->forward(x, true);
  CHECK(ya == b.layer->forward(x, true));
  CHECK(ya != other.layer->forward(x, true));
  std::set<int> kinds;
  for (std::size_t n = 0; n < 8; ++n) {
    int kind = -1;
    for (int k = 0; k < 4 && kind < 0; ++k) {
      bool same = true;
      for (std::size_t r = 0; r < 2; ++r)
        for (std::size_t c = 0; c < 3; ++c)
          same &= ya(n, r, c, 0) == x(n, k & 2 ? 1 - r : r, k & 1 ? 2 - c : c, 0);
      if (same) kind = k;
    }
    CHECK(kind >= 0);
    kinds.insert(kind);
  }
  CHECK(kinds.size() > 1);
  Built horizontal("RandomFlip", {{"mode", "horizontal"}}, {2, 3, 1});
  const Tensor h = horizontal.layer->forward(x, true);
  for (std::size_t n = 0; n < 8; ++n) CHECK((h(n, 0, 0, 0) == x(n, 0, 0, 0) || h(n, 0, 0, 0) == x(n, 0, 2, 0)));
  check_gradients("RandomFlip", Json::object(), {3, 2, 2});
  check_gradients("RandomFlip", {{"mode", "vertical"}, {"data_format", "channels_first"}}, {2, 3, 2});
  CHECK(error_of([] { builtins().create_layer("RandomFlip", {{"mode", "diagonal"}}); }) ==
        "RandomFlip: \"mode\" must be \"horizontal\", \"vertical\" or \"horizontal_and_vertical\", got \"diagonal\"");
  CHECK(error_of([] { builtins().create_layer("RandomFlip", {{"seed", 4}}); }) ==
        "RandomFlip: the option \"seed\" is not supported; the run's seed fixes the augmentation");
  round_trip("RandomFlip", {{"mode", "horizontal"}});
}

TEST_CASE("RandomContrast: identity in inference; (x - mean) * f + mean per image and channel, clipped; fixed by the seed") {
  const Tensor x = ramp({4, 2, 3, 2});
  Built a("RandomContrast", {{"factor", 0.5}, {"value_range", {-2, 4}}}, {2, 3, 2}, 5);
  Built b("RandomContrast", {{"factor", 0.5}, {"value_range", {-2, 4}}}, {2, 3, 2}, 5);
  CHECK(&a.layer->forward(x, false) == &x);
  const Tensor y = a.layer->forward(x, true);
  CHECK(y == b.layer->forward(x, true));
  // One uniform per image from its sample's stream (SampleStreams, rng.hpp).
  Rng model_rng(5);
  const std::uint64_t key = model_rng.next();
  for (std::size_t n = 0; n < 4; ++n) {
    const double f = 0.5 + 1.0 * Rng(derive_seed(key, n)).uniform();  // uniform in [1 - 0.5, 1 + 0.5]
    for (std::size_t c = 0; c < 2; ++c) {
      double mean = 0;
      for (std::size_t i = 0; i < 2; ++i)
        for (std::size_t j = 0; j < 3; ++j) mean += x(n, i, j, c) / 6.0;
      for (std::size_t i = 0; i < 2; ++i)
        for (std::size_t j = 0; j < 3; ++j)
          CHECK(y(n, i, j, c) == doctest::Approx(std::clamp((x(n, i, j, c) - mean) * f + mean, -2.0, 4.0)).epsilon(1e-5));
    }
  }
  check_gradients("RandomContrast", {{"factor", {0.2, 0.6}}, {"value_range", {-100, 100}}}, {2, 3, 2});
  CHECK(error_of([] { builtins().create_layer("RandomContrast", {{"factor", 1.5}}); }) ==
        "RandomContrast: \"factor\" must lie in [0, 1], got 1.5");
  round_trip("RandomContrast", {{"factor", {0.1, 0.3}}});
}

TEST_CASE("a model with augmentation layers resumes bit for bit: the generator they draw from is in the checkpoint") {
  Dataset data;
  data.x = Tensor::from_shape({96, 4, 4, 1});
  data.y = Tensor::from_shape({96});
  Rng draw(4);
  for (auto& v : data.x) v = float(draw.uniform() * 255.0);
  for (std::size_t i = 0; i < 96; ++i) data.y(i) = float(i % 3);
  auto make = [] {
    Sequential model({Input({4, 4, 1}), layer("RandomFlip", Json::object()), layer("RandomRotation", {{"factor", 0.1}}),
                      layer("RandomZoom", {{"height_factor", 0.1}}), layer("RandomTranslation", {{"height_factor", 0.1}, {"width_factor", 0.1}}),
                      layer("RandomContrast", {{"factor", 0.2}}), layer("Rescaling", {{"scale", 1.0 / 255}}),
                      layer("Flatten", Json::object()), layer("Dense", {{"units", 3}, {"activation", "softmax"}})});
    model.compile({.optimizer = {{"class_name", "Adam"}, {"config", {{"learning_rate", 0.02}}}},
                   .loss = "sparse_categorical_crossentropy",
                   .metrics = {"accuracy"}});
    return model;
  };
  test::straight_and_resumed(make, data);
}
