#include "conv2d.hpp"

#include <algorithm>

#include "keras_options.hpp"

namespace plugfit {

Initializer ConvLayerBase::initializer_or(Config& config, const char* key, const char* fallback) {
  return Initializer::from_json(config.has(key) ? config.raw(key) : Json(fallback));
}

ConvLayerBase::ConvLayerBase(Config& config, const char* class_name, bool allow_strided_dilation)
    : class_name_(class_name),
      spatial_(ConvSpatialOptions::read(config, conv_where(config, class_name), allow_strided_dilation)),
      activation_(parse_activation(config.raw("activation"), class_name)),
      use_bias_(config.get<bool>("use_bias", true)),
      bias_init_(initializer_or(config, "bias_initializer", "zeros")) {
  accept_keras_layer_options(config);
  reject_keras_extras(config, {"bias_regularizer", "activity_regularizer", "bias_constraint"});
}

Shape ConvLayerBase::build(const Shape& input_shape, BuildContext& ctx) {
  spatial_.image_of(input_shape, where(), in_h_, in_w_, in_c_);
  build_kernels(ctx);
  if (use_bias_) bias_ = &ctx.add_weight("bias", {out_c_}, bias_init_);
  return spatial_.shape_of(out_h_, out_w_, out_c_);
}

const Tensor& ConvLayerBase::forward(const Tensor& x, bool /*training*/) {
  const std::size_t batch = x.shape()[0], rows = batch * out_h_ * out_w_;
  const bool first = spatial_.channels_first;
  if (first) y_.resize({batch, out_c_, out_h_, out_w_});
  else y_.resize({batch, out_h_, out_w_, out_c_});
  const float* x_nhwc = x.data();
  if (first) {
    nchw_to_nhwc(x.data(), batch, in_c_, in_h_, in_w_, sized(x_last_, x.size()));
    x_nhwc = x_last_.data();
  }
  float* y_nhwc = first ? sized(y_last_, y_.size()) : y_.data();
  x_nhwc_ = x_nhwc;
  compute(x_nhwc, batch, y_nhwc);
  if (use_bias_) {
    const float* __restrict b = bias_->value_data;
    for (std::size_t r = 0; r < rows; ++r) {
      float* __restrict row = y_nhwc + r * out_c_;
      for (std::size_t c = 0; c < out_c_; ++c) row[c] += b[c];
    }
  }
  if (first) nhwc_to_nchw(y_nhwc, batch, out_h_, out_w_, out_c_, y_.data());
  if (activation_needs_input(activation_)) {
    z_.resize(y_.shape());
    std::copy(y_.begin(), y_.end(), z_.begin());
  }
  // Along the last axis, as Keras applies softmax (channels, or width under channels_first).
  const std::size_t last = y_.shape().back();
  activation_forward(activation_, y_.data(), y_.size() / last, last);
  return y_;
}

const Tensor& ConvLayerBase::backward(const Tensor& dy) {
  const std::size_t batch = dy.shape()[0], rows = batch * out_h_ * out_w_;
  const bool first = spatial_.channels_first;
  const Tensor* dz = &dy;
  if (activation_ != ActivationKind::linear) {
    dz_.resize(y_.shape());
    const std::size_t last = y_.shape().back();
    activation_backward(activation_, z_.data(), y_.data(), dy.data(), dz_.data(), y_.size() / last, last);
    dz = &dz_;
  }
  const float* dz_nhwc = dz->data();
  if (first) {
    nchw_to_nhwc(dz->data(), batch, out_c_, out_h_, out_w_, sized(dz_last_, dz->size()));
    dz_nhwc = dz_last_.data();
  }
  if (use_bias_) {
    float* __restrict gb = bias_->grad_data;
    std::fill_n(gb, out_c_, 0.f);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < out_c_; ++c) gb[c] += dz_nhwc[r * out_c_ + c];
  }
  float* dx_nhwc = nullptr;
  if (needs_input_gradient()) {
    if (first) dx_.resize({batch, in_c_, in_h_, in_w_});
    else dx_.resize({batch, in_h_, in_w_, in_c_});
    dx_nhwc = first ? sized(dx_last_, dx_.size()) : dx_.data();
  }
  compute_backward(dz_nhwc, batch, dx_nhwc);
  if (dx_nhwc && first) nhwc_to_nchw(dx_nhwc, batch, in_h_, in_w_, in_c_, dx_.data());
  return dx_;
}

Json ConvLayerBase::get_config() const {
  Json config = {{"name", name()},
                 {"activation", activation_name(activation_)},
                 {"use_bias", use_bias_},
                 {"bias_initializer", bias_init_.to_json()}};
  spatial_.write(config);
  add_config(config);
  return config;
}

Conv2D::Conv2D(Config& config)
    : ConvLayerBase(config, "Conv2D"),
      filters_(config.require<std::size_t>("filters")),
      groups_(config.get<std::size_t>("groups", 1)),
      kernel_init_(initializer_or(config, "kernel_initializer", "glorot_uniform")) {
  const std::string at = conv_where(config, "Conv2D");
  if (filters_ == 0) throw InputError(at + "\"filters\" must be a positive integer");
  if (groups_ == 0) throw InputError(at + "\"groups\" must be a positive integer");
  if (filters_ % groups_ != 0)
    throw InputError(at + "\"filters\" (" + std::to_string(filters_) + ") must be divisible by \"groups\" (" +
                     std::to_string(groups_) + ")");
  reject_keras_extras(config, {"kernel_regularizer", "kernel_constraint"});
}

void Conv2D::build_kernels(BuildContext& ctx) {
  if (in_c_ % groups_ != 0)
    throw InputError(where() + "the input's " + std::to_string(in_c_) + " channels are not divisible by \"groups\" (" +
                     std::to_string(groups_) + ")");
  const ConvGeometry g = spatial_.forward_geometry(in_h_, in_w_, in_c_, filters_, groups_, where());
  engine_.configure(g);
  out_h_ = g.out_h, out_w_ = g.out_w, out_c_ = filters_;
  kernel_ = &ctx.add_weight("kernel", {g.kh, g.kw, in_c_ / groups_, filters_}, kernel_init_);
}

void Conv2D::compute(const float* x, std::size_t batch, float* y) {
  engine_.forward(x, batch, kernel_->value_data, y);
}

void Conv2D::compute_backward(const float* dz, std::size_t batch, float* dx) {
  engine_.backward(x_nhwc_, dz, batch, kernel_->value_data, kernel_->grad_data, dx);
}

void Conv2D::add_config(Json& config) const {
  config["filters"] = filters_;
  config["groups"] = groups_;
  config["kernel_initializer"] = kernel_init_.to_json();
}

}  // namespace plugfit
