// LayerNormalization, RepeatVector and TimeDistributed, as in Keras.
//
// LayerNormalization: normalizes each sample over its last axis (axis -1 or the last
// axis's positive index, as tf.keras 2 saves it), y = (x - mean) / sqrt(var + epsilon) * gamma + beta with the biased variance;
// epsilon 1e-3, "gamma" (ones) when scale, "beta" (zeros) when center, both (features).
// rms_scaling (Keras 3) only false. Passes a mask on.
//
// RepeatVector: (features) -> (n, features). Takes no mask.
//
// TimeDistributed: applies its "layer" ({"class_name", "config"}, any built-in layer) to every
// step of (steps, ...) inputs; its weights are the inner layer's, declared under this layer's
// name ("time_distributed/kernel", tf.keras's names). Passes a mask on; the inner layer sees none.
// ensures: no allocation per batch once the batch size is steady.
#pragma once

#include <memory>

#include <plugfit/layer.hpp>

namespace plugfit {

class LayerNormalization final : public Layer {
 public:
  explicit LayerNormalization(Config& config);
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;
  MaskSupport mask_support() const override { return MaskSupport::propagate; }

 private:
  long long axis_ = -1;  // -1, or the last axis's positive index (batch is 0)
  double epsilon_;
  bool center_, scale_;
  Initializer gamma_init_, beta_init_;
  std::size_t features_ = 0;
  Weight* gamma_ = nullptr;
  Weight* beta_ = nullptr;
  Tensor y_, xhat_, inv_std_, dx_;
};

class RepeatVector final : public Layer {
 public:
  explicit RepeatVector(Config& config);
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;

 private:
  std::size_t n_;
  std::size_t features_ = 0;
  Tensor y_, dx_;
};

class TimeDistributed final : public Layer {
 public:
  explicit TimeDistributed(Config& config);
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;
  MaskSupport mask_support() const override { return MaskSupport::propagate; }

 private:
  std::unique_ptr<Layer> inner_;
  std::string inner_class_;
  bool inner_trainable_ = true;
  std::size_t steps_ = 0;
  Shape inner_in_, inner_out_;  // per-step shapes (without batch)
  Shape flat_in_, flat_out_, in_full_, out_full_;  // batch-first shapes, batch set per batch
  Tensor x_flat_, y_, dy_flat_, dx_;
};

}  // namespace plugfit
