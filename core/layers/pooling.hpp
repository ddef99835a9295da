// MaxPooling2D, AveragePooling2D, GlobalMaxPooling2D, GlobalAveragePooling2D, as in Keras.
//
// Pooling2D: pool_size (int or pair, default 2), strides (default and null: pool_size), padding
// "valid" or "same" (TensorFlow's split: out = ceil(in / stride), the odd padded row/column at
// the bottom/right), data_format. Max pooling's backward routes each gradient to the first
// maximum of its window in row-major window order (TensorFlow's argmax); average pooling divides
// by the number of real (unpadded) inputs in the window, as TensorFlow and Keras do.
// requires: input (H, W, C) (or (C, H, W) channels_first); with "valid" padding, a pool no
// larger than the input (else InputError naming the layer and both shapes).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include <plugfit/layer.hpp>

#include "spatial_options.hpp"

namespace plugfit {

enum class PoolKind { max, average };

class Pooling2D : public Layer {
 public:
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;

 protected:
  Pooling2D(Config& config, PoolKind kind, const char* class_name);

 private:
  // The input rows (or columns) a window starting at `start` (may be negative: padding) covers.
  struct Span {
    std::size_t begin, end;
  };
  Span rows_of(std::size_t out_row) const;
  Span cols_of(std::size_t out_col) const;
  void max_into(const float* x, float* y, std::uint32_t* args, std::uint32_t at) const;
  void add_into(const float* x, float* y) const;

  PoolKind kind_;
  const char* class_name_;
  std::array<std::size_t, 2> pool_, strides_;
  bool same_padding_;
  DataFormat format_;
  ImageLayout in_, out_;
  std::size_t pad_top_ = 0, pad_left_ = 0;
  std::vector<float> inverse_counts_;      // average: 1 / real inputs of each window (out h x w)
  std::vector<std::uint32_t> argmax_;      // max: per output element, its input within the sample
  Shape in_batch_shape_, out_batch_shape_;
  Tensor y_, dx_;
};

class MaxPooling2D final : public Pooling2D {
 public:
  explicit MaxPooling2D(Config& config) : Pooling2D(config, PoolKind::max, "MaxPooling2D") {}
};

class AveragePooling2D final : public Pooling2D {
 public:
  explicit AveragePooling2D(Config& config) : Pooling2D(config, PoolKind::average, "AveragePooling2D") {}
};

// Global pooling over height and width: output (C), or (1, 1, C) / (C, 1, 1) with keepdims.
// Max routes the gradient to the first maximum of each channel (row-major over H, W).
class GlobalPooling2D : public Layer {
 public:
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;

 protected:
  GlobalPooling2D(Config& config, PoolKind kind, const char* class_name);

 private:
  PoolKind kind_;
  const char* class_name_;
  bool keepdims_;
  DataFormat format_;
  ImageLayout in_;
  std::vector<std::uint32_t> argmax_;  // max: per (sample, channel), its input within the sample
  Shape in_batch_shape_, out_batch_shape_;
  Tensor y_, dx_;
};

class GlobalMaxPooling2D final : public GlobalPooling2D {
 public:
  explicit GlobalMaxPooling2D(Config& config) : GlobalPooling2D(config, PoolKind::max, "GlobalMaxPooling2D") {}
};

class GlobalAveragePooling2D final : public GlobalPooling2D {
 public:
  explicit GlobalAveragePooling2D(Config& config)
      : GlobalPooling2D(config, PoolKind::average, "GlobalAveragePooling2D") {}
};

}  // namespace plugfit
