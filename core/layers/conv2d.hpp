// Keras's 2-D convolutions: Conv2D, DepthwiseConv2D, SeparableConv2D and Conv2DTranspose.
// requires: input (H, W, C) (channels_last, the default) or (C, H, W) (data_format
// "channels_first"); kernels in Keras 3's layouts: Conv2D "kernel" (kh, kw, C / groups,
// filters), DepthwiseConv2D "depthwise_kernel" (kh, kw, C, depth_multiplier), SeparableConv2D
// "depthwise_kernel" and "pointwise_kernel" (1, 1, C * depth_multiplier, filters),
// Conv2DTranspose "kernel" (kh, kw, filters, C); "bias" (output channels) when use_bias.
// ensures: "same" padding splits as TensorFlow does (the odd extra row/column at the bottom/
// right); Conv2DTranspose's output is in * stride ("same") or in * stride + max(k - stride, 0)
// ("valid"), Keras's rule without output_padding; no allocation per batch once sizes are steady.
#pragma once

#include <plugfit/layer.hpp>

#include "activations.hpp"
#include "conv_kernels.hpp"
#include "spatial_options.hpp"

namespace plugfit {

// What every convolution shares: options, data_format, bias, activation. Subclasses compute
// in channels_last between compute() and compute_backward().
class ConvLayerBase : public Layer {
 public:
  Shape build(const Shape& input_shape, BuildContext& ctx) final;
  const Tensor& forward(const Tensor& x, bool training) final;
  const Tensor& backward(const Tensor& dy) final;
  Json get_config() const final;

 protected:
  // allow_strided_dilation: strides > 1 with dilation_rate > 1, which Keras refuses in Conv2D.
  ConvLayerBase(Config& config, const char* class_name, bool allow_strided_dilation = false);
  // The initializer at key, or fallback's when absent or null.
  static Initializer initializer_or(Config& config, const char* key, const char* fallback);
  std::string label() const { return layer_label(name(), class_name_); }
  std::string where() const { return label() + ": "; }
  // Declares the kernels and sets out_h_, out_w_, out_c_ from in_h_, in_w_, in_c_.
  virtual void build_kernels(BuildContext& ctx) = 0;
  // y (batch, out_h, out_w, out_c) from x (batch, in_h, in_w, in_c), both channels_last;
  // training: compute_backward follows with the same x.
  virtual void compute(const float* x, std::size_t batch, float* y, bool training) = 0;
  // Overwrites the kernels' gradients from dz = d(loss)/d(pre-activation y) and x_nhwc_; writes
  // dx unless null.
  virtual void compute_backward(const float* dz, std::size_t batch, float* dx) = 0;
  virtual void add_config(Json& config) const = 0;

  const char* class_name_;
  ConvSpatialOptions spatial_;
  ActivationKind activation_;
  bool use_bias_;
  Initializer bias_init_;
  std::size_t in_h_ = 0, in_w_ = 0, in_c_ = 0, out_h_ = 0, out_w_ = 0, out_c_ = 0;
  const float* x_nhwc_ = nullptr;  // the last forward's input, channels_last (alive until backward)

 private:
  // channels_last with relu or no activation: bias and relu in one pass over y, and their
  // backward in one pass over dy.
  bool fused_epilogue() const;
  void add_bias_relu(float* y, std::size_t rows, bool relu) const;
  // dz (when relu) and the bias gradient from dy; y is read only when relu.
  void relu_and_bias_backward(const float* y, const float* dy, float* dz, std::size_t rows, bool relu);

  Weight* bias_ = nullptr;
  std::vector<float> bias_partials_;  // the bias gradient of thread chunks 1.. (chunk 0 writes it)
  Tensor y_, z_, dz_, dx_;
  std::vector<float> x_last_, y_last_, dz_last_, dx_last_;  // channels_last copies for channels_first
};

class Conv2D final : public ConvLayerBase {
 public:
  explicit Conv2D(Config& config);

 private:
  void build_kernels(BuildContext& ctx) override;
  void compute(const float* x, std::size_t batch, float* y, bool training) override;
  void compute_backward(const float* dz, std::size_t batch, float* dx) override;
  void add_config(Json& config) const override;

  std::size_t filters_, groups_;
  Initializer kernel_init_;
  Weight* kernel_ = nullptr;
  ConvEngine engine_;
};

class DepthwiseConv2D final : public ConvLayerBase {
 public:
  explicit DepthwiseConv2D(Config& config);

 private:
  void build_kernels(BuildContext& ctx) override;
  void compute(const float* x, std::size_t batch, float* y, bool training) override;
  void compute_backward(const float* dz, std::size_t batch, float* dx) override;
  void add_config(Json& config) const override;

  std::size_t multiplier_;
  Initializer depthwise_init_;
  Weight* kernel_ = nullptr;
  ConvEngine engine_;  // groups = channels, one input channel per group
};

class SeparableConv2D final : public ConvLayerBase {
 public:
  explicit SeparableConv2D(Config& config);

 private:
  void build_kernels(BuildContext& ctx) override;
  void compute(const float* x, std::size_t batch, float* y, bool training) override;
  void compute_backward(const float* dz, std::size_t batch, float* dx) override;
  void add_config(Json& config) const override;

  std::size_t filters_, multiplier_;
  Initializer depthwise_init_, pointwise_init_;
  Weight* depthwise_ = nullptr;
  Weight* pointwise_ = nullptr;
  ConvEngine depthwise_engine_, pointwise_engine_;
  std::vector<float> middle_, dmiddle_;  // the depthwise output and its gradient
};

class Conv2DTranspose final : public ConvLayerBase {
 public:
  explicit Conv2DTranspose(Config& config);

 private:
  void build_kernels(BuildContext& ctx) override;
  void compute(const float* x, std::size_t batch, float* y, bool training) override;
  void compute_backward(const float* dz, std::size_t batch, float* dx) override;
  void add_config(Json& config) const override;

  std::size_t filters_;
  Initializer kernel_init_;
  Weight* kernel_ = nullptr;
  // The forward convolution this layer transposes: from the output image to the input image.
  ConvEngine adjoint_;
};

}  // namespace plugfit
