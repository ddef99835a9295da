#include "embedding.hpp"

#include <algorithm>
#include <cmath>

#include "keras_options.hpp"
#include "spatial_options.hpp"

namespace plugfit {

namespace {

std::string number_str(float v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15f) return std::to_string(static_cast<long long>(v));
  char text[32];
  std::snprintf(text, sizeof text, "%g", static_cast<double>(v));
  return text;
}

// Keras's default "uniform" is its alias of RandomUniform(-0.05, 0.05).
Initializer embeddings_initializer(Config& config) {
  const Json spec = config.has("embeddings_initializer") ? config.raw("embeddings_initializer") : Json();
  if (spec.is_null() || spec == "uniform") return Initializer::from_json("random_uniform");
  return Initializer::from_json(spec);
}

// Token ids travel as float32, exact for every integer below 2^24; no larger vocabulary is taken,
// so an id is never rounded onto another row.
constexpr std::size_t kMaxInputDim = std::size_t{1} << 24;

}  // namespace

Embedding::Embedding(Config& config)
    : input_dim_(config.require<std::size_t>("input_dim")),
      output_dim_(config.require<std::size_t>("output_dim")),
      init_(embeddings_initializer(config)),
      mask_zero_(config.get<bool>("mask_zero", false)) {
  const std::string at = layer_label(config, "Embedding") + ": ";
  if (input_dim_ == 0) throw InputError(at + "\"input_dim\" must be a positive integer");
  if (input_dim_ > kMaxInputDim)
    throw InputError(at + "\"input_dim\" " + std::to_string(input_dim_) + " is above 16777216 (2^24), the most " +
                     "token ids float32 inputs hold exactly");
  if (output_dim_ == 0) throw InputError(at + "\"output_dim\" must be a positive integer");
  if (config.has("input_length") && !config.raw("input_length").is_null())
    input_length_ = config.require<std::size_t>("input_length");
  accept_keras_layer_options(config);
  reject_keras_extras(config, {"embeddings_regularizer", "embeddings_constraint", "activity_regularizer",
                               "lora_rank", "sparse"});
}

Shape Embedding::build(const Shape& input_shape, BuildContext& ctx) {
  const std::string label = layer_label(name(), "Embedding");
  if (input_shape.size() != 1)
    throw InputError(label + " expects input of shape (None, steps) of token ids, got " + shape_str(input_shape));
  if (input_length_ != 0 && input_length_ != input_shape[0])
    throw InputError(label + ": \"input_length\" is " + std::to_string(input_length_) + " but the input has " +
                     std::to_string(input_shape[0]) + " steps");
  steps_ = input_shape[0];
  embeddings_ = &ctx.add_weight("embeddings", {input_dim_, output_dim_}, init_);
  return {steps_, output_dim_};
}

bool Embedding::takes_id(float v) const {
  return v >= 0.f && v == std::floor(v) && v < static_cast<float>(input_dim_);
}

void Embedding::check_ids(const Tensor& x, const std::string& data) const {
  const std::size_t row = x.shape()[0] == 0 ? 0 : x.size() / x.shape()[0];
  const float* in = x.data();
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!takes_id(in[i]))
      throw InputError(data + ": sample " + std::to_string(i / row) + " holds token id " + number_str(in[i]) +
                       " at step " + std::to_string(i % row) + ", outside input_dim " + std::to_string(input_dim_) +
                       " of " + layer_label(name(), "Embedding"));
}

const Tensor& Embedding::forward(const Tensor& x, bool /*training*/) {
  const std::size_t batch = x.shape()[0], n = batch * steps_;
  ids_.resize(n);
  const float* in = x.data();
  for (std::size_t i = 0; i < n; ++i) {
    const float v = in[i];
    if (!takes_id(v))
      throw InputError(layer_label(name(), "Embedding") + ": sample " + std::to_string(i / steps_) +
                       " of the batch holds token id " + number_str(v) + ", outside input_dim " +
                       std::to_string(input_dim_));
    ids_[i] = static_cast<std::uint32_t>(v);
  }
  y_.resize({batch, steps_, output_dim_});
  const float* table = embeddings_->value_data;
  for (std::size_t i = 0; i < n; ++i) std::copy_n(table + ids_[i] * output_dim_, output_dim_, y_.data() + i * output_dim_);
  if (mask_zero_) {
    mask_.resize({batch, steps_});
    for (std::size_t i = 0; i < n; ++i) mask_.data()[i] = ids_[i] != 0 ? 1.f : 0.f;
  }
  return y_;
}

const Tensor& Embedding::backward(const Tensor& dy) {
  float* grad = embeddings_->grad_data;
  if (cleared_grad_ != grad) {  // first backward on this buffer: it may hold anything
    std::fill_n(grad, input_dim_ * output_dim_, 0.f);
    cleared_grad_ = grad;
  } else {
    for (std::uint32_t row : touched_) std::fill_n(grad + row * output_dim_, output_dim_, 0.f);
  }
  touched_.assign(ids_.begin(), ids_.end());  // capacity reached once: no allocation per batch
  const float* d = dy.data();
  for (std::size_t i = 0; i < ids_.size(); ++i) {
    float* __restrict row = grad + ids_[i] * output_dim_;
    const float* __restrict src = d + i * output_dim_;
    for (std::size_t c = 0; c < output_dim_; ++c) row[c] += src[c];
  }
  if (needs_input_gradient()) {  // token ids have no gradient: zeros for a layer before (the model's first never asks)
    dx_.resize({dy.shape()[0], steps_});
    std::fill(dx_.begin(), dx_.end(), 0.f);
  }
  return dx_;
}

Json Embedding::get_config() const {
  Json config = {{"name", name()},
                 {"input_dim", input_dim_},
                 {"output_dim", output_dim_},
                 {"embeddings_initializer", init_.to_json()},
                 {"mask_zero", mask_zero_}};
  if (input_length_ != 0) config["input_length"] = input_length_;
  return config;
}

Masking::Masking(Config& config) : mask_value_(config.get<float>("mask_value", 0.f)) {
  accept_keras_layer_options(config);
}

Shape Masking::build(const Shape& input_shape, BuildContext&) {
  if (input_shape.size() != 2)
    throw InputError(layer_label(name(), "Masking") + " expects input of shape (None, steps, features), got " +
                     shape_str(input_shape));
  steps_ = input_shape[0];
  features_ = input_shape[1];
  return input_shape;
}

const Tensor& Masking::forward(const Tensor& x, bool /*training*/) {
  const std::size_t batch = x.shape()[0], n = batch * steps_;
  y_.resize(x.shape());
  mask_.resize({batch, steps_});
  for (std::size_t s = 0; s < n; ++s) {
    const float* __restrict in = x.data() + s * features_;
    bool real = false;
    for (std::size_t f = 0; f < features_; ++f) real |= in[f] != mask_value_;
    mask_.data()[s] = real ? 1.f : 0.f;
    float* __restrict out = y_.data() + s * features_;
    for (std::size_t f = 0; f < features_; ++f) out[f] = real ? in[f] : 0.f;
  }
  return y_;
}

const Tensor& Masking::backward(const Tensor& dy) {
  if (!needs_input_gradient()) return dx_;
  dx_.resize(dy.shape());
  const std::size_t n = dy.shape()[0] * steps_;
  for (std::size_t s = 0; s < n; ++s) {
    const float keep = mask_.data()[s];
    for (std::size_t f = 0; f < features_; ++f) dx_.data()[s * features_ + f] = dy.data()[s * features_ + f] * keep;
  }
  return dx_;
}

Json Masking::get_config() const { return {{"name", name()}, {"mask_value", mask_value_}}; }

}  // namespace plugfit
