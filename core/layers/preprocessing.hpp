// Keras 3's preprocessing layers: Rescaling, Normalization, Resizing, and the image
// augmentations RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomContrast.
//
// Images are (N, H, W, C), or (N, C, H, W) with data_format "channels_first".
// The augmentations are the identity in inference (training false) and in training draw one
// transform per image from the model's generator (BuildContext::rng(): seeded by the run's seed
// and saved in checkpoints, so a seed fixes them and a resume repeats them). Their "seed"
// option is refused: the run's seed fixes them, as it fixes Dropout. Every backward() is the
// exact gradient of the last forward() (the augmentations' fixed per-image transforms).
#pragma once

#include <array>
#include <string>
#include <vector>

#include <plugfit/layer.hpp>

#include "spatial_options.hpp"

namespace plugfit {

// y = x * scale + offset.
class Rescaling final : public Layer {
 public:
  explicit Rescaling(Config& config);
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;

 private:
  double scale_, offset_;
  Tensor y_, dx_;
};

// y = (x - mean) / max(sqrt(variance), 1e-7) (invert: x * max(sqrt(variance), 1e-7) + mean), with
// one mean and variance per position along `axis` (an int, a list of axes of the full tensor,
// never the batch axis 0, or null: one for everything). mean and variance given in the config
// (a number, or nested lists shaped as the kept axes) are constants; without them the layer has
// Keras's non-trainable weights "mean", "variance" and "count", which a Keras file or a
// checkpoint fills. plugfit has no adapt(): values come from the config or from loaded weights.
class Normalization final : public Layer {
 public:
  explicit Normalization(Config& config);
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;

 private:
  Json axis_config_, mean_config_, variance_config_;
  bool invert_;
  std::vector<std::size_t> param_of_;  // per position in a sample: its mean/variance index
  std::vector<float> given_mean_, given_variance_;
  Weight* mean_ = nullptr;
  Weight* variance_ = nullptr;
  std::vector<float> denominator_;
  Tensor y_, dx_;
};

// Resizes images to (height, width): "bilinear" (half-pixel centers, no antialiasing, as
// TensorFlow's resize) or "nearest"; crop_to_aspect_ratio crops the largest centered window of
// the target's aspect ratio first.
class Resizing final : public Layer {
 public:
  explicit Resizing(Config& config);
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;

 private:
  std::size_t height_, width_;
  std::string interpolation_;
  bool crop_to_aspect_ratio_;
  DataFormat data_format_;
  ImageLayout in_, out_;
  std::array<std::size_t, 3> in_dims_{}, out_dims_{};  // the image shapes, so a batch's shape allocates nothing
  // Per output row / column: two source indices and the weight of the second.
  std::vector<std::size_t> row0_, row1_, col0_, col1_;
  std::vector<float> row_weight_, col_weight_;
  Tensor y_, dx_;
};

// Flips each image left-right ("horizontal"), upside down ("vertical") or both
// ("horizontal_and_vertical", the default), each with probability 1/2.
class RandomFlip final : public Layer {
 public:
  explicit RandomFlip(Config& config);
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;

 private:
  const Tensor& apply(const Tensor& in, Tensor& out) const;
  std::string mode_;
  DataFormat data_format_;
  bool horizontal_, vertical_;
  ImageLayout image_;
  SampleStreams* samples_ = nullptr;
  bool applied_ = false;
  std::vector<unsigned char> flip_rows_, flip_cols_;  // per image of the last batch
  Tensor y_, dx_;
};

// RandomContrast: per image and channel, (x - mean over H and W) * f + mean, f uniform in
// [1 - lower, 1 + upper], clipped to value_range ([0, 255] by default).
class RandomContrast final : public Layer {
 public:
  explicit RandomContrast(Config& config);
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;

 private:
  Json factor_config_;
  double lower_, upper_;
  double value_min_ = 0.0, value_max_ = 255.0;
  DataFormat data_format_;
  ImageLayout image_;
  SampleStreams* samples_ = nullptr;
  bool applied_ = false;
  std::vector<float> factors_;
  Tensor y_, dx_;
};

}  // namespace plugfit
