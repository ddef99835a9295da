// MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D, GlobalAveragePooling1D, as in Keras.
//
// Pooling1D: pool_size (default 2), strides (default and null: pool_size), padding "valid" or
// "same" (TensorFlow's split, the odd padded step at the end), data_format. Max routes each
// gradient to the first maximum of its window; average divides by the real (unpadded) steps.
// requires: input (steps, channels) (or (channels, steps) channels_first); with "valid", a pool
// no longer than the input. No mask (Keras 2 refuses one).
//
// Global pooling over the steps: output (channels), or (1, channels) / (channels, 1) with
// keepdims. GlobalAveragePooling1D consumes a mask as Keras does (keras/src/layers/pooling/
// global_average_pooling1d.py): the mean over the unmasked steps; a sample with every step
// masked gets zeros (Keras divides 0 by 0). GlobalMaxPooling1D takes no mask.
#pragma once

#include <cstdint>
#include <vector>

#include <plugfit/layer.hpp>

#include "pooling.hpp"
#include "spatial_options.hpp"

namespace plugfit {

// The (channels, steps) of one sample and the distance in floats between neighbours of each.
struct SequenceLayout {
  std::size_t steps = 0, channels = 0, step_stride = 0, channel_stride = 0;
  std::size_t at(std::size_t step, std::size_t channel) const { return step * step_stride + channel * channel_stride; }
};

class Pooling1D : public Layer {
 public:
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;

 protected:
  Pooling1D(Config& config, PoolKind kind, const char* class_name);

 private:
  PoolKind kind_;
  const char* class_name_;
  std::size_t pool_, stride_;
  bool same_padding_;
  DataFormat format_;
  SequenceLayout in_, out_;
  std::size_t pad_before_ = 0;
  std::vector<std::uint32_t> argmax_;  // max: per output element, its input within the sample
  Tensor y_, dx_;
};

class MaxPooling1D final : public Pooling1D {
 public:
  explicit MaxPooling1D(Config& config) : Pooling1D(config, PoolKind::max, "MaxPooling1D") {}
};

class AveragePooling1D final : public Pooling1D {
 public:
  explicit AveragePooling1D(Config& config) : Pooling1D(config, PoolKind::average, "AveragePooling1D") {}
};

class GlobalPooling1D : public Layer {
 public:
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;
  MaskSupport mask_support() const override {
    return kind_ == PoolKind::average ? MaskSupport::use : MaskSupport::none;
  }
  const Tensor* output_mask() const override { return nullptr; }

 protected:
  GlobalPooling1D(Config& config, PoolKind kind, const char* class_name);

 private:
  PoolKind kind_;
  const char* class_name_;
  bool keepdims_;
  DataFormat format_;
  SequenceLayout in_;
  std::vector<std::uint32_t> argmax_;  // max: per (sample, channel), its step
  std::vector<float> weights_;         // average: per (sample, step), 1 / real steps or 0 when masked
  Shape out_shape_;
  Tensor y_, dx_;
};

class GlobalMaxPooling1D final : public GlobalPooling1D {
 public:
  explicit GlobalMaxPooling1D(Config& config) : GlobalPooling1D(config, PoolKind::max, "GlobalMaxPooling1D") {}
};

class GlobalAveragePooling1D final : public GlobalPooling1D {
 public:
  explicit GlobalAveragePooling1D(Config& config)
      : GlobalPooling1D(config, PoolKind::average, "GlobalAveragePooling1D") {}
};

}  // namespace plugfit
