// Bidirectional, as Keras 3 defines it (keras/src/layers/rnn/bidirectional.py): a forward and a
// backward recurrent layer (SimpleRNN, LSTM or GRU) over the same input and mask, their outputs
// merged by "merge_mode": "concat" (the default; forward's units first), "sum", "mul" or "ave".
// merge_mode null (two outputs) is refused: a Sequential model carries one tensor.
//
// "layer" is the forward layer's spec, renamed "forward_<name>" (a "forward_" prefix kept once);
// "backward_layer" (optional) is the backward one's, else a copy of "layer" with go_backwards
// flipped (tf.keras 2 flips it; Keras 3 sets it true, the same for a forward layer), named
// "backward_<name>". They must differ in go_backwards and agree on
// return_sequences (Keras's _verify_layer_config); sum, mul and ave need equal units.
// With return_sequences the backward output is flipped back to time order before merging, and
// masked steps output zeros in both (Keras forces zero_output_for_mask = return_sequences).
// Weights: the forward layer's, then the backward layer's, Keras's kernel, recurrent_kernel,
// bias each, declared as "<name>/forward_lstm/kernel", "<name>/backward_lstm/kernel", ...
// Randomness (dropout): the forward layer draws its masks first, then the backward layer.
// ensures: no allocation per batch once the batch size is steady.
#pragma once

#include <memory>
#include <string>

#include <plugfit/layer.hpp>

namespace plugfit {

class Recurrent;

class Bidirectional final : public Layer {
 public:
  enum class Merge { concat, sum, mul, ave };

  explicit Bidirectional(Config& config);
  ~Bidirectional() override;
  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;
  MaskSupport mask_support() const override { return MaskSupport::use; }
  const Tensor* output_mask() const override { return return_sequences_ ? input_mask() : nullptr; }

 private:
  std::string label() const;
  Json inner_config(const Layer& layer, const std::string& class_name, bool trainable) const;

  std::unique_ptr<Layer> forward_, backward_;
  Recurrent* fwd_ = nullptr;
  Recurrent* bwd_ = nullptr;
  std::string forward_class_, backward_class_;
  bool forward_trainable_ = true, backward_trainable_ = true;
  Merge merge_ = Merge::concat;
  bool return_sequences_ = false;
  std::size_t steps_ = 0, uf_ = 0, ub_ = 0;
  // Both outputs as merged: (N, T, U) in time order with masked steps zeroed, or (N, U).
  Tensor yf_, yb_, y_;
  Tensor dyf_, dyb_, dx_;
};

}  // namespace plugfit
