// BatchNormalization, as Keras 3 defines it.
//
// Normalizes each feature along `axis` (an axis of the full tensor, batch included: -1 by
// default, 1 for channels_first images; never the batch axis 0):
//   training   y = gamma * (x - mean_b) / sqrt(var_b + epsilon) + beta, with the batch mean and
//              the biased batch variance over every other axis; then
//              moving = moving * momentum + batch * (1 - momentum) for mean and variance;
//   inference  the same with moving_mean and moving_variance, which stay unchanged.
// A frozen layer (Keras's "trainable": false) always runs in inference mode, as in Keras 3.
// Weights, in Keras's order: gamma (scale), beta (center), trainable; moving_mean and
// moving_variance, non-trainable (stepped by no optimizer, kept in every checkpoint).
// backward() is the exact gradient of the mode forward() ran in: in training it flows through
// the batch mean and variance.
#pragma once

#include <vector>

#include <plugfit/layer.hpp>

namespace plugfit {

class BatchNormalization final : public Layer {
 public:
  MaskSupport mask_support() const override { return MaskSupport::propagate; }
  // Throws InputError naming the layer for a negative or non-finite epsilon or a momentum
  // outside [0, 1], and for the Keras options plugfit does not implement (regularizers,
  // constraints, renorm).
  explicit BatchNormalization(Config& config);
  // Throws InputError naming the layer, the axis and the shape when axis is the batch axis or
  // outside the input's rank.
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;

 private:
  int axis_;
  double momentum_, epsilon_;  // as given, so get_config() returns them unchanged
  bool center_, scale_;
  bool synchronized_;  // Keras's cross-device statistics: plugfit trains on one device, where it changes nothing
  Initializer beta_init_, gamma_init_, moving_mean_init_, moving_variance_init_;
  // The input as outer x channels x inner blocks: channels_ = the size along axis.
  std::size_t channels_ = 0, inner_ = 0;
  bool frozen_ = false;
  Weight* gamma_ = nullptr;
  Weight* beta_ = nullptr;
  Weight* moving_mean_ = nullptr;
  Weight* moving_variance_ = nullptr;
  bool used_batch_stats_ = false;     // the mode of the last forward(), for backward()
  std::vector<float> inv_std_;        // per channel, of the last forward()
  std::vector<double> sum_dy_, sum_dy_xhat_;
  Tensor x_hat_, y_, dx_;
};

}  // namespace plugfit
