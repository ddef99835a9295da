#include "sequence_layers.hpp"

#include <algorithm>
#include <cmath>

#include <plugfit/keras_config.hpp>

#include "keras_options.hpp"
#include "spatial_options.hpp"
#include "wrapped_layer.hpp"

namespace plugfit {

namespace {

Initializer initializer_or(Config& config, const char* key, const char* fallback) {
  const Json spec = config.has(key) ? config.raw(key) : Json();
  return Initializer::from_json(spec.is_null() ? Json(fallback) : spec);
}

}  // namespace

LayerNormalization::LayerNormalization(Config& config)
    : epsilon_(config.get<double>("epsilon", 1e-3)),
      center_(config.get<bool>("center", true)),
      scale_(config.get<bool>("scale", true)),
      gamma_init_(initializer_or(config, "gamma_initializer", "ones")),
      beta_init_(initializer_or(config, "beta_initializer", "zeros")) {
  const std::string at = layer_label(config, "LayerNormalization") + ": ";
  Json axis = config.has("axis") ? config.raw("axis") : Json(-1);
  if (axis.is_array() && axis.size() == 1) axis = axis[0];
  // tf.keras 2 saves the positive index of the last axis ([2] for (None, steps, features)): checked in build().
  if (!axis.is_number_integer() || axis.get<long long>() == 0 || axis.get<long long>() < -1)
    throw InputError(at + "only axis -1 (the last axis) is supported, got " + axis.dump());
  axis_ = axis.get<long long>();
  if (config.get<bool>("rms_scaling", false)) throw InputError(at + "rms_scaling true is not supported");
  if (!(epsilon_ > 0.0)) throw InputError(at + "\"epsilon\" must be positive");
  accept_keras_layer_options(config);
  reject_keras_extras(config, {"beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint"});
}

Shape LayerNormalization::build(const Shape& input_shape, BuildContext& ctx) {
  if (input_shape.empty() || input_shape.back() == 0)
    throw InputError(layer_label(name(), "LayerNormalization") + " needs an input with a last axis, got " +
                     shape_str(input_shape));
  if (axis_ != -1 && static_cast<std::size_t>(axis_) != input_shape.size())
    throw InputError(layer_label(name(), "LayerNormalization") + ": only the last axis is supported, got axis " +
                     std::to_string(axis_) + " for input " + shape_str(input_shape));
  features_ = input_shape.back();
  if (scale_) gamma_ = &ctx.add_weight("gamma", {features_}, gamma_init_);
  if (center_) beta_ = &ctx.add_weight("beta", {features_}, beta_init_);
  return input_shape;
}

const Tensor& LayerNormalization::forward(const Tensor& x, bool /*training*/) {
  const std::size_t rows = x.size() / features_;
  y_.resize(x.shape());
  xhat_.resize(x.shape());
  inv_std_.resize({rows});
  const float* gamma = scale_ ? gamma_->value_data : nullptr;
  const float* beta = center_ ? beta_->value_data : nullptr;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* __restrict in = x.data() + r * features_;
    double mean = 0.0, var = 0.0;
    for (std::size_t f = 0; f < features_; ++f) mean += in[f];
    mean /= static_cast<double>(features_);
    for (std::size_t f = 0; f < features_; ++f) var += (in[f] - mean) * (in[f] - mean);
    var /= static_cast<double>(features_);
    const float inv = static_cast<float>(1.0 / std::sqrt(var + epsilon_));
    inv_std_.data()[r] = inv;
    float* __restrict xh = xhat_.data() + r * features_;
    float* __restrict out = y_.data() + r * features_;
    for (std::size_t f = 0; f < features_; ++f) {
      xh[f] = (in[f] - static_cast<float>(mean)) * inv;
      out[f] = xh[f] * (gamma ? gamma[f] : 1.f) + (beta ? beta[f] : 0.f);
    }
  }
  return y_;
}

const Tensor& LayerNormalization::backward(const Tensor& dy) {
  const std::size_t rows = dy.size() / features_;
  float* dgamma = scale_ ? gamma_->grad_data : nullptr;
  float* dbeta = center_ ? beta_->grad_data : nullptr;
  if (dgamma) std::fill_n(dgamma, features_, 0.f);
  if (dbeta) std::fill_n(dbeta, features_, 0.f);
  const float* gamma = scale_ ? gamma_->value_data : nullptr;
  if (needs_input_gradient()) dx_.resize(dy.shape());
  for (std::size_t r = 0; r < rows; ++r) {
    const float* __restrict d = dy.data() + r * features_;
    const float* __restrict xh = xhat_.data() + r * features_;
    for (std::size_t f = 0; f < features_; ++f) {
      if (dgamma) dgamma[f] += d[f] * xh[f];
      if (dbeta) dbeta[f] += d[f];
    }
    if (!needs_input_gradient()) continue;
    // dx = inv_std * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * gamma.
    double mean_g = 0.0, mean_gx = 0.0;
    for (std::size_t f = 0; f < features_; ++f) {
      const double g = d[f] * (gamma ? gamma[f] : 1.f);
      mean_g += g;
      mean_gx += g * xh[f];
    }
    mean_g /= static_cast<double>(features_);
    mean_gx /= static_cast<double>(features_);
    const float inv = inv_std_.data()[r];
    float* __restrict dx = dx_.data() + r * features_;
    for (std::size_t f = 0; f < features_; ++f) {
      const double g = d[f] * (gamma ? gamma[f] : 1.f);
      dx[f] = static_cast<float>(inv * (g - mean_g - xh[f] * mean_gx));
    }
  }
  return dx_;
}

Json LayerNormalization::get_config() const {
  return {{"name", name()},
          {"axis", -1},
          {"epsilon", epsilon_},
          {"center", center_},
          {"scale", scale_},
          {"rms_scaling", false},
          {"gamma_initializer", gamma_init_.to_json()},
          {"beta_initializer", beta_init_.to_json()}};
}

RepeatVector::RepeatVector(Config& config) : n_(config.require<std::size_t>("n")) {
  if (n_ == 0) throw InputError(layer_label(config, "RepeatVector") + ": \"n\" must be a positive integer");
  accept_keras_layer_options(config);
}

Shape RepeatVector::build(const Shape& input_shape, BuildContext&) {
  if (input_shape.size() != 1)
    throw InputError(layer_label(name(), "RepeatVector") + " expects input of shape (None, features), got " +
                     shape_str(input_shape));
  features_ = input_shape[0];
  return {n_, features_};
}

const Tensor& RepeatVector::forward(const Tensor& x, bool /*training*/) {
  const std::size_t batch = x.shape()[0];
  y_.resize({batch, n_, features_});
  for (std::size_t b = 0; b < batch; ++b)
    for (std::size_t i = 0; i < n_; ++i)
      std::copy_n(x.data() + b * features_, features_, y_.data() + (b * n_ + i) * features_);
  return y_;
}

const Tensor& RepeatVector::backward(const Tensor& dy) {
  if (!needs_input_gradient()) return dx_;
  const std::size_t batch = dy.shape()[0];
  dx_.resize({batch, features_});
  std::fill(dx_.begin(), dx_.end(), 0.f);
  for (std::size_t b = 0; b < batch; ++b)
    for (std::size_t i = 0; i < n_; ++i)
      for (std::size_t f = 0; f < features_; ++f) dx_.data()[b * features_ + f] += dy.data()[(b * n_ + i) * features_ + f];
  return dx_;
}

Json RepeatVector::get_config() const { return {{"name", name()}, {"n", n_}}; }

TimeDistributed::TimeDistributed(Config& config) {
  const std::string at = layer_label(config, "TimeDistributed") + ": ";
  if (config.raw("layer").is_null()) throw InputError(at + "needs \"layer\", the layer to apply to every step");
  InnerLayer inner = make_inner_layer(config, keras_layer_spec(config.raw("layer")), at, "layer");
  inner_ = std::move(inner.layer);
  inner_class_ = std::move(inner.class_name);
  inner_trainable_ = inner.trainable;
  accept_keras_layer_options(config);
}

Shape TimeDistributed::build(const Shape& input_shape, BuildContext& ctx) {
  if (input_shape.size() < 2)
    throw InputError(layer_label(name(), "TimeDistributed") + " expects input of shape (None, steps, ...), got " +
                     shape_str(input_shape));
  steps_ = input_shape[0];
  inner_in_.assign(input_shape.begin() + 1, input_shape.end());
  InnerBuildContext inner_ctx(ctx, inner_trainable_);
  try {
    inner_out_ = inner_->build(inner_in_, inner_ctx);
  } catch (const InputError& e) {
    throw InputError(layer_label(name(), "TimeDistributed") + ": " + e.what());
  }
  flat_in_ = Shape{0};
  flat_in_.insert(flat_in_.end(), inner_in_.begin(), inner_in_.end());
  flat_out_ = Shape{0};
  flat_out_.insert(flat_out_.end(), inner_out_.begin(), inner_out_.end());
  Shape out{steps_};
  out.insert(out.end(), inner_out_.begin(), inner_out_.end());
  out_full_ = Shape{0};
  out_full_.insert(out_full_.end(), out.begin(), out.end());
  in_full_ = Shape{0};
  in_full_.insert(in_full_.end(), input_shape.begin(), input_shape.end());
  return out;
}

const Tensor& TimeDistributed::forward(const Tensor& x, bool training) {
  const std::size_t batch = x.shape()[0];
  flat_in_[0] = batch * steps_;
  x_flat_.resize(flat_in_);
  std::copy(x.begin(), x.end(), x_flat_.begin());
  inner_->set_input_mask(nullptr);
  const Tensor& inner_y = inner_->forward(x_flat_, training);
  out_full_[0] = batch;
  y_.resize(out_full_);
  std::copy(inner_y.begin(), inner_y.end(), y_.begin());
  return y_;
}

const Tensor& TimeDistributed::backward(const Tensor& dy) {
  const std::size_t batch = dy.shape()[0];
  flat_out_[0] = batch * steps_;
  dy_flat_.resize(flat_out_);
  std::copy(dy.begin(), dy.end(), dy_flat_.begin());
  inner_->set_needs_input_gradient(needs_input_gradient());
  const Tensor& inner_dx = inner_->backward(dy_flat_);
  if (needs_input_gradient()) {
    in_full_[0] = batch;
    dx_.resize(in_full_);
    std::copy(inner_dx.begin(), inner_dx.end(), dx_.begin());
  }
  return dx_;
}

Json TimeDistributed::get_config() const {
  Json inner = inner_->get_config();
  if (!inner.is_object()) inner = Json::object();
  inner["name"] = inner_->name();
  if (!inner_trainable_) inner["trainable"] = false;
  return {{"name", name()}, {"layer", {{"class_name", inner_class_}, {"config", inner}}}};
}

}  // namespace plugfit
