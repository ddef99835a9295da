// A layer built alone, with weights drawn from a normal distribution, and the checks the layers'
// tests share (reference comparison, gradient check, build errors).
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <plugfit/testing.hpp>

#include "layers/build_context.hpp"
#include "test_support.hpp"

namespace plugfit::test {

struct BuiltLayer {
  std::unique_ptr<Layer> layer;
  std::deque<Weight> weights;
  std::vector<float> values, grads;
  Rng rng{11};
  SampleStreams samples{rng};
  Shape output_shape;

  BuiltLayer(const std::string& class_name, const Json& config, const Shape& input_shape) {
    layer = builtins().create_layer(class_name, config);
    layer->set_name("l");
    WeightCollector ctx(weights, "l", rng, samples);
    output_shape = layer->build(input_shape, ctx);
    std::size_t total = 0;
    for (auto& w : weights) total += w.size;
    values.resize(total), grads.resize(total);
    std::size_t offset = 0;
    for (auto& w : weights) {
      w.bind(values.data() + offset, grads.data() + offset);
      for (std::size_t i = 0; i < w.size; ++i) w.value_data[i] = static_cast<float>(rng.normal());
      offset += w.size;
    }
  }
  // nullptr when the layer has no such weight (a bias with use_bias false).
  const Weight* find_weight(const std::string& name) const {
    for (const auto& w : weights)
      if (w.name == "l/" + name) return &w;
    return nullptr;
  }
  const Weight& weight(const std::string& name) const {
    if (const Weight* w = find_weight(name)) return *w;
    FAIL("no weight " << name);
    return weights.front();
  }
};

inline Tensor random_tensor(const Shape& shape, std::uint64_t seed) {
  Rng rng(seed);
  Tensor t = Tensor::from_shape(shape);
  for (auto& v : t) v = static_cast<float>(rng.normal());
  return t;
}

inline void check_close(const Tensor& got, const Tensor& want, double tolerance = 1e-4) {
  REQUIRE(shape_of(got) == shape_of(want));
  double worst = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, double(std::fabs(got.data()[i] - want.data()[i])));
  CHECK(worst < tolerance);
}

inline void check_gradients(const std::string& class_name, const Json& config, const Shape& input_shape) {
  auto layer = builtins().create_layer(class_name, config);
  const auto result = testing::check_layer_gradients(*layer, input_shape);
  INFO(class_name << " " << config.dump() << "\n" << result.report);
  CHECK(result.passed);
}

inline std::string build_error(const std::string& class_name, const Json& config, const Shape& input_shape) {
  return error_of([&] { BuiltLayer built(class_name, config, input_shape); });
}

}  // namespace plugfit::test
