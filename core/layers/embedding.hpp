// Embedding and Masking: the layers that start a sequence model and make its mask.
//
// Embedding: input (steps) of token ids held as floats, output (steps, output_dim), weight
// "embeddings" (input_dim, output_dim) drawn uniform in [-0.05, 0.05] by default (Keras's
// "uniform"). mask_zero: output_mask() is 1 where the id is not 0. input_length (Keras 2) is
// accepted and must equal the input's steps.
// requires: every id an integer in [0, input_dim); else forward() throws InputError naming the
// layer, the sample (row of the batch) and the id. input_dim at most 2^24: ids are float32,
// exact below 2^24 (an int32/int64 npy or a CSV converts exactly, a larger id never passes).
// check_ids(x, data) checks a whole data set (n, steps) before training, so that a bad id is
// named by its sample and step in the data, not by its row in a shuffled batch.
// ensures: backward() scatters dy into the rows the batch used and zeroes only the rows the
// previous batch used (the whole gradient the first time); ids get no input gradient.
//
// Masking: output = input with every step whose features all equal mask_value zeroed (Keras);
// output_mask() is 1 where some feature differs from mask_value. requires input (steps, features).
#pragma once

#include <vector>

#include <plugfit/layer.hpp>

namespace plugfit {

class Embedding final : public Layer {
 public:
  explicit Embedding(Config& config);
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;
  MaskSupport mask_support() const override { return MaskSupport::propagate; }
  const Tensor* output_mask() const override { return mask_zero_ ? &mask_ : input_mask(); }
  // InputError "DATA: sample S holds token id V at step T, outside input_dim D of layer ...".
  void check_ids(const Tensor& x, const std::string& data) const;

 private:
  bool takes_id(float v) const;
  std::size_t input_dim_, output_dim_;
  Initializer init_;
  bool mask_zero_;
  std::size_t input_length_ = 0;  // 0: not given
  std::size_t steps_ = 0;
  Weight* embeddings_ = nullptr;
  std::vector<std::uint32_t> ids_;      // the last forward's ids, (batch * steps)
  std::vector<std::uint32_t> touched_;  // rows of the gradient the last backward wrote
  const float* cleared_grad_ = nullptr; // the gradient buffer touched_ refers to
  Tensor y_, mask_, dx_;
};

class Masking final : public Layer {
 public:
  explicit Masking(Config& config);
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;
  MaskSupport mask_support() const override { return MaskSupport::propagate; }
  const Tensor* output_mask() const override { return &mask_; }

 private:
  float mask_value_;
  std::size_t steps_ = 0, features_ = 0;
  Tensor y_, mask_, dx_;
};

}  // namespace plugfit
