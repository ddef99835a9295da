// The Sequential model's state: a stack of layers over one flat parameter buffer.
//
// The class is public (plugfit/sequential.hpp); its state lives here, behind the pimpl, so the
// installed header carries none of it. from_config() constructs the layers from a Keras-shaped
// config through the registry; build() gives them the input shape, lays every weight out in
// one flat parameter buffer (and a gradient buffer of the same layout) and draws initial
// weights from the seed. compile() attaches the optimizer, the loss and the metrics. The
// training loop lives in training/fit.hpp; the Keras-style members in api/sequential_api.cpp.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <plugfit/sequential.hpp>

namespace plugfit {

// "Dense" -> "dense", "UpSampling2D" -> "up_sampling2d", "acme>MyScale" -> "my_scale": the base
// of the names Keras gives layers (and Keras 3's .weights.h5 groups) by their class.
std::string keras_snake_case(const std::string& class_name);

struct Sequential::Impl {
  std::vector<std::unique_ptr<Layer>> layers_;
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
  SampleStreams samples_{rng_};  // over rng_: the training draws per sample (rng.hpp)
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<Loss> loss_;
  std::string loss_name_;
  std::vector<std::unique_ptr<Metric>> metrics_;
  bool softmax_fused_ = false;
  // The public API's part: what names resolve through (absent for a model the host built from
  // a bare Registry), the compile config as full type specs, and a compile waiting for build().
  std::optional<Context> context_;
  Json compile_config_ = Json::object();
  bool compile_pending_ = false;
};

// Compiles with the config compile(CompileOptions) stored before the model was built (build() calls it).
void apply_pending_compile(Sequential& model);

// Host side of the pimpl.
struct SequentialAccess {
  using Impl = Sequential::Impl;
  static Sequential::Impl& impl(Sequential& model) { return *model.impl_; }
  static const Sequential::Impl& impl(const Sequential& model) { return *model.impl_; }
};

}  // namespace plugfit
