// Layers without weights: InputLayer, Activation, Dropout, Flatten.
#pragma once

#include <plugfit/layer.hpp>

#include "activations.hpp"

namespace plugfit {

// Declares the input shape of a model (Keras 3 configs start with one); identity otherwise.
class InputLayer final : public Layer {
 public:
  MaskSupport mask_support() const override { return MaskSupport::propagate; }
  explicit InputLayer(Config& config);
  // The declared shape without batch.
  const Shape& shape() const { return shape_; }
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override { (void)training; return x; }
  const Tensor& backward(const Tensor& dy) override { return dy; }
  Json get_config() const override;

 private:
  Shape shape_;
};

class Activation final : public Layer {
 public:
  MaskSupport mask_support() const override { return MaskSupport::propagate; }
  explicit Activation(Config& config);
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;
  bool fuse_softmax_backward() override;

 private:
  ActivationKind kind_;
  bool softmax_fused_ = false;
  const Tensor* x_ = nullptr;  // the input, read by backward for gelu, swish and mish
  Tensor y_, dx_;
};

// Inverted dropout: in training, zeroes each input with probability rate and scales the rest by
// 1 / (1 - rate); identity at inference. Draws from the model's generator.
class Dropout final : public Layer {
 public:
  MaskSupport mask_support() const override { return MaskSupport::propagate; }
  explicit Dropout(Config& config);
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;

 private:
  float rate_;
  SampleStreams* samples_ = nullptr;
  bool applied_ = false;
  Tensor mask_, y_, dx_;
};

// Flatten: (N, d1, d2, ...) -> (N, d1 * d2 * ...), row-major (for images (N, H, W, C): over H,
// then W, then C, as Keras flattens channels_last).
class Flatten final : public Layer {
 public:
  explicit Flatten(Config& config);
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;

 private:
  Shape input_batch_shape_;  // (batch, input shape...), the batch set per backward
  std::size_t features_ = 0;
  Tensor y_, dx_;
};

// The input shape a layer config declares through Keras's keys ("batch_shape",
// "batch_input_shape", "input_shape", "shape", "input_dim"), or an empty optional.
std::optional<Shape> declared_input_shape(const Json& layer_config);

}  // namespace plugfit
