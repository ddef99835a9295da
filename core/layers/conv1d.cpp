#include "conv1d.hpp"

#include <algorithm>
#include <cctype>

#include "keras_options.hpp"

namespace plugfit {

namespace {

// Keras's "int or tuple of one int".
std::size_t single_int(Config& config, const char* key, std::size_t fallback, const std::string& at) {
  Json v = config.has(key) ? config.raw(key) : Json();
  if (v.is_null()) return fallback;
  if (v.is_array() && v.size() == 1) v = v[0];
  if (!v.is_number_integer() || v.get<long long>() < 1)
    throw InputError(at + "\"" + key + "\" must be a positive integer (or a list of one), got " + v.dump());
  return v.get<std::size_t>();
}

// (n, c, t) <-> (n, t, c)
void swap_last_two(const float* from, std::size_t n, std::size_t a, std::size_t b, float* to) {
  for (std::size_t s = 0; s < n; ++s)
    for (std::size_t i = 0; i < a; ++i)
      for (std::size_t j = 0; j < b; ++j) to[s * a * b + j * a + i] = from[s * a * b + i * b + j];
}

}  // namespace

Conv1D::Conv1D(Config& config)
    : filters_(config.require<std::size_t>("filters")),
      kernel_size_(single_int(config, "kernel_size", 0, layer_label(config, "Conv1D") + ": ")),
      stride_(single_int(config, "strides", 1, layer_label(config, "Conv1D") + ": ")),
      dilation_(single_int(config, "dilation_rate", 1, layer_label(config, "Conv1D") + ": ")),
      groups_(config.get<std::size_t>("groups", 1)),
      format_(parse_data_format(config, layer_label(config, "Conv1D"))),
      activation_(parse_activation(config.raw("activation"), "Conv1D")),
      use_bias_(config.get<bool>("use_bias", true)),
      kernel_init_(Initializer::from_json(config.has("kernel_initializer") && !config.raw("kernel_initializer").is_null()
                                              ? config.raw("kernel_initializer") : Json("glorot_uniform"))),
      bias_init_(Initializer::from_json(config.has("bias_initializer") && !config.raw("bias_initializer").is_null()
                                            ? config.raw("bias_initializer") : Json("zeros"))) {
  const std::string at = layer_label(config, "Conv1D") + ": ";
  if (kernel_size_ == 0) throw InputError(at + "\"kernel_size\" is required");
  if (filters_ == 0) throw InputError(at + "\"filters\" must be a positive integer");
  if (groups_ == 0 || filters_ % groups_ != 0)
    throw InputError(at + "\"filters\" (" + std::to_string(filters_) + ") must be divisible by \"groups\" (" +
                     std::to_string(groups_) + ")");
  if (stride_ > 1 && dilation_ > 1)
    throw InputError(at + "strides > 1 cannot be combined with dilation_rate > 1 (as in Keras)");
  const Json padding = config.has("padding") ? config.raw("padding") : Json("valid");
  std::string p = padding.is_string() ? padding.get<std::string>() : "";
  std::transform(p.begin(), p.end(), p.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (p == "valid") padding_ = Padding::valid;
  else if (p == "same") padding_ = Padding::same;
  else if (p == "causal") padding_ = Padding::causal;
  else throw InputError(at + "padding must be \"valid\", \"same\" or \"causal\", got " + padding.dump());
  accept_keras_layer_options(config);
  reject_keras_extras(config, {"kernel_regularizer", "bias_regularizer", "activity_regularizer",
                               "kernel_constraint", "bias_constraint"});
}

Shape Conv1D::build(const Shape& input_shape, BuildContext& ctx) {
  const bool first = format_ == DataFormat::channels_first;
  if (input_shape.size() != 2 || input_shape[0] == 0 || input_shape[1] == 0)
    throw InputError(label() + " expects input of shape " + (first ? "(None, channels, steps)" : "(None, steps, channels)") +
                     ", got " + shape_str(input_shape));
  steps_ = first ? input_shape[1] : input_shape[0];
  channels_ = first ? input_shape[0] : input_shape[1];
  if (channels_ % groups_ != 0)
    throw InputError(label() + ": the input's " + std::to_string(channels_) +
                     " channels are not divisible by \"groups\" (" + std::to_string(groups_) + ")");
  const std::size_t span = (kernel_size_ - 1) * dilation_ + 1;  // the kernel with its dilation
  std::size_t pad_left = 0, padded = steps_;
  if (padding_ == Padding::causal) {
    pad_left = span - 1;
    padded = steps_ + pad_left;
  }
  if (padding_ != Padding::same && span > padded)
    throw InputError(label() + ": the kernel spans " + std::to_string(span) + " steps (kernel_size " +
                     std::to_string(kernel_size_) + ", dilation_rate " + std::to_string(dilation_) +
                     ") but the input has only " + std::to_string(steps_) + " with padding \"valid\"");
  if (padding_ == Padding::same) {
    const WindowSteps w = window_steps(steps_, span, stride_, true);
    out_steps_ = w.out;
    pad_left = w.pad_before;
  } else {
    out_steps_ = (padded - span) / stride_ + 1;
  }
  ConvGeometry g;
  g.in_h = 1, g.in_w = steps_, g.in_c = channels_;
  g.out_h = 1, g.out_w = out_steps_, g.out_c = filters_;
  g.kh = 1, g.kw = kernel_size_, g.sh = 1, g.sw = stride_, g.dh = 1, g.dw = dilation_;
  g.pad_top = 0, g.pad_left = pad_left;
  g.groups = groups_;
  engine_.configure(g);
  kernel_ = &ctx.add_weight("kernel", {kernel_size_, channels_ / groups_, filters_}, kernel_init_);
  if (use_bias_) bias_ = &ctx.add_weight("bias", {filters_}, bias_init_);
  return first ? Shape{filters_, out_steps_} : Shape{out_steps_, filters_};
}

const Tensor& Conv1D::forward(const Tensor& x, bool /*training*/) {
  const std::size_t batch = x.shape()[0], rows = batch * out_steps_;
  const bool first = format_ == DataFormat::channels_first;
  if (first) y_.resize({batch, filters_, out_steps_});
  else y_.resize({batch, out_steps_, filters_});
  x_last_ = x.data();
  if (first) {
    swap_last_two(x.data(), batch, channels_, steps_, sized(x_t_, x.size()));
    x_last_ = x_t_.data();
  }
  float* y = first ? sized(y_t_, y_.size()) : y_.data();
  engine_.forward(x_last_, batch, kernel_->value_data, y);
  if (use_bias_) {
    const float* __restrict b = bias_->value_data;
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < filters_; ++c) y[r * filters_ + c] += b[c];
  }
  if (first) swap_last_two(y, batch, out_steps_, filters_, y_.data());
  if (activation_needs_input(activation_)) {
    z_.resize(y_.shape());
    std::copy(y_.begin(), y_.end(), z_.begin());
  }
  // Along the last axis, as Keras applies softmax.
  const std::size_t last = y_.shape().back();
  activation_forward(activation_, y_.data(), y_.size() / last, last);
  return y_;
}

const Tensor& Conv1D::backward(const Tensor& dy) {
  const std::size_t batch = dy.shape()[0], rows = batch * out_steps_;
  const bool first = format_ == DataFormat::channels_first;
  const Tensor* dz = &dy;
  if (activation_ != ActivationKind::linear) {
    dz_.resize(y_.shape());
    const std::size_t last = y_.shape().back();
    activation_backward(activation_, z_.data(), y_.data(), dy.data(), dz_.data(), y_.size() / last, last);
    dz = &dz_;
  }
  const float* dz_last = dz->data();
  if (first) {
    swap_last_two(dz->data(), batch, filters_, out_steps_, sized(dz_t_, dz->size()));
    dz_last = dz_t_.data();
  }
  if (use_bias_) {
    float* __restrict gb = bias_->grad_data;
    std::fill_n(gb, filters_, 0.f);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < filters_; ++c) gb[c] += dz_last[r * filters_ + c];
  }
  float* dx = nullptr;
  if (needs_input_gradient()) {
    if (first) dx_.resize({batch, channels_, steps_});
    else dx_.resize({batch, steps_, channels_});
    dx = first ? sized(dx_t_, dx_.size()) : dx_.data();
  }
  engine_.backward(x_last_, dz_last, batch, kernel_->value_data, kernel_->grad_data, dx);
  if (dx && first) swap_last_two(dx, batch, steps_, channels_, dx_.data());
  return dx_;
}

Json Conv1D::get_config() const {
  static const char* const paddings[] = {"valid", "same", "causal"};
  return {{"name", name()},
          {"filters", filters_},
          {"kernel_size", Json::array({kernel_size_})},
          {"strides", Json::array({stride_})},
          {"padding", paddings[static_cast<int>(padding_)]},
          {"data_format", data_format_name(format_)},
          {"dilation_rate", Json::array({dilation_})},
          {"groups", groups_},
          {"activation", activation_name(activation_)},
          {"use_bias", use_bias_},
          {"kernel_initializer", kernel_init_.to_json()},
          {"bias_initializer", bias_init_.to_json()}};
}

}  // namespace plugfit
