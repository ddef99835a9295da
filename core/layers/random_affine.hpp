// Keras 3's geometric image augmentations: RandomRotation, RandomZoom, RandomTranslation.
//
// In training each image gets its own affine map, drawn from the model's generator (seeded by
// the run's seed, saved in checkpoints): output pixel (row, col) reads the input at
//   x = a0 col + a1 row + a2,  y = b0 col + b1 row + b2
// with bilinear (default) or nearest interpolation, and points outside the image filled as
// fill_mode says: "reflect" (d c b a | a b c d | d c b a, the default), "wrap", "nearest" or
// "constant" (fill_value), each tap of the interpolation fixed on its own, as Keras's
// map_coordinates does. In inference the layers are the identity. "seed" is refused: the run's
// seed fixes them. backward() is the adjoint of the last forward's sampling.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "preprocessing.hpp"

namespace plugfit {

class RandomAffine : public Layer {
 public:
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;

 protected:
  using Transform = std::array<float, 6>;  // a0, a1, a2, b0, b1, b2
  RandomAffine(Config& config, const char* class_name);
  // One image's map, drawn from rng, for an image of the given size.
  virtual Transform draw(Rng& rng, float height, float width) const = 0;
  // fill_mode, interpolation, fill_value and data_format, for get_config().
  Json common_config() const;
  const char* class_name_;

 private:
  enum class Fill { reflect, wrap, nearest, constant };
  // Up to four input offsets (or -1: outside, the fill value) and weights for output (row, col).
  void taps(const Transform& t, std::size_t row, std::size_t col, std::array<long, 4>& at,
            std::array<float, 4>& weight) const;
  long fix(long index, long size) const;
  std::string fill_mode_name_, interpolation_;
  DataFormat data_format_;
  Fill fill_ = Fill::reflect;
  bool bilinear_ = true;
  double fill_value_;
  ImageLayout image_;
  SampleStreams* samples_ = nullptr;
  bool applied_ = false;
  std::vector<Transform> transforms_;  // per image of the last batch
  Tensor y_, dx_;
};

// factor: a number f (angles in [-f, f] of a full turn) or [lower, upper].
class RandomRotation final : public RandomAffine {
 public:
  explicit RandomRotation(Config& config);
  Json get_config() const override;

 private:
  Transform draw(Rng& rng, float height, float width) const override;
  Json factor_config_;
  double lower_, upper_;
};

// height_factor (and width_factor, or null: the same zoom both ways): zoom 1 + u with u in
// [-f, f] or [lower, upper]; positive zooms out.
class RandomZoom final : public RandomAffine {
 public:
  explicit RandomZoom(Config& config);
  Json get_config() const override;

 private:
  Transform draw(Rng& rng, float height, float width) const override;
  Json height_config_, width_config_;
  double height_lower_, height_upper_, width_lower_ = 0, width_upper_ = 0;
};

// height_factor and width_factor: shifts of u * height and u * width, u in [-f, f] or [lower, upper].
class RandomTranslation final : public RandomAffine {
 public:
  explicit RandomTranslation(Config& config);
  Json get_config() const override;

 private:
  Transform draw(Rng& rng, float height, float width) const override;
  Json height_config_, width_config_;
  double height_lower_, height_upper_, width_lower_, width_upper_;
};

}  // namespace plugfit
