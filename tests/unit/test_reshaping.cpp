// Reshape, ZeroPadding2D, Cropping2D, UpSampling2D, SpatialDropout2D and Flatten of images:
// hand-worked values, naive references, gradients, errors, configs and dropout's determinism.
#include <cmath>

#include "image_layer_support.hpp"

using namespace plugfit;
using namespace plugfit::test;

TEST_CASE("Reshape lays the sample out row-major in target_shape and infers one -1") {
  const Tensor x = distinct_tensor({2, 3, 4}, 1);
  BuiltLayer layer("Reshape", {{"target_shape", {2, -1, 2}}}, {3, 4});
  CHECK(layer.output_shape == Shape{2, 3, 2});
  const Tensor& y = layer.forward(x);
  CHECK(y.shape() == std::vector<std::size_t>{2, 2, 3, 2});
  CHECK(std::equal(x.begin(), x.end(), y.begin()));
  const Tensor& dx = layer.layer->backward(y);
  CHECK(dx == x);
  check_gradients("Reshape", {{"target_shape", {6, 2}}}, {3, 4});
}

TEST_CASE("Reshape's bad target_shape is one sentence") {
  CHECK_THROWS_WITH_AS(BuiltLayer("Reshape", {{"target_shape", {5, 2}}}, {3, 4}),
                       "layer \"layer_under_test\" (Reshape): the total size of the tensor must be unchanged, got "
                       "input (None, 3, 4) (12 values) and target_shape (5, 2)",
                       InputError);
  CHECK_THROWS_WITH_AS(BuiltLayer("Reshape", {{"target_shape", {5, -1}}}, {3, 4}),
                       "layer \"layer_under_test\" (Reshape): the total size of the tensor must be unchanged, got "
                       "input (None, 3, 4) (12 values) and target_shape (5, -1)",
                       InputError);
  CHECK_THROWS_WITH_AS(builtins().create_layer("Reshape", {{"target_shape", {-1, -1}}}),
                       "Reshape: there must be at most one unknown dimension (-1) in target_shape, got [-1,-1]",
                       InputError);
  CHECK_THROWS_WITH_AS(builtins().create_layer("Reshape", {{"target_shape", {0, 3}}}),
                       "Reshape: target_shape must hold positive dimensions and at most one -1, got [0,3]", InputError);
}

TEST_CASE("ZeroPadding2D pads with zeros in each of its three forms") {
  const Tensor x = tensor_of({1, 2, 2, 1}, {1, 2, 3, 4});
  BuiltLayer symmetric("ZeroPadding2D", Json::object(), {2, 2, 1});  // Keras's default: 1
  CHECK(symmetric.output_shape == Shape{4, 4, 1});
  check_close(symmetric.forward(x), tensor_of({1, 4, 4, 1}, {0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0}));
  BuiltLayer pair("ZeroPadding2D", {{"padding", {0, 1}}}, {2, 2, 1});
  check_close(pair.forward(x), tensor_of({1, 2, 4, 1}, {0, 1, 2, 0, 0, 3, 4, 0}));
  BuiltLayer sides("ZeroPadding2D", {{"padding", {{1, 0}, {0, 2}}}}, {2, 2, 1});
  check_close(sides.forward(x), tensor_of({1, 3, 4, 1}, {0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0}));
  check_close(sides.layer->backward(distinct_tensor({1, 3, 4, 1}, 2)), [&] {
    const Tensor d = distinct_tensor({1, 3, 4, 1}, 2);
    return tensor_of({1, 2, 2, 1}, {d(0, 1, 0, 0), d(0, 1, 1, 0), d(0, 2, 0, 0), d(0, 2, 1, 0)});
  }());
  BuiltLayer first("ZeroPadding2D", {{"padding", {{1, 0}, {0, 2}}}, {"data_format", "channels_first"}}, {1, 2, 2});
  check_close(first.forward(to_channels_first(x)), to_channels_first(sides.forward(x)));
}

TEST_CASE("Cropping2D keeps the inner block") {
  const Tensor x = distinct_tensor({2, 5, 4, 3}, 4);
  BuiltLayer layer("Cropping2D", {{"cropping", {{1, 2}, {0, 1}}}}, {5, 4, 3});
  CHECK(layer.output_shape == Shape{2, 3, 3});
  Tensor want = Tensor::from_shape({2, 2, 3, 3});
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t h = 0; h < 2; ++h)
      for (std::size_t w = 0; w < 3; ++w)
        for (std::size_t c = 0; c < 3; ++c) want(n, h, w, c) = x(n, h + 1, w, c);
  check_close(layer.forward(x), want);
  BuiltLayer symmetric("Cropping2D", {{"cropping", 1}}, {5, 4, 3});
  CHECK(symmetric.output_shape == Shape{3, 2, 3});
  BuiltLayer first("Cropping2D", {{"cropping", {{1, 2}, {0, 1}}}, {"data_format", "channels_first"}}, {3, 5, 4});
  check_close(first.forward(to_channels_first(x)), to_channels_first(want));
}

TEST_CASE("a crop that leaves nothing and a negative padding are one sentence") {
  CHECK_THROWS_WITH_AS(BuiltLayer("Cropping2D", {{"cropping", {{2, 1}, {0, 0}}}}, {3, 4, 1}),
                       "layer \"layer_under_test\" (Cropping2D): cropping [[2,1],[0,0]] leaves nothing of its input "
                       "(None, 3, 4, 1)",
                       InputError);
  CHECK_THROWS_WITH_AS(builtins().create_layer("ZeroPadding2D", {{"name", "pad"}, {"padding", {{1, -1}, {0, 0}}}}),
                       "layer \"pad\" (ZeroPadding2D): padding must hold integers of at least 0, got [1,-1]",
                       InputError);
  CHECK_THROWS_WITH_AS(BuiltLayer("ZeroPadding2D", Json::object(), {4, 4}),
                       "layer \"layer_under_test\" (ZeroPadding2D) expects input of shape (None, height, width, "
                       "channels), got (None, 4, 4)",
                       InputError);
}

TEST_CASE("UpSampling2D nearest repeats rows and columns") {
  const Tensor x = tensor_of({1, 2, 2, 1}, {1, 2, 3, 4});
  BuiltLayer layer("UpSampling2D", {{"size", {1, 2}}}, {2, 2, 1});
  CHECK(layer.output_shape == Shape{2, 4, 1});
  check_close(layer.forward(x), tensor_of({1, 2, 4, 1}, {1, 1, 2, 2, 3, 3, 4, 4}));
  check_close(layer.layer->backward(tensor_of({1, 2, 4, 1}, {1, 2, 3, 4, 5, 6, 7, 8})),
              tensor_of({1, 2, 2, 1}, {3, 7, 11, 15}));
  BuiltLayer square("UpSampling2D", Json::object(), {2, 2, 1});  // Keras's default size 2
  check_close(square.forward(x), tensor_of({1, 4, 4, 1}, {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));
}

TEST_CASE("UpSampling2D bilinear follows the half-pixel rule (values from PyTorch, align_corners=False)") {
  const Tensor x = tensor_of({1, 2, 3, 1}, {1, 2, 3, 4, 5, 6});
  BuiltLayer layer("UpSampling2D", {{"size", 2}, {"interpolation", "Bilinear"}}, {2, 3, 1});  // any case, as Keras
  check_close(layer.forward(x),
              tensor_of({1, 4, 6, 1}, {1.0f,  1.25f, 1.75f, 2.25f, 2.75f, 3.0f,  1.75f, 2.0f,  2.5f, 3.0f, 3.5f, 3.75f,
                                       3.25f, 3.5f,  4.0f,  4.5f,  5.0f,  5.25f, 4.0f,  4.25f, 4.75f, 5.25f, 5.75f, 6.0f}));
  BuiltLayer wide("UpSampling2D", {{"size", {1, 3}}, {"interpolation", "bilinear"}}, {2, 3, 1});
  check_close(wide.forward(x), tensor_of({1, 2, 9, 1}, {1.0f, 1.0f, 4.f / 3, 5.f / 3, 2.0f, 7.f / 3, 8.f / 3, 3.0f, 3.0f,
                                                        4.0f, 4.0f, 13.f / 3, 14.f / 3, 5.0f, 16.f / 3, 17.f / 3, 6.0f,
                                                        6.0f}));
  // Several channels, channels_first: each channel interpolated alone.
  const Tensor multi = distinct_tensor({2, 3, 4, 2}, 5);
  BuiltLayer last("UpSampling2D", {{"size", {3, 2}}, {"interpolation", "bilinear"}}, {3, 4, 2});
  BuiltLayer first("UpSampling2D", {{"size", {3, 2}}, {"interpolation", "bilinear"}, {"data_format", "channels_first"}},
                   {2, 3, 4});
  check_close(first.forward(to_channels_first(multi)), to_channels_first(last.forward(multi)));
  CHECK_THROWS_WITH_AS(builtins().create_layer("UpSampling2D", {{"interpolation", "bicubic"}}),
                       "UpSampling2D: interpolation must be \"nearest\" or \"bilinear\", got \"bicubic\"", InputError);
  CHECK_THROWS_WITH_AS(builtins().create_layer("UpSampling2D", {{"size", -2}}),
                       "UpSampling2D: size must hold integers of at least 1, got -2", InputError);
}

TEST_CASE("SpatialDropout2D drops whole channels, scaled, drawn from the model's generator") {
  const Tensor x = distinct_tensor({4, 3, 3, 5}, 6) + 5.f;  // every input nonzero
  BuiltLayer layer("SpatialDropout2D", {{"rate", 0.4}}, {3, 3, 5}, 21);
  const Tensor y = layer.forward(x, true);
  // The mask is one uniform per channel from each sample's stream (SampleStreams, rng.hpp).
  Rng model_rng(21);
  const std::uint64_t key = model_rng.next();
  std::size_t dropped = 0;
  for (std::size_t n = 0; n < 4; ++n) {
    Rng rng(derive_seed(key, n));
    for (std::size_t c = 0; c < 5; ++c) {
      const float scale = rng.uniform() >= 0.4f ? 1.f / 0.6f : 0.f;
      dropped += scale == 0.f;
      for (std::size_t h = 0; h < 3; ++h)
        for (std::size_t w = 0; w < 3; ++w) CHECK(y(n, h, w, c) == doctest::Approx(x(n, h, w, c) * scale));
    }
  }
  CHECK(dropped > 0);
  CHECK(dropped < 20);
  // The same seed gives the same mask; another seed another.
  BuiltLayer same("SpatialDropout2D", {{"rate", 0.4}}, {3, 3, 5}, 21);
  CHECK(same.forward(x, true) == y);
  BuiltLayer other("SpatialDropout2D", {{"rate", 0.4}}, {3, 3, 5}, 22);
  CHECK(other.forward(x, true) != y);
  // Inference is the identity; backward applies the training mask.
  CHECK(&layer.forward(x, false) == &x);
  const Tensor again = layer.forward(x, true);
  const Tensor& dx = layer.layer->backward(Tensor(xt::ones<float>(x.shape())));
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(dx.data()[i] == doctest::Approx(again.data()[i] / x.data()[i]));
  CHECK_THROWS_WITH_AS(builtins().create_layer("SpatialDropout2D", {{"rate", -0.1}}),
                       "SpatialDropout2D: rate must be in [0, 1), got -0.1", InputError);
  CHECK_THROWS_WITH_AS(BuiltLayer("SpatialDropout2D", {{"rate", 0.1}}, {9}),
                       "layer \"layer_under_test\" (SpatialDropout2D) expects input of shape (None, height, width, "
                       "channels), got (None, 9)",
                       InputError);
}

TEST_CASE("Flatten flattens (N, H, W, C) row-major over H, W, C as Keras does") {
  const Tensor x = distinct_tensor({2, 2, 3, 2}, 8);
  BuiltLayer layer("Flatten", Json::object(), {2, 3, 2});
  CHECK(layer.output_shape == Shape{12});
  const Tensor& y = layer.forward(x);
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t h = 0; h < 2; ++h)
      for (std::size_t w = 0; w < 3; ++w)
        for (std::size_t c = 0; c < 2; ++c) CHECK(y(n, (h * 3 + w) * 2 + c) == x(n, h, w, c));
  CHECK(layer.layer->backward(y) == x);
}

TEST_CASE("the reshaping layers pass the gradient check") {
  check_gradients("ZeroPadding2D", {{"padding", {{1, 0}, {2, 1}}}}, {3, 2, 2});
  check_gradients("Cropping2D", {{"cropping", {{1, 0}, {1, 2}}}, {"data_format", "channels_first"}}, {2, 4, 5});
  check_gradients("UpSampling2D", {{"size", {2, 3}}}, {2, 3, 2});
  check_gradients("UpSampling2D", {{"size", {3, 2}}, {"interpolation", "bilinear"}}, {3, 2, 2});
  check_gradients("UpSampling2D", {{"size", 2}, {"interpolation", "bilinear"}, {"data_format", "channels_first"}},
                  {2, 3, 3});
  check_gradients("SpatialDropout2D", {{"rate", 0.5}}, {3, 3, 4});
  check_gradients("SpatialDropout2D", {{"rate", 0.5}}, {3, 3, 4}, false);
  check_gradients("Flatten", Json::object(), {3, 2, 2});
}

TEST_CASE("the reshaping configs round-trip with Keras's names") {
  check_config_round_trip("Reshape", {{"target_shape", {-1, 3}}}, {2, 3});
  check_config_round_trip("ZeroPadding2D", {{"padding", {1, 2}}}, {2, 2, 1});
  check_config_round_trip("Cropping2D", {{"cropping", {{1, 0}, {0, 1}}}, {"data_format", "channels_first"}}, {1, 3, 3});
  check_config_round_trip("UpSampling2D", {{"size", {2, 3}}, {"interpolation", "bilinear"}}, {2, 2, 1});
  check_config_round_trip("SpatialDropout2D", {{"rate", 0.25}}, {2, 2, 3});
  BuiltLayer pad("ZeroPadding2D", {{"padding", 2}}, {2, 2, 1});
  CHECK(pad.layer->get_config() ==
        Json{{"name", "layer_under_test"}, {"padding", {{2, 2}, {2, 2}}}, {"data_format", "channels_last"}});
  BuiltLayer up("UpSampling2D", Json::object(), {2, 2, 1});
  CHECK(up.layer->get_config() == Json{{"name", "layer_under_test"},
                                       {"size", {2, 2}},
                                       {"data_format", "channels_last"},
                                       {"interpolation", "nearest"}});
  BuiltLayer reshape("Reshape", {{"target_shape", {-1, 3}}}, {2, 3});
  CHECK(reshape.layer->get_config() == Json{{"name", "layer_under_test"}, {"target_shape", {-1, 3}}});
}
