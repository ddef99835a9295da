// The Sequential model: a stack of layers over one flat parameter buffer.
//
// from_config() constructs the layers from a Keras-shaped config through the registry;
// build() gives them the input shape, lays every weight out in one flat parameter buffer (and
// a gradient buffer of the same layout) and draws initial weights from the seed. compile()
// attaches the optimizer, the loss and the metrics. Training, evaluation and prediction live
// in training/fit.hpp.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <plugfit/loss.hpp>
#include <plugfit/model.hpp>

namespace plugfit {

class Registry;  // plugfit/registry.hpp: only from_config() needs it

class Sequential final : public Model {
 public:
  // Accepts {"class_name": "Sequential", "config": {"layers": [...]}} or {"layers": [...]}.
  // Throws InputError naming the layer index and what is wrong.
  static std::unique_ptr<Sequential> from_config(const Json& config, const Registry& registry);

  // The input shape the config declares (an InputLayer or a first layer's input_shape), if any.
  const std::optional<Shape>& declared_input_shape() const { return declared_input_shape_; }

  // requires: not built. Throws InputError naming the layer and both shapes on a mismatch.
  void build(const Shape& input_shape, std::uint64_t seed);
  bool built() const { return built_; }
  const Shape& input_shape() const { return input_shape_; }
  const Shape& output_shape() const { return output_shape_; }

  // requires: built. The metric names are Keras's ("accuracy" resolves from the shapes of the first batch).
  void compile(std::unique_ptr<Optimizer> optimizer, std::unique_ptr<Loss> loss, std::string loss_name,
               std::vector<std::unique_ptr<Metric>> metrics);
  bool compiled() const { return loss_ != nullptr; }
  Loss& loss() const { return *loss_; }
  const std::string& loss_name() const { return loss_name_; }
  std::vector<std::unique_ptr<Metric>>& metrics() { return metrics_; }
  // True when the last layer's softmax and the loss fuse (set by compile()).
  bool softmax_fused() const { return softmax_fused_; }

  // x is (batch, input_shape...). The returned output lives until the next forward().
  const Tensor& forward(const Tensor& x, bool training);
  // dy: d(loss)/d(output), or d(loss)/d(logits) when softmax_fused(). Fills gradients().
  void backward(const Tensor& dy);

  Rng& rng() { return rng_; }
  std::size_t num_params() const { return params_.size(); }
  const std::string& layer_class(std::size_t index) const { return class_names_[index]; }
  // A one-screen summary like Keras's model.summary().
  std::string summary() const;

  // Model
  std::size_t num_layers() const override { return layers_.size(); }
  Layer& layer(std::size_t index) override { return *layers_.at(index); }
  const std::vector<Weight*>& weights() const override { return weights_; }
  std::span<float> parameters() override { return params_; }
  std::span<float> gradients() override { return grads_; }
  std::size_t num_trainable() const override { return num_trainable_; }
  Optimizer* optimizer() override { return optimizer_.get(); }
  Json get_config() const override;

 private:
  Sequential() = default;
  // Rethrows the exception in flight as a RuntimeFailure naming layer i and the step.
  [[noreturn]] void rethrow_from_layer(std::size_t i, const char* step) const;

  std::vector<std::unique_ptr<Layer>> layers_;
  // The trainable weights sorted by offset (the optimizer's per-weight sizes).
  std::vector<const Weight*> trainable_in_buffer_order() const;

  std::vector<std::string> class_names_;
  std::vector<bool> trainable_;  // per layer: false when frozen ("trainable": false)
  std::vector<std::string> origins_;  // "plugin acme 1.2.0" or empty, per layer
  std::optional<Shape> declared_input_shape_;
  Shape input_shape_, output_shape_;
  bool built_ = false;
  std::vector<Shape> layer_output_shapes_;
  std::vector<std::size_t> layer_params_;
  std::size_t first_learning_layer_ = 0;
  std::deque<Weight> weight_store_;
  std::vector<Weight*> weights_;
  std::vector<float> params_, grads_;
  std::size_t num_trainable_ = 0;  // floats at the front of params_ that the optimizer steps
  Rng rng_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<Loss> loss_;
  std::string loss_name_;
  std::vector<std::unique_ptr<Metric>> metrics_;
  bool softmax_fused_ = false;
};

}  // namespace plugfit
