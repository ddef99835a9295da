// Conv2D, DepthwiseConv2D, SeparableConv2D and Conv2DTranspose against convolutions written
// here as naive loops, two PyTorch references, central-difference gradients, the bad inputs'
// messages and get_config round trips.
#include <doctest/doctest.h>

#include <cmath>
#include <deque>
#include <string>
#include <tuple>

#include <plugfit/registry.hpp>
#include <plugfit/testing.hpp>

#include "layers/build_context.hpp"
#include "util/parallel.hpp"
#include "layer_fixture.hpp"
#include "test_support.hpp"

using namespace plugfit;
using namespace plugfit::test;

namespace {

// TensorFlow's padding rule, written out: out = ceil(in / s) for same, and the total padding
// (out - 1) * s + k_eff - in split with the odd one at the end.
struct Axis {
  long in, k, s, d, out, pad;
  Axis(long in_, long k_, long s_, long d_, bool same) : in(in_), k(k_), s(s_), d(d_) {
    const long eff = (k - 1) * d + 1;
    out = same ? (in + s - 1) / s : (in - eff) / s + 1;
    pad = same ? std::max(0L, (out - 1) * s + eff - in) / 2 : 0;
  }
};

struct Spec {
  long kh, kw, sh = 1, sw = 1, dh = 1, dw = 1;
  bool same = false, first = false;
};

// x[n, h, w, c] in either layout.
float at(const Tensor& x, bool first, long n, long h, long w, long c) {
  return first ? x(n, c, h, w) : x(n, h, w, c);
}
float& at(Tensor& x, bool first, long n, long h, long w, long c) {
  return first ? x(n, c, h, w) : x(n, h, w, c);
}

// A grouped convolution; kernel (kh, kw, C / groups, F); bias may be null.
Tensor naive_conv(const Tensor& x, const Spec& s, const float* kernel, const float* bias, long filters, long groups) {
  const long n = long(x.shape()[0]);
  const long h = long(x.shape()[s.first ? 2 : 1]), w = long(x.shape()[s.first ? 3 : 2]);
  const long c = long(x.shape()[s.first ? 1 : 3]);
  const Axis ah(h, s.kh, s.sh, s.dh, s.same), aw(w, s.kw, s.sw, s.dw, s.same);
  Tensor y = s.first ? Tensor(xt::zeros<float>({std::size_t(n), std::size_t(filters), std::size_t(ah.out), std::size_t(aw.out)}))
                     : Tensor(xt::zeros<float>({std::size_t(n), std::size_t(ah.out), std::size_t(aw.out), std::size_t(filters)}));
  const long cg = c / groups, fg = filters / groups;
  for (long b = 0; b < n; ++b)
    for (long oh = 0; oh < ah.out; ++oh)
      for (long ow = 0; ow < aw.out; ++ow)
        for (long f = 0; f < filters; ++f) {
          double sum = bias ? bias[f] : 0.0;
          const long g = f / fg;
          for (long i = 0; i < s.kh; ++i)
            for (long j = 0; j < s.kw; ++j)
              for (long ci = 0; ci < cg; ++ci) {
                const long ih = oh * s.sh + i * s.dh - ah.pad, iw = ow * s.sw + j * s.dw - aw.pad;
                if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                sum += double(at(x, s.first, b, ih, iw, g * cg + ci)) * kernel[((i * s.kw + j) * cg + ci) * filters + f];
              }
          at(y, s.first, b, oh, ow, f) = float(sum);
        }
  return y;
}

Spec spec_of(const Json& c) {
  Spec s;
  auto pair = [&](const char* key, long& a, long& b) {
    if (!c.contains(key)) return;
    if (c[key].is_array()) a = c[key][0], b = c[key][1];
    else a = b = c[key];
  };
  pair("kernel_size", s.kh, s.kw);
  pair("strides", s.sh, s.sw);
  pair("dilation_rate", s.dh, s.dw);
  s.same = c.value("padding", std::string("valid")) == "same";
  s.first = c.value("data_format", std::string("channels_last")) == "channels_first";
  return s;
}

const std::vector<std::pair<Json, Shape>>& conv2d_cases() {
  static const std::vector<std::pair<Json, Shape>> cases = {
      {{{"filters", 4}, {"kernel_size", 3}}, {7, 6, 3}},
      {{{"filters", 3}, {"kernel_size", 3}, {"strides", 2}, {"padding", "same"}}, {7, 8, 2}},
      {{{"filters", 3}, {"kernel_size", 3}, {"strides", 2}}, {7, 8, 2}},
      {{{"filters", 2}, {"kernel_size", 3}, {"dilation_rate", 2}, {"padding", "same"}}, {6, 7, 2}},
      {{{"filters", 2}, {"kernel_size", 3}, {"dilation_rate", 2}}, {6, 7, 2}},
      {{{"filters", 4}, {"kernel_size", {3, 2}}, {"groups", 2}, {"padding", "same"}}, {5, 6, 4}},
      {{{"filters", 3}, {"kernel_size", 3}, {"padding", "same"}, {"data_format", "channels_first"}}, {2, 5, 6}},
      {{{"filters", 2}, {"kernel_size", {2, 4}}, {"strides", {1, 2}}, {"padding", "same"}}, {5, 7, 3}},
      {{{"filters", 2}, {"kernel_size", 1}}, {4, 3, 5}},
      {{{"filters", 3}, {"kernel_size", 2}, {"use_bias", false}, {"activation", "tanh"}}, {4, 4, 2}},
  };
  return cases;
}

}  // namespace

TEST_CASE("Conv2D's inference equals a naive convolution") {
  for (const auto& [config, input] : conv2d_cases()) {
    CAPTURE(config.dump());
    BuiltLayer built("Conv2D", config, input);
    Shape x_shape{2};
    x_shape.insert(x_shape.end(), input.begin(), input.end());
    const Tensor x = random_tensor(x_shape, 3);
    const Weight* bias = built.find_weight("bias");
    Tensor want = naive_conv(x, spec_of(config), built.find_weight("kernel")->value_data, bias ? bias->value_data : nullptr,
                             config["filters"], config.value("groups", 1));
    if (config.value("activation", std::string()) == "tanh") want = xt::tanh(want);
    const Tensor& y = built.layer->forward(x, false);
    check_close(y, want);
    Shape y_shape(y.shape().begin() + 1, y.shape().end());
    CHECK(y_shape == built.output_shape);
  }
}

TEST_CASE("Conv2D passes the gradient check in every configuration") {
  for (const auto& [config, input] : conv2d_cases()) check_gradients("Conv2D", config, input);
  check_gradients("Conv2D", {{"filters", 2}, {"kernel_size", 3}, {"activation", "softmax"}, {"padding", "same"}},
                  {4, 4, 2});
}

TEST_CASE("Conv2D with TensorFlow's same padding at stride 2 matches PyTorch on the explicitly padded input") {
  // Values from torch.nn.functional.conv2d on F.pad(x, (0, 1, 1, 1)), stride 2 (the script is
  // in the commit message): x[i] = sin(0.37 i), kernel[i] = cos(0.11 i), bias (0.1, -0.2, 0.3).
  BuiltLayer built("Conv2D", {{"filters", 3}, {"kernel_size", 3}, {"strides", 2}, {"padding", "same"}}, {5, 6, 2});
  Tensor x = Tensor::from_shape({1, 5, 6, 2});
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.37f * float(i));
  float* k = built.find_weight("kernel")->value_data;
  for (std::size_t i = 0; i < 54; ++i) k[i] = std::cos(0.11f * float(i));
  float* b = built.find_weight("bias")->value_data;
  b[0] = 0.1f, b[1] = -0.2f, b[2] = 0.3f;
  const std::vector<float> torch = {-2.6443467f, -3.3209565f, -3.1598408f, -0.5434038f, -0.8398881f, -0.3286376f, 0.4831567f,
                                    0.5820423f,  1.4714747f,  -0.8240053f, -0.5698451f, 0.4887858f,  2.5067910f,  2.1051801f,
                                    2.4757046f,  3.8094120f,  3.0656318f,  3.0823773f,  3.1977205f,  2.7545778f,  3.0757207f,
                                    -2.7030749f, -2.9548848f, -2.3733943f, -4.0260373f, -4.3056312f, -3.7355971f};
  Tensor want = Tensor::from_shape({1, 3, 3, 3});
  std::copy(torch.begin(), torch.end(), want.begin());
  check_close(built.layer->forward(x, false), want);
}

TEST_CASE("glorot_uniform draws a conv kernel with Keras's fans") {
  // compute_fans: receptive field kh * kw; fan_in = 3 * 3 * 8, fan_out = 3 * 3 * 16.
  std::vector<float> values(3 * 3 * 8 * 16);
  Rng rng(4);
  Initializer("glorot_uniform").fill(values.data(), {3, 3, 8, 16}, rng);
  const double limit = std::sqrt(6.0 / (72.0 + 144.0));
  double top = 0.0;
  for (float v : values) top = std::max(top, double(std::fabs(v)));
  CHECK(top <= limit);
  CHECK(top > 0.98 * limit);
}

TEST_CASE("convolutions name the layer and the shape at fault") {
  auto has = [](const std::string& message, const std::string& part) {
    INFO(message);
    CHECK(message.find(part) != std::string::npos);
  };
  has(build_error("Conv2D", {{"filters", 2}, {"kernel_size", 5}}, {3, 3, 1}),
      "layer \"l\" (Conv2D): the kernel (5, 5) with its dilation is larger than the input image (3, 3)");
  has(build_error("Conv2D", {{"filters", 2}, {"kernel_size", 3}, {"dilation_rate", 2}}, {4, 9, 1}),
      "the kernel (5, 5) with its dilation is larger than the input image (4, 9)");
  has(build_error("Conv2D", {{"filters", 2}, {"kernel_size", 3}}, {784}),
      "layer \"l\" (Conv2D) expects input of shape (None, height, width, channels), got (None, 784)");
  has(build_error("Conv2D", {{"filters", 2}, {"kernel_size", 3}, {"data_format", "channels_first"}}, {4, 4}),
      "expects input of shape (None, channels, height, width)");
  has(build_error("Conv2D", {{"filters", 0}, {"kernel_size", 3}}, {4, 4, 1}), "Conv2D: \"filters\" must be a positive integer");
  has(build_error("Conv2D", {{"name", "c1"}, {"filters", 2}, {"kernel_size", {3, 0}}}, {4, 4, 1}),
      "layer \"c1\" (Conv2D): kernel_size must hold integers of at least 1, got [3,0]");
  has(build_error("Conv2D", {{"filters", 2}, {"kernel_size", 3}, {"strides", -1}}, {4, 4, 1}), "strides must hold integers of at least 1, got -1");
  has(build_error("Conv2D", {{"filters", 2}, {"kernel_size", 3}, {"padding", "causal"}}, {4, 4, 1}),
      "padding must be \"valid\" or \"same\", got \"causal\"");
  has(build_error("Conv2D", {{"filters", 2}, {"kernel_size", 3}, {"data_format", "nhwc"}}, {4, 4, 1}),
      "data_format must be \"channels_last\" or \"channels_first\", got \"nhwc\"");
  has(build_error("Conv2D", {{"filters", 3}, {"kernel_size", 3}, {"groups", 2}}, {4, 4, 2}),
      "\"filters\" (3) must be divisible by \"groups\" (2)");
  has(build_error("Conv2D", {{"filters", 4}, {"kernel_size", 3}, {"groups", 2}}, {4, 4, 3}),
      "layer \"l\" (Conv2D): the input's 3 channels are not divisible by \"groups\" (2)");
  has(build_error("Conv2D", {{"filters", 2}, {"kernel_size", 3}, {"strides", 2}, {"dilation_rate", 2}}, {9, 9, 1}),
      "strides > 1 are not supported together with dilation_rate > 1");
  has(build_error("Conv2D", {{"filters", 2}, {"kernel_size", 3}, {"kernel_regularizer", "l2"}}, {4, 4, 1}), "kernel_regularizer");
  has(build_error("Conv2D", {{"filters", 2}}, {4, 4, 1}), "kernel_size is required");
}

TEST_CASE("convolutions round-trip through get_config") {
  const std::vector<std::pair<std::string, Json>> layers = {
      {"Conv2D", {{"filters", 4}, {"kernel_size", {3, 2}}, {"strides", 2}, {"padding", "same"}, {"groups", 2},
                  {"activation", "relu"}, {"use_bias", false}, {"data_format", "channels_first"},
                  {"kernel_initializer", "he_normal"}}},
      {"DepthwiseConv2D", {{"kernel_size", 3}, {"depth_multiplier", 2}, {"dilation_rate", 2}}},
      {"SeparableConv2D", {{"filters", 5}, {"kernel_size", 3}, {"depth_multiplier", 2}, {"pointwise_initializer", "zeros"}}},
      {"Conv2DTranspose", {{"filters", 3}, {"kernel_size", 3}, {"strides", 2}, {"padding", "same"}}},
  };
  for (const auto& [class_name, config] : layers) {
    CAPTURE(class_name);
    auto layer = builtins().create_layer(class_name, config);
    layer->set_name("c");
    const Json saved = layer->get_config();
    auto again = builtins().create_layer(class_name, saved);
    again->set_name("c");
    CHECK(again->get_config() == saved);
    for (const auto& [key, value] : config.items()) {
      CAPTURE(key);
      if (value.is_number()) CHECK(saved[key] == (saved[key].is_array() ? Json{value, value} : value));
    }
  }
}

namespace {

// out[..., c * M + m] = sum over taps of x[..., c] * kernel[i, j, c, m] (channels_last).
Tensor naive_depthwise(const Tensor& x, const Spec& s, const float* kernel, long multiplier) {
  const long n = long(x.shape()[0]), h = long(x.shape()[1]), w = long(x.shape()[2]), c = long(x.shape()[3]);
  const Axis ah(h, s.kh, s.sh, s.dh, s.same), aw(w, s.kw, s.sw, s.dw, s.same);
  Tensor y = xt::zeros<float>({std::size_t(n), std::size_t(ah.out), std::size_t(aw.out), std::size_t(c * multiplier)});
  for (long b = 0; b < n; ++b)
    for (long oh = 0; oh < ah.out; ++oh)
      for (long ow = 0; ow < aw.out; ++ow)
        for (long ci = 0; ci < c; ++ci)
          for (long m = 0; m < multiplier; ++m) {
            double sum = 0.0;
            for (long i = 0; i < s.kh; ++i)
              for (long j = 0; j < s.kw; ++j) {
                const long ih = oh * s.sh + i * s.dh - ah.pad, iw = ow * s.sw + j * s.dw - aw.pad;
                if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                sum += double(x(b, ih, iw, ci)) * kernel[((i * s.kw + j) * c + ci) * multiplier + m];
              }
            y(b, oh, ow, ci * multiplier + m) = float(sum);
          }
  return y;
}

// Each input pixel scatters x * kernel[i, j, f, c] to out(ih * s + i * d - pad); the output
// size and pad follow Keras: in * s (same) or in * s + max(k_eff - s, 0) (valid), and the pad
// of the forward convolution from the output back to the input.
Tensor naive_transpose(const Tensor& x, const Spec& s, const float* kernel, long filters) {
  const long n = long(x.shape()[0]), h = long(x.shape()[1]), w = long(x.shape()[2]), c = long(x.shape()[3]);
  auto out_of = [&](long in, long k, long st, long d, long& pad) {
    const long eff = (k - 1) * d + 1, out = s.same ? in * st : in * st + std::max(eff - st, 0L);
    pad = s.same ? std::max(0L, (in - 1) * st + eff - out) / 2 : 0;
    return out;
  };
  long ph = 0, pw = 0;
  const long oh_n = out_of(h, s.kh, s.sh, s.dh, ph), ow_n = out_of(w, s.kw, s.sw, s.dw, pw);
  Tensor y = xt::zeros<float>({std::size_t(n), std::size_t(oh_n), std::size_t(ow_n), std::size_t(filters)});
  for (long b = 0; b < n; ++b)
    for (long ih = 0; ih < h; ++ih)
      for (long iw = 0; iw < w; ++iw)
        for (long i = 0; i < s.kh; ++i)
          for (long j = 0; j < s.kw; ++j) {
            const long oh = ih * s.sh + i * s.dh - ph, ow = iw * s.sw + j * s.dw - pw;
            if (oh < 0 || oh >= oh_n || ow < 0 || ow >= ow_n) continue;
            for (long f = 0; f < filters; ++f)
              for (long ci = 0; ci < c; ++ci)
                y(b, oh, ow, f) += x(b, ih, iw, ci) * kernel[((i * s.kw + j) * filters + f) * c + ci];
          }
  return y;
}

void add_bias(Tensor& y, const Weight* bias) {
  if (!bias) return;
  const std::size_t c = y.shape().back();
  for (std::size_t i = 0; i < y.size(); ++i) y.data()[i] += bias->value_data[i % c];
}

}  // namespace

TEST_CASE("DepthwiseConv2D equals a naive depthwise convolution and passes the gradient check") {
  const std::vector<std::pair<Json, Shape>> cases = {
      {{{"kernel_size", 3}}, {6, 5, 3}},
      {{{"kernel_size", 3}, {"depth_multiplier", 2}, {"strides", 2}, {"padding", "same"}}, {7, 6, 2}},
      {{{"kernel_size", {2, 3}}, {"dilation_rate", 2}, {"padding", "same"}, {"use_bias", false}}, {5, 6, 2}},
  };
  for (const auto& [config, input] : cases) {
    CAPTURE(config.dump());
    BuiltLayer built("DepthwiseConv2D", config, input);
    const Tensor x = random_tensor({2, input[0], input[1], input[2]}, 5);
    Tensor want = naive_depthwise(x, spec_of(config), built.find_weight("depthwise_kernel")->value_data,
                                  config.value("depth_multiplier", 1));
    add_bias(want, built.find_weight("bias"));
    check_close(built.layer->forward(x, false), want);
    check_gradients("DepthwiseConv2D", config, input);
  }
  check_gradients("DepthwiseConv2D", {{"kernel_size", 3}, {"data_format", "channels_first"}, {"padding", "same"}}, {2, 4, 5});
}

TEST_CASE("SeparableConv2D is a depthwise then a pointwise convolution and passes the gradient check") {
  const std::vector<std::pair<Json, Shape>> cases = {
      {{{"filters", 4}, {"kernel_size", 3}}, {6, 5, 3}},
      {{{"filters", 3}, {"kernel_size", 3}, {"depth_multiplier", 2}, {"strides", 2}, {"padding", "same"},
        {"activation", "relu"}}, {7, 6, 2}},
  };
  for (const auto& [config, input] : cases) {
    CAPTURE(config.dump());
    BuiltLayer built("SeparableConv2D", config, input);
    const Tensor x = random_tensor({2, input[0], input[1], input[2]}, 6);
    const long multiplier = config.value("depth_multiplier", 1), filters = config["filters"];
    const Tensor middle =
        naive_depthwise(x, spec_of(config), built.find_weight("depthwise_kernel")->value_data, multiplier);
    Spec pointwise;
    pointwise.kh = pointwise.kw = 1;
    Tensor want = naive_conv(middle, pointwise, built.find_weight("pointwise_kernel")->value_data,
                             built.find_weight("bias")->value_data, filters, 1);
    if (config.contains("activation")) want = xt::maximum(want, 0.f);
    check_close(built.layer->forward(x, false), want);
    check_gradients("SeparableConv2D", config, input);
  }
}

TEST_CASE("Conv2DTranspose follows Keras's output size, equals a naive scatter and passes the gradient check") {
  const std::vector<std::pair<Json, Shape>> cases = {
      {{{"filters", 3}, {"kernel_size", 3}, {"strides", 2}, {"padding", "same"}}, {3, 4, 2}},
      {{{"filters", 2}, {"kernel_size", 3}, {"strides", 2}}, {3, 4, 2}},
      {{{"filters", 2}, {"kernel_size", {2, 4}}, {"padding", "same"}}, {4, 3, 3}},
      {{{"filters", 2}, {"kernel_size", 1}, {"strides", 3}}, {2, 3, 2}},
      {{{"filters", 2}, {"kernel_size", 3}, {"dilation_rate", 2}, {"strides", 2}, {"padding", "same"}}, {3, 3, 1}},
  };
  for (const auto& [config, input] : cases) {
    CAPTURE(config.dump());
    BuiltLayer built("Conv2DTranspose", config, input);
    const Tensor x = random_tensor({2, input[0], input[1], input[2]}, 8);
    Tensor want = naive_transpose(x, spec_of(config), built.find_weight("kernel")->value_data, config["filters"]);
    add_bias(want, built.find_weight("bias"));
    check_close(built.layer->forward(x, false), want);
    check_gradients("Conv2DTranspose", config, input);
  }
  check_gradients("Conv2DTranspose",
                  {{"filters", 2}, {"kernel_size", 3}, {"strides", 2}, {"data_format", "channels_first"}}, {2, 3, 3});
  CHECK(BuiltLayer("Conv2DTranspose", {{"filters", 2}, {"kernel_size", 3}, {"strides", 2}}, {5, 4, 1}).output_shape ==
        Shape{11, 9, 2});
  CHECK(build_error("Conv2DTranspose", {{"filters", 2}, {"kernel_size", 3}, {"output_padding", 1}}, {4, 4, 1})
            .find("output_padding") != std::string::npos);
}

TEST_CASE("Conv2DTranspose with same padding at stride 2 matches PyTorch's conv_transpose2d cropped at the end") {
  // F.conv_transpose2d(x.permute(0, 3, 1, 2), kernel.permute(3, 2, 0, 1), stride=2)[:, :, :6, :4]
  // with x[i] = sin(0.37 i) (1, 3, 2, 2), kernel[i] = cos(0.11 i) (3, 3, 3, 2).
  BuiltLayer built("Conv2DTranspose", {{"filters", 3}, {"kernel_size", 3}, {"strides", 2}, {"padding", "same"},
                                       {"use_bias", false}}, {3, 2, 2});
  Tensor x = Tensor::from_shape({1, 3, 2, 2});
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.37f * float(i));
  float* k = built.find_weight("kernel")->value_data;
  for (std::size_t i = 0; i < 54; ++i) k[i] = std::cos(0.11f * float(i));
  const std::vector<float> torch = {
      0.3594299f,  0.3421035f,  0.3082860f,  0.2596076f,  0.1984147f,  0.1276573f,  1.6153192f,  1.4767934f,
      1.2670787f,  1.1757139f,  0.9210841f,  0.6220534f,  -0.1794296f, -0.2436202f, -0.2960671f, -0.3342420f,
      -0.3563048f, -0.3611918f, -1.0613883f, -1.3195869f, -1.5141747f, -1.4191241f, -1.5302750f, -1.5676588f,
      1.7346988f,  1.7330438f,  1.6478472f,  1.4832159f,  1.2470861f,  0.9508404f,  0.9287818f,  0.8010201f,
      0.6346452f,  0.9590627f,  1.0917145f,  1.1717400f,  -0.8732140f, -1.2336877f, -1.5346914f, -1.7617151f,
      -1.9038151f, -1.9541416f, -2.4872300f, -2.5961388f, -2.5799004f, -1.1828183f, -1.2815403f, -1.3184855f,
      -1.2620458f, -0.9005133f, -0.4955715f, -0.0667406f, 0.3653075f,  0.7797459f,  -1.0273880f, -0.4159952f,
      0.2154508f,  -1.0576344f, -0.5521783f, -0.0201043f, 0.0210781f,  0.0198992f,  0.0177611f,  0.0147669f,
      0.0110607f,  0.0068214f,  0.6103459f,  0.8487947f,  1.0463272f,  1.2046280f,  1.2978763f,  1.3285603f};
  Tensor want = Tensor::from_shape({1, 6, 4, 3});
  std::copy(torch.begin(), torch.end(), want.begin());
  check_close(built.layer->forward(x, false), want);
}

TEST_CASE("a batch computed a few images at a time equals each image computed alone") {
  // Images this large put one (Conv2D, the depthwise stage) or four (Conv2DTranspose) images
  // in each of the engine's chunks of about 2^18 patch values.
  const std::vector<std::tuple<std::string, Json, Shape>> cases = {
      {"Conv2D", {{"filters", 2}, {"kernel_size", 3}, {"padding", "same"}}, {40, 40, 16}},
      {"Conv2DTranspose", {{"filters", 16}, {"kernel_size", 3}, {"strides", 2}, {"padding", "same"}}, {20, 20, 16}},
      {"SeparableConv2D", {{"filters", 3}, {"kernel_size", 3}}, {30, 30, 32}},
  };
  for (const auto& [class_name, config, input] : cases) {
    CAPTURE(class_name);
    const std::size_t batch = 6, in_size = shape_size(input);
    BuiltLayer whole(class_name, config, input);
    const std::size_t out_size = shape_size(whole.output_shape);
    const Tensor x = random_tensor({batch, input[0], input[1], input[2]}, 9);
    const Tensor dy = random_tensor({batch, whole.output_shape[0], whole.output_shape[1], whole.output_shape[2]}, 10);
    const Tensor y = whole.layer->forward(x, true);
    const Tensor dx = whole.layer->backward(dy);
    const std::vector<float> grads = whole.grads;
    std::vector<double> summed(grads.size(), 0.0);
    BuiltLayer single(class_name, config, input);
    std::copy(whole.values.begin(), whole.values.end(), single.values.begin());
    for (std::size_t n = 0; n < batch; ++n) {
      Tensor xn = Tensor::from_shape({1, input[0], input[1], input[2]});
      std::copy_n(x.data() + n * in_size, in_size, xn.data());
      Tensor dyn = Tensor::from_shape({1, whole.output_shape[0], whole.output_shape[1], whole.output_shape[2]});
      std::copy_n(dy.data() + n * out_size, out_size, dyn.data());
      const Tensor& yn = single.layer->forward(xn, true);
      const Tensor& dxn = single.layer->backward(dyn);
      double worst = 0.0;
      for (std::size_t i = 0; i < out_size; ++i) worst = std::max(worst, double(std::fabs(yn.data()[i] - y.data()[n * out_size + i])));
      for (std::size_t i = 0; i < in_size; ++i) worst = std::max(worst, double(std::fabs(dxn.data()[i] - dx.data()[n * in_size + i])));
      CHECK(worst < 1e-4);
      for (std::size_t i = 0; i < grads.size(); ++i) summed[i] += single.grads[i];
    }
    double worst = 0.0, scale = 0.0;
    for (std::size_t i = 0; i < grads.size(); ++i) {
      worst = std::max(worst, std::fabs(summed[i] - grads[i]));
      scale = std::max(scale, std::fabs(summed[i]));
    }
    CHECK(worst < 1e-5 * scale);
  }
}

namespace {

// Sets plugfit's thread count for a scope, back to one thread after.
struct ThreadsFor {
  explicit ThreadsFor(int n) { set_threads(n); }
  ~ThreadsFor() { set_threads(1); }
  ThreadsFor(const ThreadsFor&) = delete;
  ThreadsFor& operator=(const ThreadsFor&) = delete;
};

struct StepResult {
  std::vector<float> y, dx, grads;
};

// One training step (forward then backward) of a fresh layer with the same weights.
StepResult step_with_threads(int threads, const std::string& class_name, const Json& config, const Shape& input,
                             std::size_t batch) {
  ThreadsFor scope(threads);
  BuiltLayer built(class_name, config, input);
  built.layer->set_needs_input_gradient(true);
  Shape x_shape{batch}, y_shape{batch};
  x_shape.insert(x_shape.end(), input.begin(), input.end());
  y_shape.insert(y_shape.end(), built.output_shape.begin(), built.output_shape.end());
  const Tensor x = random_tensor(x_shape, 21), dy = random_tensor(y_shape, 22);
  StepResult r;
  const Tensor& y = built.layer->forward(x, true);
  r.y.assign(y.begin(), y.end());
  const Tensor& dx = built.layer->backward(dy);
  r.dx.assign(dx.begin(), dx.end());
  r.grads = built.grads;
  return r;
}

double worst_difference(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, double(std::fabs(a[i] - b[i])));
  return worst;
}

const std::vector<std::tuple<std::string, Json, Shape>>& threaded_cases() {
  static const std::vector<std::tuple<std::string, Json, Shape>> cases = {
      {"Conv2D", {{"filters", 8}, {"kernel_size", 3}, {"activation", "relu"}}, {9, 9, 4}},
      // One image per GEMM step: each thread works through its samples in several steps.
      {"Conv2D", {{"filters", 2}, {"kernel_size", 3}, {"padding", "same"}}, {40, 40, 16}},
      {"Conv2D", {{"filters", 3}, {"kernel_size", 3}, {"data_format", "channels_first"}, {"activation", "tanh"}}, {2, 6, 5}},
      {"DepthwiseConv2D", {{"kernel_size", 2}, {"depth_multiplier", 2}}, {6, 5, 3}},
      {"SeparableConv2D", {{"filters", 3}, {"kernel_size", 3}, {"activation", "relu"}}, {7, 7, 4}},
      {"Conv2DTranspose", {{"filters", 3}, {"kernel_size", 3}, {"strides", 2}, {"padding", "same"}}, {5, 4, 2}},
  };
  return cases;
}

}  // namespace

TEST_CASE("two threads split the batch: the same bits every run, y, dx and gradients within 1e-5 of one thread's") {
  for (const auto& [class_name, config, input] : threaded_cases()) {
    CAPTURE(class_name);
    CAPTURE(config.dump());
    for (const std::size_t batch : {std::size_t(1), std::size_t(5)}) {
      CAPTURE(batch);
      const StepResult one = step_with_threads(1, class_name, config, input, batch);
      const StepResult two = step_with_threads(2, class_name, config, input, batch);
      const StepResult again = step_with_threads(2, class_name, config, input, batch);
      CHECK(two.y == again.y);
      CHECK(two.dx == again.dx);
      CHECK(two.grads == again.grads);
      // Each sample's outputs are computed by one thread alone, but in a GEMM of fewer rows, which
      // OpenBLAS may sum in another order: equal to rounding.
      CHECK(worst_difference(two.y, one.y) < 1e-5);
      CHECK(worst_difference(two.dx, one.dx) < 1e-5);
      double scale = 1.0;
      for (float g : one.grads) scale = std::max(scale, double(std::fabs(g)));
      CHECK(worst_difference(two.grads, one.grads) <= 1e-5 * scale);
    }
  }
}

TEST_CASE("convolutions pass the gradient check under two threads") {
  ThreadsFor scope(2);
  for (const auto& [class_name, config, input] : threaded_cases()) {
    CAPTURE(class_name);
    CAPTURE(config.dump());
    if (shape_size(input) < 1000) check_gradients(class_name, config, input);
  }
}
