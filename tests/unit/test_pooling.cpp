// MaxPooling2D, AveragePooling2D and the global poolings against hand-worked cases and a naive
// reference written here from TensorFlow's rules, their gradients, errors and configs.
#include <algorithm>
#include <cmath>
#include <limits>

#include "image_layer_support.hpp"

using namespace plugfit;
using namespace plugfit::test;

namespace {

// Pooling of x (N, H, W, C) by explicit loops over each window in padded coordinates:
// "same" gives ceil(in / stride) outputs and the padding's odd half at the bottom/right;
// average counts only real inputs.
Tensor reference_pool(const Tensor& x, bool max, std::size_t ph, std::size_t pw, std::size_t sh, std::size_t sw,
                      bool same) {
  const auto& s = x.shape();
  const long H = static_cast<long>(s[1]), W = static_cast<long>(s[2]);
  auto outputs = [&](long in, long pool, long stride) { return same ? (in + stride - 1) / stride : (in - pool) / stride + 1; };
  const long OH = outputs(H, static_cast<long>(ph), static_cast<long>(sh));
  const long OW = outputs(W, static_cast<long>(pw), static_cast<long>(sw));
  const long pad_top = same ? std::max<long>((OH - 1) * static_cast<long>(sh) + static_cast<long>(ph) - H, 0) / 2 : 0;
  const long pad_left = same ? std::max<long>((OW - 1) * static_cast<long>(sw) + static_cast<long>(pw) - W, 0) / 2 : 0;
  Tensor out = Tensor::from_shape({s[0], static_cast<std::size_t>(OH), static_cast<std::size_t>(OW), s[3]});
  for (std::size_t n = 0; n < s[0]; ++n)
    for (long oh = 0; oh < OH; ++oh)
      for (long ow = 0; ow < OW; ++ow)
        for (std::size_t c = 0; c < s[3]; ++c) {
          double acc = max ? -std::numeric_limits<double>::infinity() : 0.0;
          int count = 0;
          for (long kh = 0; kh < static_cast<long>(ph); ++kh)
            for (long kw = 0; kw < static_cast<long>(pw); ++kw) {
              const long h = oh * static_cast<long>(sh) + kh - pad_top, w = ow * static_cast<long>(sw) + kw - pad_left;
              if (h < 0 || h >= H || w < 0 || w >= W) continue;
              const double v = x(n, static_cast<std::size_t>(h), static_cast<std::size_t>(w), c);
              acc = max ? std::max(acc, v) : acc + v;
              ++count;
            }
          out(n, static_cast<std::size_t>(oh), static_cast<std::size_t>(ow), c) =
              static_cast<float>(max ? acc : acc / count);
        }
  return out;
}

Json pool_config(std::size_t ph, std::size_t pw, std::size_t sh, std::size_t sw, bool same) {
  return {{"pool_size", {ph, pw}}, {"strides", {sh, sw}}, {"padding", same ? "same" : "valid"}};
}

}  // namespace

TEST_CASE("MaxPooling2D and AveragePooling2D on a hand-worked 4x4 image") {
  const Tensor x = tensor_of({1, 4, 4, 1}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
  BuiltLayer max_pool("MaxPooling2D", Json::object(), {4, 4, 1});
  CHECK(max_pool.output_shape == Shape{2, 2, 1});
  check_close(max_pool.forward(x), tensor_of({1, 2, 2, 1}, {6, 8, 14, 16}));
  BuiltLayer average("AveragePooling2D", Json::object(), {4, 4, 1});
  check_close(average.forward(x), tensor_of({1, 2, 2, 1}, {3.5f, 5.5f, 11.5f, 13.5f}));
}

TEST_CASE("\"same\" padding on an odd image pads the bottom and right, and average divides by real inputs") {
  // 3x3, pool 2, stride 2: windows rows {0,1},{2} and columns {0,1},{2}.
  const Tensor x = tensor_of({1, 3, 3, 1}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  BuiltLayer max_pool("MaxPooling2D", {{"padding", "same"}}, {3, 3, 1});
  CHECK(max_pool.output_shape == Shape{2, 2, 1});
  check_close(max_pool.forward(x), tensor_of({1, 2, 2, 1}, {5, 6, 8, 9}));
  BuiltLayer average("AveragePooling2D", {{"padding", "same"}}, {3, 3, 1});
  check_close(average.forward(x), tensor_of({1, 2, 2, 1}, {3, 4.5f, 7.5f, 9}));
}

TEST_CASE("pooling equals the naive reference: odd and even sizes, strides != pool_size, both paddings") {
  struct Case {
    std::size_t h, w, ph, pw, sh, sw;
    bool same;
  };
  const Case cases[] = {{5, 5, 3, 3, 2, 2, true},  {6, 6, 3, 3, 2, 2, true},  {4, 4, 2, 2, 1, 1, true},
                        {7, 6, 3, 2, 2, 1, false}, {7, 5, 2, 3, 3, 2, true},  {6, 7, 3, 3, 1, 2, false},
                        {5, 4, 1, 1, 2, 2, false}, {4, 6, 4, 2, 1, 3, true}};
  for (const Case& k : cases)
    for (const char* kind : {"MaxPooling2D", "AveragePooling2D"}) {
      CAPTURE(kind);
      CAPTURE(k.h);
      CAPTURE(k.w);
      CAPTURE(k.ph);
      CAPTURE(k.sh);
      CAPTURE(k.same);
      const Tensor x = distinct_tensor({2, k.h, k.w, 3}, 11);
      BuiltLayer layer(kind, pool_config(k.ph, k.pw, k.sh, k.sw, k.same), {k.h, k.w, 3});
      const Tensor want = reference_pool(x, std::string(kind) == "MaxPooling2D", k.ph, k.pw, k.sh, k.sw, k.same);
      check_close(layer.forward(x), want);
      // channels_first computes the same numbers in its own layout.
      Json first = pool_config(k.ph, k.pw, k.sh, k.sw, k.same);
      first["data_format"] = "channels_first";
      BuiltLayer transposed(kind, first, {3, k.h, k.w});
      check_close(transposed.forward(to_channels_first(x)), to_channels_first(want));
    }
}

TEST_CASE("strides default to pool_size, and null strides too (Keras 3)") {
  BuiltLayer layer("MaxPooling2D", {{"pool_size", 3}}, {9, 6, 1});
  CHECK(layer.output_shape == Shape{3, 2, 1});
  CHECK(layer.layer->get_config()["strides"] == Json::array({3, 3}));
  BuiltLayer explicit_null("AveragePooling2D", {{"pool_size", {2, 3}}, {"strides", nullptr}}, {4, 6, 1});
  CHECK(explicit_null.output_shape == Shape{2, 2, 1});
}

TEST_CASE("MaxPooling2D routes each gradient to its window's first maximum") {
  // Ties everywhere: every gradient goes to the window's top-left input.
  const Tensor x = tensor_of({1, 2, 4, 1}, {1, 1, 3, 3, 1, 1, 3, 3});
  BuiltLayer layer("MaxPooling2D", Json::object(), {2, 4, 1});
  layer.forward(x, true);
  const Tensor dy = tensor_of({1, 1, 2, 1}, {10, 20});
  check_close(layer.layer->backward(dy), tensor_of({1, 2, 4, 1}, {10, 0, 20, 0, 0, 0, 0, 0}));
  // Overlapping windows (stride 1) add their gradients at a shared maximum.
  const Tensor y = tensor_of({1, 1, 3, 1}, {1, 5, 2});
  BuiltLayer overlapping("MaxPooling2D", {{"pool_size", {1, 2}}, {"strides", 1}}, {1, 3, 1});
  check_close(overlapping.forward(y, true), tensor_of({1, 1, 2, 1}, {5, 5}));
  check_close(overlapping.layer->backward(tensor_of({1, 1, 2, 1}, {1, 2})), tensor_of({1, 1, 3, 1}, {0, 3, 0}));
}

TEST_CASE("pooling passes the gradient check") {
  const Json configs[] = {Json::object(), pool_config(3, 3, 2, 2, true), pool_config(2, 3, 1, 2, false),
                          {{"pool_size", 2}, {"padding", "same"}, {"data_format", "channels_first"}}};
  const Shape shapes[] = {{4, 4, 2}, {5, 6, 2}, {5, 7, 2}, {2, 5, 3}};
  for (std::size_t i = 0; i < 4; ++i) {
    check_gradients("AveragePooling2D", configs[i], shapes[i]);
    // Max pooling at inputs without near-ties, so that no difference step moves an argmax.
    check_gradients_at_distinct_inputs("MaxPooling2D", configs[i], shapes[i]);
    check_gradients_at_distinct_inputs("AveragePooling2D", configs[i], shapes[i]);
  }
}

TEST_CASE("GlobalAveragePooling2D and GlobalMaxPooling2D, with and without keepdims") {
  // Two channels: c0 = 1..6, c1 = 6..1 over a 2x3 image.
  const Tensor x = tensor_of({1, 2, 3, 2}, {1, 6, 2, 5, 3, 4, 4, 3, 5, 2, 6, 1});
  BuiltLayer average("GlobalAveragePooling2D", Json::object(), {2, 3, 2});
  CHECK(average.output_shape == Shape{2});
  check_close(average.forward(x), tensor_of({1, 2}, {3.5f, 3.5f}));
  BuiltLayer max_pool("GlobalMaxPooling2D", {{"keepdims", true}}, {2, 3, 2});
  CHECK(max_pool.output_shape == Shape{1, 1, 2});
  check_close(max_pool.forward(x, true), tensor_of({1, 1, 1, 2}, {6, 6}));
  check_close(max_pool.layer->backward(tensor_of({1, 1, 1, 2}, {1, 2})),
              tensor_of({1, 2, 3, 2}, {0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0}));
  BuiltLayer first("GlobalMaxPooling2D", {{"keepdims", true}, {"data_format", "channels_first"}}, {2, 2, 3});
  CHECK(first.output_shape == Shape{2, 1, 1});
  check_close(first.forward(to_channels_first(x)), tensor_of({1, 2, 1, 1}, {6, 6}));
  BuiltLayer average_first("GlobalAveragePooling2D", {{"data_format", "channels_first"}}, {2, 2, 3});
  check_close(average_first.forward(to_channels_first(x)), tensor_of({1, 2}, {3.5f, 3.5f}));
}

TEST_CASE("global pooling passes the gradient check") {
  for (const char* kind : {"GlobalMaxPooling2D", "GlobalAveragePooling2D"}) {
    CAPTURE(kind);
    check_gradients_at_distinct_inputs(kind, Json::object(), {3, 4, 2});
    check_gradients_at_distinct_inputs(kind, {{"keepdims", true}, {"data_format", "channels_first"}}, {2, 3, 4});
  }
  check_gradients("GlobalAveragePooling2D", Json::object(), {3, 4, 2});
  check_gradients("GlobalAveragePooling2D", {{"keepdims", true}, {"data_format", "channels_first"}}, {2, 3, 4});
}

TEST_CASE("pooling's bad input is one sentence naming the layer and the shapes") {
  CHECK_THROWS_WITH_AS(BuiltLayer("MaxPooling2D", {{"pool_size", 3}}, {2, 5, 1}),
                       "layer \"layer_under_test\" (MaxPooling2D): pool_size (3, 3) is larger than its input "
                       "(None, 2, 5, 1) with padding \"valid\"; use padding \"same\" or a smaller pool",
                       InputError);
  CHECK_NOTHROW(BuiltLayer("MaxPooling2D", {{"pool_size", 3}, {"padding", "same"}}, {2, 5, 1}));
  CHECK_THROWS_WITH_AS(BuiltLayer("AveragePooling2D", Json::object(), {16}),
                       "layer \"layer_under_test\" (AveragePooling2D) expects input of shape (None, height, width, "
                       "channels), got (None, 16)",
                       InputError);
  CHECK_THROWS_WITH_AS(BuiltLayer("GlobalMaxPooling2D", {{"data_format", "channels_first"}}, {4, 4}),
                       "layer \"layer_under_test\" (GlobalMaxPooling2D) expects input of shape (None, channels, "
                       "height, width), got (None, 4, 4)",
                       InputError);
  CHECK_THROWS_WITH_AS(builtins().create_layer("MaxPooling2D", {{"name", "pool"}, {"pool_size", {2, -1}}}),
                       "layer \"pool\" (MaxPooling2D): pool_size must hold integers of at least 1, got [2,-1]",
                       InputError);
  CHECK_THROWS_WITH_AS(builtins().create_layer("AveragePooling2D", {{"strides", 0}}),
                       "AveragePooling2D: strides must hold integers of at least 1, got 0", InputError);
  CHECK_THROWS_WITH_AS(builtins().create_layer("MaxPooling2D", {{"padding", "full"}}),
                       "MaxPooling2D: padding must be \"valid\" or \"same\", got \"full\"", InputError);
  CHECK_THROWS_WITH_AS(builtins().create_layer("GlobalAveragePooling2D", {{"data_format", "channels_middle"}}),
                       "GlobalAveragePooling2D: data_format must be \"channels_last\" or \"channels_first\", got "
                       "\"channels_middle\"",
                       InputError);
}

TEST_CASE("pooling configs round-trip with Keras's names") {
  check_config_round_trip("MaxPooling2D", pool_config(3, 2, 1, 2, true), {5, 6, 2});
  check_config_round_trip("AveragePooling2D", {{"pool_size", 2}, {"data_format", "channels_first"}}, {2, 4, 4});
  check_config_round_trip("GlobalMaxPooling2D", {{"keepdims", true}}, {3, 3, 2});
  check_config_round_trip("GlobalAveragePooling2D", Json::object(), {3, 3, 2});
  BuiltLayer layer("MaxPooling2D", {{"pool_size", 3}, {"strides", {1, 2}}, {"padding", "same"}}, {5, 5, 1});
  CHECK(layer.layer->get_config() == Json{{"name", "layer_under_test"},
                                          {"pool_size", {3, 3}},
                                          {"padding", "same"},
                                          {"strides", {1, 2}},
                                          {"data_format", "channels_last"}});
}
