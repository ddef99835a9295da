// Reshape, ZeroPadding2D, Cropping2D, UpSampling2D and SpatialDropout2D, as in Keras.
#pragma once

#include <array>
#include <vector>

#include <plugfit/layer.hpp>

#include "spatial_options.hpp"

namespace plugfit {

// Reshape(target_shape): the sample's elements in row-major order, laid out in target_shape
// (without batch); one entry may be -1, inferred from the input's size.
// requires: the input's size equals the target's (or is divisible by the known entries' product).
class Reshape final : public Layer {
 public:
  explicit Reshape(Config& config);
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;

 private:
  std::vector<long long> target_;  // as given, -1 included
  Shape in_batch_shape_, out_batch_shape_;
  Tensor y_, dx_;
};

// ZeroPadding2D(padding): zero rows above/below and columns left/right of each image;
// padding n, (vertical, horizontal) or ((top, bottom), (left, right)); default 1.
class ZeroPadding2D final : public Layer {
 public:
  explicit ZeroPadding2D(Config& config);
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;

 private:
  std::array<std::size_t, 4> sides_;  // top, bottom, left, right
  DataFormat format_;
  ImageLayout in_, out_;
  Shape in_batch_shape_, out_batch_shape_;
  Tensor y_, dx_;
};

// Cropping2D(cropping): removes rows/columns at the borders (same forms as ZeroPadding2D;
// default 0). requires: at least one row and one column left (else InputError).
class Cropping2D final : public Layer {
 public:
  explicit Cropping2D(Config& config);
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;

 private:
  std::array<std::size_t, 4> sides_;
  DataFormat format_;
  ImageLayout in_, out_;
  Shape in_batch_shape_, out_batch_shape_;
  Tensor y_, dx_;
};

// UpSampling2D(size, interpolation): output (H * size_h, W * size_w). "nearest" repeats each
// row and column (Keras's ops.repeat); "bilinear" samples input coordinate
// (out + 0.5) / size - 0.5, clamped to the image, between its two neighbours (the half-pixel
// rule of Keras 3's ops.image.resize, antialiasing having no effect when enlarging).
class UpSampling2D final : public Layer {
 public:
  explicit UpSampling2D(Config& config);
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;

 private:
  // For one output row (or column): the two input rows it blends and the weight of the upper.
  struct Tap {
    std::size_t low, high;
    float high_weight;
  };
  static std::vector<Tap> taps(std::size_t in, std::size_t scale, bool bilinear);

  std::array<std::size_t, 2> size_;
  bool bilinear_;
  DataFormat format_;
  ImageLayout in_, out_;
  std::vector<Tap> row_taps_, col_taps_;
  Shape in_batch_shape_, out_batch_shape_;
  Tensor y_, dx_;
};

// SpatialDropout2D(rate): in training, drops whole channels of each sample with probability rate
// and scales the kept ones by 1 / (1 - rate), the mask drawn from the model's generator (one
// uniform per sample and channel, sample-major); identity at inference.
class SpatialDropout2D final : public Layer {
 public:
  explicit SpatialDropout2D(Config& config);
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;

 private:
  void apply_mask(const float* in, float* out, std::size_t batch) const;

  float rate_;
  DataFormat format_;
  ImageLayout in_;
  SampleStreams* samples_ = nullptr;
  bool applied_ = false;
  std::vector<float> mask_;  // per (sample, channel): 0 or 1 / (1 - rate)
  Shape in_batch_shape_;
  Tensor y_, dx_;
};

}  // namespace plugfit
