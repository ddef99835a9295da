// Layers of a Sequential model.
//
// A layer is built once with the shape of its input (without the batch dimension). In build()
// it declares its weights through the BuildContext; the model then places every weight of every
// layer in one flat parameter buffer (and one flat gradient buffer) and initializes them, so
// Weight::value() and Weight::grad() are valid from the first forward() on.
//
// forward(x, training) returns the output, held by the layer until the next forward().
// The model guarantees that x stays alive and unchanged until the matching backward().
// backward(dy) receives d(loss)/d(output) and must
//   - overwrite (not accumulate) the gradient of every weight it declared, and
//   - return d(loss)/d(input), unless needs_input_gradient() is false (the first layer), in
//     which case it may return any tensor.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "export.hpp"
#include "rng.hpp"
#include "tensor.hpp"

namespace plugfit {

// How a weight gets its initial values: Keras's names ("glorot_uniform", "he_normal", "zeros",
// "ones", ...) or their {"class_name": "GlorotUniform", "config": {...}} form, and Keras's
// {"class_name": "VarianceScaling", "config": {"scale", "mode", "distribution"}} (how Keras 2.0-2.3
// serialize glorot_uniform and the others), drawn exactly as Keras defines it; "orthogonal"
// ({"class_name": "Orthogonal", "config": {"gain"}}) as Keras draws it: Q of the QR of a normal
// matrix, signs fixed by diag(R).
class PLUGFIT_API Initializer {
 public:
  // Throws InputError naming the initializer and listing the known ones.
  static Initializer from_json(const Json& spec);
  Initializer() = default;
  explicit Initializer(std::string name) : name_(std::move(name)) {}

  const std::string& name() const { return name_; }
  Json to_json() const;
  // Fills values (of the given shape: fans as Keras computes them) drawing from rng.
  void fill(float* values, const Shape& shape, Rng& rng) const;
  // The same initializer for an LSTM bias of 4 * units with Keras's unit_forget_bias: the
  // forget gate's block (the second) is ones, the others are drawn as Keras draws them.
  Initializer with_unit_forget_bias(std::size_t units) const;

 private:
  std::string name_ = "glorot_uniform";
  double value_ = 0.0;     // Constant
  double stddev_ = 0.05;   // RandomNormal
  double minval_ = -0.05;  // RandomUniform
  double maxval_ = 0.05;
  double scale_ = 1.0;                         // VarianceScaling
  std::string mode_ = "fan_in";                // fan_in, fan_out or fan_avg
  std::string distribution_ = "truncated_normal";  // truncated_normal, untruncated_normal or uniform
  double gain_ = 1.0;                          // Orthogonal
  std::size_t forget_bias_units_ = 0;          // with_unit_forget_bias
};

// A named weight in the model's flat buffers: "dense_1/kernel".
//
// value() and grad() are views over the weight's slices, built once when the model places the
// weight (bind()) and returned by reference: calling them in forward()/backward() allocates
// nothing. Keep the reference (`const TensorView& w = kernel_->value();`, or `auto&`); copying
// a TensorView copies its dynamic shape, which allocates.
// A non-trainable weight (trainable false: declared so by the layer, or every weight of a layer
// with Keras's "trainable": false) lives in the same buffers and every checkpoint, after the
// trainable ones; the optimizer never steps it and its gradient stays unused.
struct PLUGFIT_API Weight {
  std::string name;
  Shape shape;
  Initializer initializer;
  bool trainable = true;
  std::size_t offset = 0;  // in floats, into the flat buffers
  std::size_t size = 0;
  float* value_data = nullptr;
  float* grad_data = nullptr;

  // Places the weight at values/grads (size floats each) and builds its views.
  void bind(float* values, float* grads) {
    value_data = values;
    grad_data = grads;
    value_view_.emplace(view_of(values, shape));
    grad_view_.emplace(view_of(grads, shape));
  }
  // requires: bound. A weight whose pointers were reassigned without bind() gets new views
  // (once); the steady state allocates nothing.
  TensorView& value() const {
    if (!value_view_ || value_view_->data() != value_data) value_view_.emplace(view_of(value_data, shape));
    return *value_view_;
  }
  TensorView& grad() const {
    if (!grad_view_ || grad_view_->data() != grad_data) grad_view_.emplace(view_of(grad_data, shape));
    return *grad_view_;
  }

 private:
  mutable std::optional<TensorView> value_view_, grad_view_;
};

class Layer;

// What a layer may use while it is built.
class PLUGFIT_API BuildContext {
 public:
  virtual ~BuildContext();
  // Declares a weight named "<layer name>/<name>". The reference stays valid for the model's life.
  // trainable false: a state the layer updates itself (BatchNormalization's moving mean), saved
  // and restored with the weights but never stepped by the optimizer. In a frozen layer
  // ("trainable": false) every weight is non-trainable whatever is passed here.
  virtual Weight& add_weight(const std::string& name, const Shape& shape, const Initializer& init,
                             bool trainable = true) = 0;
  // The model's generator: seeded by the run's seed and saved in checkpoints.
  virtual Rng& rng() = 0;
  // Per-sample streams over rng() for training-time randomness (dropout, augmentation): draw
  // from these, not from rng() directly, so that data-parallel ranks agree (see rng.hpp).
  virtual SampleStreams& sample_streams() = 0;
};

class PLUGFIT_API Layer {
 public:
  virtual ~Layer();

  // Creates the weights and returns the output shape (without batch).
  // Throws InputError naming the layer and the shape when the input shape does not fit.
  virtual Shape build(const Shape& input_shape, BuildContext& ctx) = 0;
  virtual const Tensor& forward(const Tensor& x, bool training) = 0;
  virtual const Tensor& backward(const Tensor& dy) = 0;
  // The constructor arguments as JSON, so that get_config() rebuilds an equal layer.
  virtual Json get_config() const = 0;

  // A layer whose output is a softmax may let the loss hand it d(loss)/d(logits) directly
  // (softmax fused with cross-entropy: exact and cheaper). Return true to accept; backward()
  // then receives gradients with respect to the pre-softmax logits.
  virtual bool fuse_softmax_backward() { return false; }

  // Masks (Keras's Embedding(mask_zero=True) and Masking): which time steps of a sequence batch
  // are real. A mask is a (batch, steps) tensor of 1 (a real step) and 0 (padding). Before each
  // forward() the model hands the layer the mask of its input (set_input_mask; nullptr: none),
  // valid until the next forward(); after forward() it asks output_mask() for the next layer's.
  // mask_support() says what the layer does with an input mask:
  //   none:      cannot take one; the model stops with an InputError naming the layer (the default),
  //   propagate: ignores it and passes it on unchanged (Dense, Activation, Dropout, ...),
  //   use:       reads input_mask() in forward()/backward() and computes output_mask() itself
  //              (an LSTM with return_sequences passes it on; without, returns nullptr).
  // A layer that creates a mask (Embedding with mask_zero) overrides output_mask() whatever it
  // declares here; the returned tensor is the layer's, valid until its next forward().
  enum class MaskSupport { none, propagate, use };
  virtual MaskSupport mask_support() const { return MaskSupport::none; }
  virtual const Tensor* output_mask() const {
    return mask_support() == MaskSupport::propagate ? input_mask_ : nullptr;
  }
  void set_input_mask(const Tensor* mask) { input_mask_ = mask; }
  const Tensor* input_mask() const { return input_mask_; }

  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  bool needs_input_gradient() const { return needs_input_gradient_; }
  void set_needs_input_gradient(bool needed) { needs_input_gradient_ = needed; }

 private:
  std::string name_;
  bool needs_input_gradient_ = true;
  const Tensor* input_mask_ = nullptr;
};

}  // namespace plugfit
