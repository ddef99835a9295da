// Helpers for the tests of the image layers (test_pooling, test_reshaping): a layer built alone,
// images of known values, and the gradient check.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <deque>
#include <memory>

#include <plugfit/registry.hpp>
#include <plugfit/testing.hpp>

#include "layers/build_context.hpp"
#include "test_support.hpp"

namespace plugfit::test {

// A weightless layer built alone on an input shape.
struct BuiltLayer {
  std::unique_ptr<Layer> layer;
  std::deque<Weight> weights;
  Rng rng;
  SampleStreams samples{rng};
  Shape output_shape;

  BuiltLayer(const std::string& class_name, const Json& config, const Shape& input_shape, std::uint64_t seed = 7)
      : layer(builtins().create_layer(class_name, config)), rng(seed) {
    layer->set_name("layer_under_test");
    WeightCollector collector(weights, layer->name(), rng, samples);
    output_shape = layer->build(input_shape, collector);
  }
  const Tensor& forward(const Tensor& x, bool training = false) { return layer->forward(x, training); }
};

// A tensor of the given full shape holding values (row-major).
inline Tensor tensor_of(const Shape& shape, std::initializer_list<float> values) {
  Tensor t = Tensor::from_shape(shape);
  REQUIRE(t.size() == values.size());
  std::copy(values.begin(), values.end(), t.begin());
  return t;
}

// Distinct values in a shuffled order: a permutation of 0.1 * (0 .. n-1), minus an offset.
inline Tensor distinct_tensor(const Shape& shape, std::uint64_t seed) {
  Tensor t = Tensor::from_shape(shape);
  std::vector<float> values(t.size());
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = 0.1f * static_cast<float>(i) - 1.f;
  Rng rng(seed);
  for (std::size_t i = values.size(); i > 1; --i) std::swap(values[i - 1], values[rng.below(i)]);
  std::copy(values.begin(), values.end(), t.begin());
  return t;
}

// (N, H, W, C) -> (N, C, H, W).
inline Tensor to_channels_first(const Tensor& x) {
  const auto& s = x.shape();
  Tensor out = Tensor::from_shape({s[0], s[3], s[1], s[2]});
  for (std::size_t n = 0; n < s[0]; ++n)
    for (std::size_t h = 0; h < s[1]; ++h)
      for (std::size_t w = 0; w < s[2]; ++w)
        for (std::size_t c = 0; c < s[3]; ++c) out(n, c, h, w) = x(n, h, w, c);
  return out;
}

inline void check_close(const Tensor& got, const Tensor& want, float tolerance = 1e-5f) {
  REQUIRE(got.shape() == want.shape());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got.data()[i] == doctest::Approx(want.data()[i]).epsilon(tolerance));
  }
}

inline void check_gradients(const std::string& class_name, const Json& config, const Shape& input_shape,
                            bool training = true) {
  auto layer = builtins().create_layer(class_name, config);
  testing::GradientCheckOptions options;
  options.training = training;
  const auto result = testing::check_layer_gradients(*layer, input_shape, options);
  INFO(class_name << " " << config.dump() << "\n" << result.report);
  CHECK(result.passed);
  CHECK(result.input_error < 1e-3);
}

// backward() against central differences of L = sum(forward(x) * r) at x = distinct_tensor:
// values 0.1 apart, so a step of 0.01 never changes which input of a window is the maximum
// (check_layer_gradients draws normal inputs, whose near-ties a max may straddle).
inline void check_gradients_at_distinct_inputs(const std::string& class_name, const Json& config,
                                               const Shape& input_shape) {
  BuiltLayer built(class_name, config, input_shape);
  Shape full{3};
  full.insert(full.end(), input_shape.begin(), input_shape.end());
  Tensor x = distinct_tensor(full, 9);
  const Tensor& y0 = built.forward(x, true);
  Tensor r = Tensor::from_shape(y0.shape());
  Rng rng(4);
  for (auto& v : r) v = static_cast<float>(rng.normal());
  auto loss = [&] {
    const Tensor& y = built.forward(x, true);
    double sum = 0.0;
    for (std::size_t i = 0; i < y.size(); ++i) sum += static_cast<double>(y.data()[i]) * r.data()[i];
    return sum;
  };
  built.forward(x, true);
  const Tensor analytic = built.layer->backward(r);
  double diff = 0.0, total = 0.0;
  const float epsilon = 0.01f;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float saved = x.data()[i];
    x.data()[i] = saved + epsilon;
    const double up = loss();
    x.data()[i] = saved - epsilon;
    const double down = loss();
    x.data()[i] = saved;
    const double numeric = (up - down) / (2.0 * epsilon);
    diff += (analytic.data()[i] - numeric) * (analytic.data()[i] - numeric);
    total += (analytic.data()[i] + numeric) * (analytic.data()[i] + numeric);
  }
  INFO(class_name << " " << config.dump());
  CHECK(std::sqrt(diff) / std::sqrt(total) < 1e-4);
}

// get_config() rebuilds a layer whose get_config() is the same and whose output is the same.
inline void check_config_round_trip(const std::string& class_name, const Json& config, const Shape& input_shape) {
  BuiltLayer first(class_name, config, input_shape);
  const Json saved = first.layer->get_config();
  BuiltLayer second(class_name, saved, input_shape);
  CHECK(second.layer->get_config() == saved);
  Shape full{2};
  full.insert(full.end(), input_shape.begin(), input_shape.end());
  const Tensor x = distinct_tensor(full, 3);
  CHECK(first.forward(x) == second.forward(x));
}

}  // namespace plugfit::test
