// Conv1D against a convolution written here as loops (valid, same, causal; strides, dilation,
// groups, channels_first), central-difference gradients, bad inputs' messages, get_config.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "layer_fixture.hpp"

using namespace plugfit;
using namespace plugfit::test;

namespace {

struct Spec {
  long k, s = 1, d = 1, groups = 1, filters = 3;
  std::string padding = "valid";
  bool first = false;
};

// Keras's rule: causal pads (k - 1) * d before; same pads TensorFlow's total, the odd one after.
Tensor naive_conv1d(const Tensor& x, const Spec& sp, const float* kernel, const float* bias) {
  const long n = long(x.shape()[0]);
  const long t = long(x.shape()[sp.first ? 2 : 1]), c = long(x.shape()[sp.first ? 1 : 2]);
  const long span = (sp.k - 1) * sp.d + 1;
  long out = 0, pad = 0;
  if (sp.padding == "valid") out = (t - span) / sp.s + 1;
  if (sp.padding == "causal") pad = span - 1, out = (t + pad - span) / sp.s + 1;
  if (sp.padding == "same") out = (t + sp.s - 1) / sp.s, pad = std::max(0L, (out - 1) * sp.s + span - t) / 2;
  const std::size_t f = std::size_t(sp.filters);
  Tensor y = sp.first ? Tensor(xt::zeros<float>({std::size_t(n), f, std::size_t(out)}))
                      : Tensor(xt::zeros<float>({std::size_t(n), std::size_t(out), f}));
  const long cg = c / sp.groups, fg = sp.filters / sp.groups;
  for (long b = 0; b < n; ++b)
    for (long o = 0; o < out; ++o)
      for (long fi = 0; fi < sp.filters; ++fi) {
        double sum = bias ? bias[fi] : 0.0;
        const long g = fi / fg;
        for (long i = 0; i < sp.k; ++i)
          for (long ci = 0; ci < cg; ++ci) {
            const long at = o * sp.s + i * sp.d - pad;
            if (at < 0 || at >= t) continue;
            const long ch = g * cg + ci;
            const float v = sp.first ? x(b, ch, at) : x(b, at, ch);
            sum += double(v) * kernel[(i * cg + ci) * sp.filters + fi];
          }
        (sp.first ? y(b, fi, o) : y(b, o, fi)) = float(sum);
      }
  return y;
}

Json config_of(const Spec& sp) {
  return {{"filters", sp.filters}, {"kernel_size", sp.k},      {"strides", sp.s},
          {"dilation_rate", sp.d}, {"groups", sp.groups},      {"padding", sp.padding},
          {"data_format", sp.first ? "channels_first" : "channels_last"}};
}

}  // namespace

TEST_CASE("Conv1D equals the loops for every padding, stride, dilation, groups and layout") {
  const Spec specs[] = {
      {3},
      {3, 2},
      {2, 1, 3},
      {3, 1, 1, 1, 3, "causal"},
      {3, 1, 2, 1, 3, "causal"},
      {3, 2, 1, 1, 3, "causal"},
      {4, 1, 1, 1, 3, "same"},
      {3, 3, 1, 1, 3, "same"},
      {2, 1, 2, 1, 3, "same"},
      {3, 1, 1, 2, 4, "valid"},
      {3, 2, 1, 1, 3, "valid", true},
      {2, 1, 2, 1, 3, "causal", true},
  };
  for (const Spec& sp : specs) {
    const Json config = config_of(sp);
    INFO(config.dump());
    const Shape in = sp.first ? Shape{4, 9} : Shape{9, 4};
    BuiltLayer built("Conv1D", config, in);
    const Tensor x = random_tensor({2, in[0], in[1]}, 5);
    const Tensor& y = built.layer->forward(x, false);
    check_close(y, naive_conv1d(x, sp, built.weight("kernel").value_data, built.weight("bias").value_data));
    CHECK(shape_of(y) == Shape{2, built.output_shape[0], built.output_shape[1]});
    CHECK(built.weight("kernel").shape == Shape{std::size_t(sp.k), std::size_t(4 / sp.groups), std::size_t(sp.filters)});
  }
}

TEST_CASE("Conv1D's causal output at step t sees only steps up to t") {
  BuiltLayer built("Conv1D", {{"filters", 2}, {"kernel_size", 3}, {"padding", "causal"}, {"dilation_rate", 2}}, {8, 2});
  Tensor x = random_tensor({1, 8, 2}, 3);
  const Tensor before = built.layer->forward(x, false);
  x(0, 5, 0) += 10.f;
  const Tensor& after = built.layer->forward(x, false);
  for (std::size_t t = 0; t < 5; ++t) CHECK(after(0, t, 0) == before(0, t, 0));
  CHECK(after(0, 5, 0) != before(0, 5, 0));
}

TEST_CASE("Conv1D's gradients match central differences (causal, dilated, strided, grouped, activations)") {
  check_gradients("Conv1D", {{"filters", 3}, {"kernel_size", 3}}, {7, 2});
  check_gradients("Conv1D", {{"filters", 3}, {"kernel_size", 3}, {"padding", "causal"}, {"activation", "tanh"}}, {6, 2});
  check_gradients("Conv1D", {{"filters", 2}, {"kernel_size", 2}, {"padding", "causal"}, {"dilation_rate", 2}}, {7, 3});
  check_gradients("Conv1D", {{"filters", 2}, {"kernel_size", 3}, {"strides", 2}, {"padding", "same"}}, {7, 3});
  check_gradients("Conv1D", {{"filters", 4}, {"kernel_size", 2}, {"groups", 2}, {"use_bias", false}}, {5, 4});
  check_gradients("Conv1D", {{"filters", 2}, {"kernel_size", 3}, {"data_format", "channels_first"}, {"activation", "relu"}},
                  {3, 6});
}

TEST_CASE("Conv1D refuses bad options and inputs with one sentence") {
  CHECK(build_error("Conv1D", {{"name", "c1"}, {"filters", 2}, {"kernel_size", 5}}, {4, 2}) ==
        "layer \"l\" (Conv1D): the kernel spans 5 steps (kernel_size 5, dilation_rate 1) but the input has only 4 "
        "with padding \"valid\"");
  CHECK(build_error("Conv1D", {{"filters", 2}, {"kernel_size", 3}, {"dilation_rate", 3}}, {6, 2}).find("spans 7 steps") !=
        std::string::npos);
  CHECK(build_error("Conv1D", {{"filters", 2}, {"kernel_size", 2}}, {4, 4, 2}) ==
        "layer \"l\" (Conv1D) expects input of shape (None, steps, channels), got (None, 4, 4, 2)");
  CHECK(build_error("Conv1D", {{"name", "c1"}, {"filters", 2}, {"kernel_size", 2}, {"padding", "full"}}, {4, 2}) ==
        "layer \"c1\" (Conv1D): padding must be \"valid\", \"same\" or \"causal\", got \"full\"");
  CHECK(build_error("Conv1D", {{"filters", 2}, {"kernel_size", 2}, {"strides", 2}, {"dilation_rate", 2}}, {6, 2})
            .find("strides > 1 cannot be combined with dilation_rate > 1") != std::string::npos);
  CHECK(build_error("Conv1D", {{"filters", 4}, {"kernel_size", 2}, {"groups", 2}}, {6, 3}).find("not divisible") !=
        std::string::npos);
}

TEST_CASE("Conv1D's get_config rebuilds an equal layer") {
  const Json config = {{"filters", 3},          {"kernel_size", 2},  {"strides", 1},
                       {"padding", "causal"},   {"dilation_rate", 2}, {"activation", "relu"},
                       {"use_bias", false},     {"data_format", "channels_last"}};
  auto layer = builtins().create_layer("Conv1D", config);
  Json round = layer->get_config();
  round.erase("name");
  auto again = builtins().create_layer("Conv1D", round);
  CHECK(again->get_config() == layer->get_config());
  CHECK(round["padding"] == "causal");
  CHECK(round["kernel_size"] == Json::array({2}));
}
