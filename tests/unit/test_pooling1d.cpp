// The 1-D poolings against loops written here, their gradients, the mask GlobalAveragePooling1D
// consumes (through a model: Embedding(mask_zero) -> GlobalAveragePooling1D), bad inputs.
#include <doctest/doctest.h>

#include <algorithm>
#include <limits>

#include "layer_fixture.hpp"

using namespace plugfit;
using namespace plugfit::test;

namespace {

// (n, t, c) pooling; same padding as TensorFlow (the odd padded step at the end); average over real steps.
Tensor naive_pool(const Tensor& x, long pool, long stride, bool same, bool max) {
  const long n = long(x.shape()[0]), t = long(x.shape()[1]), c = long(x.shape()[2]);
  const long out = same ? (t + stride - 1) / stride : (t - pool) / stride + 1;
  const long pad = same ? std::max(0L, (out - 1) * stride + pool - t) / 2 : 0;
  Tensor y = xt::zeros<float>({std::size_t(n), std::size_t(out), std::size_t(c)});
  for (long b = 0; b < n; ++b)
    for (long o = 0; o < out; ++o)
      for (long ch = 0; ch < c; ++ch) {
        double acc = max ? -std::numeric_limits<double>::infinity() : 0.0;
        long real = 0;
        for (long i = 0; i < pool; ++i) {
          const long at = o * stride + i - pad;
          if (at < 0 || at >= t) continue;
          ++real;
          acc = max ? std::max(acc, double(x(b, at, ch))) : acc + x(b, at, ch);
        }
        y(b, o, ch) = float(max ? acc : acc / double(real));
      }
  return y;
}

Tensor transposed(const Tensor& x) {  // (n, a, b) -> (n, b, a)
  Tensor y = Tensor::from_shape({x.shape()[0], x.shape()[2], x.shape()[1]});
  for (std::size_t n = 0; n < x.shape()[0]; ++n)
    for (std::size_t i = 0; i < x.shape()[1]; ++i)
      for (std::size_t j = 0; j < x.shape()[2]; ++j) y(n, j, i) = x(n, i, j);
  return y;
}

}  // namespace

TEST_CASE("MaxPooling1D and AveragePooling1D equal the loops") {
  struct Case {
    long pool, stride;
    bool same;
  };
  for (const Case& c : {Case{2, 2, false}, Case{3, 1, false}, Case{3, 2, true}, Case{2, 3, true}, Case{4, 4, true}}) {
    for (const char* kind : {"MaxPooling1D", "AveragePooling1D"}) {
      const Json config = {{"pool_size", c.pool}, {"strides", c.stride}, {"padding", c.same ? "same" : "valid"}};
      INFO(kind << " " << config.dump());
      const Tensor x = random_tensor({2, 7, 3}, 4);
      const Tensor want = naive_pool(x, c.pool, c.stride, c.same, std::string(kind) == "MaxPooling1D");
      BuiltLayer last(kind, config, {7, 3});
      check_close(last.layer->forward(x, false), want);
      Json first_config = config;
      first_config["data_format"] = "channels_first";
      BuiltLayer first(kind, first_config, {3, 7});
      check_close(first.layer->forward(transposed(x), false), transposed(want));
    }
  }
  BuiltLayer defaults("MaxPooling1D", Json::object(), {6, 2});  // pool 2, strides = pool_size
  CHECK(defaults.output_shape == Shape{3, 2});
}

TEST_CASE("GlobalMaxPooling1D and GlobalAveragePooling1D equal the loops, keepdims in both layouts") {
  const Tensor x = random_tensor({3, 5, 2}, 8);
  Tensor max = xt::amax(x, {1}), mean = xt::mean(x, {1});
  BuiltLayer gmax("GlobalMaxPooling1D", Json::object(), {5, 2});
  check_close(gmax.layer->forward(x, false), max);
  BuiltLayer gavg("GlobalAveragePooling1D", Json::object(), {5, 2});
  check_close(gavg.layer->forward(x, false), mean);
  BuiltLayer kept("GlobalAveragePooling1D", {{"keepdims", true}}, {5, 2});
  CHECK(kept.output_shape == Shape{1, 2});
  BuiltLayer first("GlobalMaxPooling1D", {{"keepdims", true}, {"data_format", "channels_first"}}, {2, 5});
  CHECK(first.output_shape == Shape{2, 1});
  const Tensor& y = first.layer->forward(transposed(x), false);
  for (std::size_t b = 0; b < 3; ++b)
    for (std::size_t c = 0; c < 2; ++c) CHECK(y(b, c, 0) == max(b, c));
}

TEST_CASE("the 1-D poolings' gradients match central differences") {
  check_gradients("MaxPooling1D", {{"pool_size", 3}, {"strides", 2}, {"padding", "same"}}, {7, 2});
  check_gradients("AveragePooling1D", {{"pool_size", 3}, {"strides", 2}, {"padding", "same"}}, {7, 2});
  check_gradients("AveragePooling1D", {{"data_format", "channels_first"}}, {2, 6});
  check_gradients("GlobalMaxPooling1D", Json::object(), {5, 3});
  check_gradients("GlobalAveragePooling1D", {{"keepdims", true}}, {5, 3});
}

TEST_CASE("GlobalAveragePooling1D averages only the steps a mask keeps") {
  BuiltLayer pool("GlobalAveragePooling1D", Json::object(), {4, 2});
  const Tensor x = random_tensor({2, 4, 2}, 9);
  Tensor mask = {{1.f, 1.f, 0.f, 0.f}, {1.f, 0.f, 0.f, 0.f}};
  pool.layer->set_input_mask(&mask);
  const Tensor& y = pool.layer->forward(x, true);
  CHECK(pool.layer->output_mask() == nullptr);
  for (std::size_t c = 0; c < 2; ++c) {
    CHECK(y(0, c) == doctest::Approx((x(0, 0, c) + x(0, 1, c)) / 2));
    CHECK(y(1, c) == doctest::Approx(x(1, 0, c)));
  }
  const Tensor dy = {{1.f, 2.f}, {3.f, 4.f}};
  const Tensor& dx = pool.layer->backward(dy);
  CHECK(dx(0, 1, 1) == doctest::Approx(1.f));
  CHECK(dx(0, 2, 1) == 0.f);
  CHECK(dx(1, 0, 0) == doctest::Approx(3.f));
}

TEST_CASE("Embedding(mask_zero) -> GlobalAveragePooling1D in a model averages only the real tokens") {
  const Json layers = Json::array({
      {{"class_name", "Embedding"}, {"config", {{"input_dim", 10}, {"output_dim", 3}, {"mask_zero", true}}}},
      {{"class_name", "GlobalAveragePooling1D"}, {"config", Json::object()}},
  });
  auto model = Sequential::from_config({{"layers", layers}}, builtins());
  model->build({5}, 7);
  const Tensor ids = {{4.f, 2.f, 0.f, 0.f, 0.f}, {7.f, 7.f, 7.f, 1.f, 0.f}};
  const Tensor& y = model->forward(ids, false);
  const Weight* table = nullptr;
  for (const Weight* w : model->weights())
    if (w->name == "embedding/embeddings") table = w;
  REQUIRE(table);
  auto row = [&](int id, std::size_t c) { return table->value_data[id * 3 + c]; };
  for (std::size_t c = 0; c < 3; ++c) {
    CHECK(y(0, c) == doctest::Approx((row(4, c) + row(2, c)) / 2));
    CHECK(y(1, c) == doctest::Approx((3 * row(7, c) + row(1, c)) / 4));
  }
}

TEST_CASE("the 1-D poolings refuse bad inputs and a mask with one sentence") {
  CHECK(build_error("MaxPooling1D", {{"pool_size", 5}}, {4, 2}) ==
        "layer \"l\" (MaxPooling1D): pool_size 5 is longer than its input's 4 steps with padding \"valid\"; use "
        "padding \"same\" or a smaller pool");
  CHECK(build_error("AveragePooling1D", Json::object(), {4, 4, 2}) ==
        "layer \"l\" (AveragePooling1D) expects input of shape (None, steps, channels), got (None, 4, 4, 2)");
  CHECK(build_error("GlobalMaxPooling1D", Json::object(), {4}).find("expects input of shape") != std::string::npos);
  const Json layers = Json::array({
      {{"class_name", "Embedding"}, {"config", {{"input_dim", 10}, {"output_dim", 3}, {"mask_zero", true}}}},
      {{"class_name", "MaxPooling1D"}, {"config", Json::object()}},
  });
  auto model = Sequential::from_config({{"layers", layers}}, builtins());
  model->build({4}, 7);
  const Tensor ids = {{1.f, 2.f, 0.f, 0.f}};
  CHECK(error_of([&] { model->forward(ids, false); }).find(
            "layer \"max_pooling1d\" (MaxPooling1D) cannot take the mask that layer \"embedding\" (Embedding)") == 0);
}
