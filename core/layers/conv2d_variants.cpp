// DepthwiseConv2D, SeparableConv2D and Conv2DTranspose on the Conv2D engine.
#include "conv2d.hpp"

#include "keras_options.hpp"

namespace plugfit {

namespace {
std::size_t positive(Config& config, const char* key, std::size_t fallback, const std::string& at) {
  const std::size_t v = fallback ? config.get<std::size_t>(key, fallback) : config.require<std::size_t>(key);
  if (v == 0) throw InputError(at + "\"" + key + "\" must be a positive integer");
  return v;
}
}  // namespace

// A depthwise kernel (kh, kw, C, M) is a grouped Conv2D kernel (kh, kw, 1, C * M) with one
// group per input channel: output channel c * M + m reads input channel c.
DepthwiseConv2D::DepthwiseConv2D(Config& config)
    : ConvLayerBase(config, "DepthwiseConv2D"),
      multiplier_(positive(config, "depth_multiplier", 1, layer_label(config, "DepthwiseConv2D") + ": ")),
      depthwise_init_(initializer_or(config, "depthwise_initializer", "glorot_uniform")) {
  reject_keras_extras(config, {"depthwise_regularizer", "depthwise_constraint"});
}

void DepthwiseConv2D::build_kernels(BuildContext& ctx) {
  const ConvGeometry g = spatial_.forward_geometry(in_h_, in_w_, in_c_, in_c_ * multiplier_, in_c_, where());
  engine_.configure(g);
  out_h_ = g.out_h, out_w_ = g.out_w, out_c_ = g.out_c;
  kernel_ = &ctx.add_weight("depthwise_kernel", {g.kh, g.kw, in_c_, multiplier_}, depthwise_init_);
}

void DepthwiseConv2D::compute(const float* x, std::size_t batch, float* y, bool training) {
  engine_.forward(x, batch, kernel_->value_data, y, training);
}

void DepthwiseConv2D::compute_backward(const float* dz, std::size_t batch, float* dx) {
  engine_.backward(x_nhwc_, dz, batch, kernel_->value_data, kernel_->grad_data, dx);
}

void DepthwiseConv2D::add_config(Json& config) const {
  config["depth_multiplier"] = multiplier_;
  config["depthwise_initializer"] = depthwise_init_.to_json();
}

SeparableConv2D::SeparableConv2D(Config& config)
    : ConvLayerBase(config, "SeparableConv2D"),
      filters_(positive(config, "filters", 0, layer_label(config, "SeparableConv2D") + ": ")),
      multiplier_(positive(config, "depth_multiplier", 1, layer_label(config, "SeparableConv2D") + ": ")),
      depthwise_init_(initializer_or(config, "depthwise_initializer", "glorot_uniform")),
      pointwise_init_(initializer_or(config, "pointwise_initializer", "glorot_uniform")) {
  reject_keras_extras(config, {"depthwise_regularizer", "pointwise_regularizer", "depthwise_constraint",
                               "pointwise_constraint"});
}

void SeparableConv2D::build_kernels(BuildContext& ctx) {
  const std::size_t middle = in_c_ * multiplier_;
  const ConvGeometry g = spatial_.forward_geometry(in_h_, in_w_, in_c_, middle, in_c_, where());
  depthwise_engine_.configure(g);
  ConvGeometry pointwise;
  pointwise.in_h = pointwise.out_h = g.out_h;
  pointwise.in_w = pointwise.out_w = g.out_w;
  pointwise.in_c = middle;
  pointwise.out_c = filters_;
  pointwise_engine_.configure(pointwise);
  out_h_ = g.out_h, out_w_ = g.out_w, out_c_ = filters_;
  depthwise_ = &ctx.add_weight("depthwise_kernel", {g.kh, g.kw, in_c_, multiplier_}, depthwise_init_);
  pointwise_ = &ctx.add_weight("pointwise_kernel", {1, 1, middle, filters_}, pointwise_init_);
}

void SeparableConv2D::compute(const float* x, std::size_t batch, float* y, bool training) {
  float* middle = sized(middle_, batch * out_h_ * out_w_ * in_c_ * multiplier_);
  depthwise_engine_.forward(x, batch, depthwise_->value_data, middle, training);
  pointwise_engine_.forward(middle, batch, pointwise_->value_data, y);
}

void SeparableConv2D::compute_backward(const float* dz, std::size_t batch, float* dx) {
  float* dmiddle = sized(dmiddle_, batch * out_h_ * out_w_ * in_c_ * multiplier_);
  pointwise_engine_.backward(middle_.data(), dz, batch, pointwise_->value_data, pointwise_->grad_data, dmiddle);
  depthwise_engine_.backward(x_nhwc_, dmiddle, batch, depthwise_->value_data, depthwise_->grad_data, dx);
}

void SeparableConv2D::add_config(Json& config) const {
  config["filters"] = filters_;
  config["depth_multiplier"] = multiplier_;
  config["depthwise_initializer"] = depthwise_init_.to_json();
  config["pointwise_initializer"] = pointwise_init_.to_json();
}

// y = the adjoint of the convolution from y's image to x's image with the same kernel
// (kh, kw, filters, C): y's forward is that convolution's input gradient and vice versa.
Conv2DTranspose::Conv2DTranspose(Config& config)
    : ConvLayerBase(config, "Conv2DTranspose", /*allow_strided_dilation=*/true),
      filters_(positive(config, "filters", 0, layer_label(config, "Conv2DTranspose") + ": ")),
      kernel_init_(initializer_or(config, "kernel_initializer", "glorot_uniform")) {
  reject_keras_extras(config, {"output_padding", "kernel_regularizer", "kernel_constraint"});
}

void Conv2DTranspose::build_kernels(BuildContext& ctx) {
  const ConvSpatialOptions& s = spatial_;
  const std::size_t eff_h = (s.kh - 1) * s.dh + 1, eff_w = (s.kw - 1) * s.dw + 1;
  out_h_ = in_h_ * s.sh + (s.same_padding ? 0 : (eff_h > s.sh ? eff_h - s.sh : 0));
  out_w_ = in_w_ * s.sw + (s.same_padding ? 0 : (eff_w > s.sw ? eff_w - s.sw : 0));
  out_c_ = filters_;
  ConvGeometry g;
  g.in_h = out_h_, g.in_w = out_w_, g.in_c = filters_;
  g.out_h = in_h_, g.out_w = in_w_, g.out_c = in_c_;
  g.kh = s.kh, g.kw = s.kw, g.sh = s.sh, g.sw = s.sw, g.dh = s.dh, g.dw = s.dw;
  if (s.same_padding) {  // TensorFlow's split for the forward convolution out -> in
    g.pad_top = same_pad_before(out_h_, in_h_, eff_h, s.sh);
    g.pad_left = same_pad_before(out_w_, in_w_, eff_w, s.sw);
  }
  adjoint_.configure(g);
  kernel_ = &ctx.add_weight("kernel", {s.kh, s.kw, filters_, in_c_}, kernel_init_);
}

void Conv2DTranspose::compute(const float* x, std::size_t batch, float* y, bool /*training*/) {
  adjoint_.transposed_forward(x, batch, kernel_->value_data, y);
}

void Conv2DTranspose::compute_backward(const float* dz, std::size_t batch, float* dx) {
  adjoint_.transposed_backward(x_nhwc_, dz, batch, kernel_->value_data, kernel_->grad_data, dx);
}

void Conv2DTranspose::add_config(Json& config) const {
  config["filters"] = filters_;
  config["kernel_initializer"] = kernel_init_.to_json();
  config["output_padding"] = nullptr;
}

}  // namespace plugfit
