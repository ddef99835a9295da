#include "conv2d.hpp"

#include <algorithm>

#include "keras_options.hpp"
#include "util/parallel.hpp"

namespace plugfit {

Initializer ConvLayerBase::initializer_or(Config& config, const char* key, const char* fallback) {
  return Initializer::from_json(config.has(key) ? config.raw(key) : Json(fallback));
}

ConvLayerBase::ConvLayerBase(Config& config, const char* class_name, bool allow_strided_dilation)
    : class_name_(class_name),
      spatial_(ConvSpatialOptions::read(config, layer_label(config, class_name), allow_strided_dilation)),
      activation_(parse_activation(config.raw("activation"), class_name)),
      use_bias_(config.get<bool>("use_bias", true)),
      bias_init_(initializer_or(config, "bias_initializer", "zeros")) {
  accept_keras_layer_options(config);
  reject_keras_extras(config, {"bias_regularizer", "activity_regularizer", "bias_constraint"});
}

Shape ConvLayerBase::build(const Shape& input_shape, BuildContext& ctx) {
  spatial_.image_of(input_shape, label(), in_h_, in_w_, in_c_);
  build_kernels(ctx);
  if (use_bias_) bias_ = &ctx.add_weight("bias", {out_c_}, bias_init_);
  return spatial_.shape_of(out_h_, out_w_, out_c_);
}

// y += bias, then relu when relu: one pass over each row, rows split over the threads.
void ConvLayerBase::add_bias_relu(float* y, std::size_t rows, bool relu) const {
  const float* __restrict b = use_bias_ ? bias_->value_data : nullptr;
  const std::size_t channels = out_c_;
  parallel_for(rows, [y, b, channels, relu](std::size_t begin, std::size_t end, int) {
    for (std::size_t r = begin; r < end; ++r) {
      float* __restrict row = y + r * channels;
      if (b)
        for (std::size_t c = 0; c < channels; ++c) row[c] += b[c];
      if (relu)
        for (std::size_t c = 0; c < channels; ++c) row[c] = row[c] > 0.f ? row[c] : 0.f;
    }
  });
}

// dz = relu'(y) * dy when relu (else dz is dy), and the bias gradient: each chunk's partial sum,
// added in chunk order (fixed for a fixed thread count).
void ConvLayerBase::relu_and_bias_backward(const float* y, const float* dy, float* dz, std::size_t rows, bool relu) {
  const std::size_t channels = out_c_;
  const int chunks = static_cast<int>(std::min<std::size_t>(rows, static_cast<std::size_t>(threads())));
  if (use_bias_ && chunks > 1) sized(bias_partials_, std::size_t(chunks - 1) * channels);
  float* gb = use_bias_ ? bias_->grad_data : nullptr;
  if (gb) std::fill_n(gb, channels, 0.f);
  float* partials = bias_partials_.data();
  parallel_for(rows, [y, dy, dz, gb, partials, channels, relu](std::size_t begin, std::size_t end, int chunk) {
    float* __restrict sum = !gb ? nullptr : chunk == 0 ? gb : partials + std::size_t(chunk - 1) * channels;
    if (sum && chunk > 0) std::fill_n(sum, channels, 0.f);
    for (std::size_t r = begin; r < end; ++r) {
      const float* __restrict yr = y + r * channels;
      const float* __restrict dyr = dy + r * channels;
      float* __restrict dzr = dz + r * channels;
      if (relu)
        for (std::size_t c = 0; c < channels; ++c) dzr[c] = yr[c] > 0.f ? dyr[c] : 0.f;
      if (sum)
        for (std::size_t c = 0; c < channels; ++c) sum[c] += (relu ? dzr : dyr)[c];
    }
  });
  for (int chunk = 1; gb && chunk < chunks; ++chunk)
    for (std::size_t c = 0; c < channels; ++c) gb[c] += bias_partials_[std::size_t(chunk - 1) * channels + c];
}

bool ConvLayerBase::fused_epilogue() const {
  return !spatial_.channels_first() && (activation_ == ActivationKind::relu || activation_ == ActivationKind::linear);
}

const Tensor& ConvLayerBase::forward(const Tensor& x, bool training) {
  const std::size_t batch = x.shape()[0], rows = batch * out_h_ * out_w_;
  const bool first = spatial_.channels_first();
  if (first) y_.resize({batch, out_c_, out_h_, out_w_});
  else y_.resize({batch, out_h_, out_w_, out_c_});
  const float* x_nhwc = x.data();
  if (first) {
    nchw_to_nhwc(x.data(), batch, in_c_, in_h_, in_w_, sized(x_last_, x.size()));
    x_nhwc = x_last_.data();
  }
  float* y_nhwc = first ? sized(y_last_, y_.size()) : y_.data();
  x_nhwc_ = x_nhwc;
  compute(x_nhwc, batch, y_nhwc, training);
  if (fused_epilogue()) {
    add_bias_relu(y_nhwc, rows, activation_ == ActivationKind::relu);
    return y_;
  }
  if (use_bias_) add_bias_relu(y_nhwc, rows, false);
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
  const bool first = spatial_.channels_first();
  const float* dz_nhwc = dy.data();
  if (fused_epilogue()) {
    const bool relu = activation_ == ActivationKind::relu;
    if (relu) dz_.resize(y_.shape()), dz_nhwc = dz_.data();
    relu_and_bias_backward(y_.data(), dy.data(), relu ? dz_.data() : nullptr, rows, relu);
  } else {
    const Tensor* dz = &dy;
    if (activation_ != ActivationKind::linear) {
      dz_.resize(y_.shape());
      const std::size_t last = y_.shape().back();
      activation_backward(activation_, z_.data(), y_.data(), dy.data(), dz_.data(), y_.size() / last, last);
      dz = &dz_;
    }
    dz_nhwc = dz->data();
    if (first) {
      nchw_to_nhwc(dz->data(), batch, out_c_, out_h_, out_w_, sized(dz_last_, dz->size()));
      dz_nhwc = dz_last_.data();
    }
    if (use_bias_) relu_and_bias_backward(nullptr, dz_nhwc, nullptr, rows, false);
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
  const std::string at = layer_label(config, "Conv2D") + ": ";
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

void Conv2D::compute(const float* x, std::size_t batch, float* y, bool training) {
  engine_.forward(x, batch, kernel_->value_data, y, training);
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
