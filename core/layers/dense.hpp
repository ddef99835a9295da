// Dense: y = activation(x @ kernel + bias), kernel (inputs, units) as in Keras.
// requires: input shape (features,); a wider input is an error suggesting Flatten.
#pragma once

#include <plugfit/layer.hpp>

#include "activations.hpp"

namespace plugfit {

class Dense final : public Layer {
 public:
  MaskSupport mask_support() const override { return MaskSupport::propagate; }
  explicit Dense(Config& config);
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;
  bool fuse_softmax_backward() override;

 private:
  std::size_t units_;
  ActivationKind activation_;
  bool use_bias_;
  Initializer kernel_init_, bias_init_;
  std::size_t inputs_ = 0;
  Weight* kernel_ = nullptr;
  Weight* bias_ = nullptr;
  bool softmax_fused_ = false;
  const Tensor* x_ = nullptr;
  Tensor z_, y_, dz_, dx_;  // z_: the pre-activation, kept only when the activation needs it
};

}  // namespace plugfit
