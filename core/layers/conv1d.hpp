// Conv1D as in Keras: input (steps, channels) (channels_last, the default) or (channels, steps)
// (channels_first); "kernel" (kernel_size, channels / groups, filters), "bias" (filters).
// padding "valid", "same" (TensorFlow's split: the odd extra step at the end) or "causal"
// ((kernel_size - 1) * dilation_rate zeros before the sequence, none after, as Keras pads).
// Computed by the 2-D engine on a one-row image.
// requires: a valid kernel (with its dilation) no longer than the input; strides and
// dilation_rate not both above 1 (Keras refuses it); channels and filters divisible by groups.
// ensures: no allocation per batch once the batch size is steady.
#pragma once

#include <vector>

#include <plugfit/layer.hpp>

#include "activations.hpp"
#include "conv_kernels.hpp"
#include "spatial_options.hpp"

namespace plugfit {

class Conv1D final : public Layer {
 public:
  explicit Conv1D(Config& config);
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;

 private:
  enum class Padding { valid, same, causal };
  std::string label() const { return layer_label(name(), "Conv1D"); }

  std::size_t filters_, kernel_size_, stride_, dilation_, groups_;
  Padding padding_;
  DataFormat format_;
  ActivationKind activation_;
  bool use_bias_;
  Initializer kernel_init_, bias_init_;
  std::size_t steps_ = 0, channels_ = 0, out_steps_ = 0;
  Weight* kernel_ = nullptr;
  Weight* bias_ = nullptr;
  ConvEngine engine_;
  const float* x_last_ = nullptr;  // the last forward's input, channels_last
  Tensor y_, z_, dz_, dx_;
  std::vector<float> x_t_, y_t_, dz_t_, dx_t_;  // channels_last copies for channels_first
};

}  // namespace plugfit
