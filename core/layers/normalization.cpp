#include "normalization.hpp"

#include <cmath>

#include "keras_options.hpp"
#include "spatial_options.hpp"

namespace plugfit {

namespace {
Initializer initializer_or(Config& config, const char* key, const char* fallback) {
  return Initializer::from_json(config.has(key) ? config.raw(key) : Json(fallback));
}
// Keras 3 writes an int; tf.keras 2 writes the list it built ([3]). One axis either way.
int read_axis(Config& config) {
  const Json& axis = config.raw("axis");
  if (axis.is_null()) return -1;
  if (axis.is_number_integer()) return axis.get<int>();
  if (axis.is_array() && axis.size() == 1 && axis[0].is_number_integer()) return axis[0].get<int>();
  throw InputError("BatchNormalization: \"axis\" must be one integer (plugfit normalizes along one axis), got " + json_excerpt(axis));
}

}  // namespace

BatchNormalization::BatchNormalization(Config& config)
    : axis_(read_axis(config)),
      momentum_(config.get<double>("momentum", 0.99)),
      epsilon_(config.get<double>("epsilon", 1e-3)),
      center_(config.get<bool>("center", true)),
      scale_(config.get<bool>("scale", true)),
      synchronized_(config.get<bool>("synchronized", false)),
      beta_init_(initializer_or(config, "beta_initializer", "zeros")),
      gamma_init_(initializer_or(config, "gamma_initializer", "ones")),
      moving_mean_init_(initializer_or(config, "moving_mean_initializer", "zeros")),
      moving_variance_init_(initializer_or(config, "moving_variance_initializer", "ones")) {
  if (!(std::isfinite(epsilon_) && epsilon_ >= 0.0))
    throw InputError("BatchNormalization: \"epsilon\" must be a non-negative number, got " + json_excerpt(config.raw("epsilon")));
  if (!(momentum_ >= 0.0 && momentum_ <= 1.0))
    throw InputError("BatchNormalization: \"momentum\" must be in [0, 1], got " + json_excerpt(config.raw("momentum")));
  if (config.get<bool>("renorm", false))
    throw InputError("BatchNormalization: the option \"renorm\" is not supported by plugfit (use false)");
  // Keras reads renorm_clipping and renorm_momentum only with renorm.
  config.accept({"renorm_clipping", "renorm_momentum"});
  // tf.keras 2's "fused" picks a kernel, not the math.
  if (config.has("fused") && !config.raw("fused").is_boolean())
    throw InputError("BatchNormalization: \"fused\" must be true, false or null, got " + json_excerpt(config.raw("fused")));
  reject_keras_extras(config, {"virtual_batch_size", "adjustment"});
  accept_keras_layer_options(config);
  reject_keras_extras(config, {"beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint"});
}

Shape BatchNormalization::build(const Shape& input_shape, BuildContext& ctx) {
  const int rank = static_cast<int>(input_shape.size()) + 1;  // with the batch axis
  const int axis = axis_ < 0 ? axis_ + rank : axis_;
  if (axis <= 0 || axis >= rank)
    throw InputError(layer_label(name(), "BatchNormalization") + ": axis " + std::to_string(axis_) +
                     (axis == 0 ? " is the batch axis" : " is outside the input's rank " + std::to_string(rank)) +
                     " for input " + shape_str(input_shape));
  channels_ = input_shape[std::size_t(axis - 1)];
  inner_ = 1;
  for (std::size_t d = std::size_t(axis); d < input_shape.size(); ++d) inner_ *= input_shape[d];
  const Shape params{channels_};
  if (scale_) gamma_ = &ctx.add_weight("gamma", params, gamma_init_);
  if (center_) beta_ = &ctx.add_weight("beta", params, beta_init_);
  moving_mean_ = &ctx.add_weight("moving_mean", params, moving_mean_init_, false);
  moving_variance_ = &ctx.add_weight("moving_variance", params, moving_variance_init_, false);
  // A frozen layer makes its gamma and beta non-trainable; Keras 3 then normalizes with the
  // moving statistics even in training. (Without gamma and beta there is nothing to tell.)
  frozen_ = (gamma_ != nullptr && !gamma_->trainable) || (beta_ != nullptr && !beta_->trainable);
  inv_std_.assign(channels_, 0.f);
  sum_dy_.assign(channels_, 0.0);
  sum_dy_xhat_.assign(channels_, 0.0);
  return input_shape;
}

const Tensor& BatchNormalization::forward(const Tensor& x, bool training) {
  used_batch_stats_ = training && !frozen_;
  const std::size_t outer = x.size() / (channels_ * inner_);
  const std::size_t count = outer * inner_;  // values per channel
  x_hat_.resize(x.shape());
  y_.resize(x.shape());
  const float* in = x.data();
  float* xh = x_hat_.data();
  float* out = y_.data();
  float* mm = moving_mean_->value_data;
  float* mv = moving_variance_->value_data;
  const float momentum = static_cast<float>(momentum_), epsilon = static_cast<float>(epsilon_);
  for (std::size_t c = 0; c < channels_; ++c) {
    float mean, variance;
    if (used_batch_stats_) {
      double sum = 0.0;
      for (std::size_t o = 0; o < outer; ++o) {
        const float* block = in + (o * channels_ + c) * inner_;
        for (std::size_t i = 0; i < inner_; ++i) sum += block[i];
      }
      const double m = count == 0 ? 0.0 : sum / double(count);
      double squares = 0.0;  // two passes: exact for inputs with a large mean
      for (std::size_t o = 0; o < outer; ++o) {
        const float* block = in + (o * channels_ + c) * inner_;
        for (std::size_t i = 0; i < inner_; ++i) squares += (block[i] - m) * (block[i] - m);
      }
      mean = static_cast<float>(m);
      variance = static_cast<float>(count == 0 ? 0.0 : squares / double(count));
      mm[c] = mm[c] * momentum + mean * (1.f - momentum);
      mv[c] = mv[c] * momentum + variance * (1.f - momentum);
    } else {
      mean = mm[c];
      variance = mv[c];
    }
    const float inv_std = 1.f / std::sqrt(variance + epsilon);
    inv_std_[c] = inv_std;
    const float gamma = scale_ ? gamma_->value_data[c] : 1.f;
    const float beta = center_ ? beta_->value_data[c] : 0.f;
    for (std::size_t o = 0; o < outer; ++o) {
      const std::size_t base = (o * channels_ + c) * inner_;
      for (std::size_t i = 0; i < inner_; ++i) {
        xh[base + i] = (in[base + i] - mean) * inv_std;
        out[base + i] = xh[base + i] * gamma + beta;
      }
    }
  }
  return y_;
}

const Tensor& BatchNormalization::backward(const Tensor& dy) {
  const std::size_t outer = dy.size() / (channels_ * inner_);
  const double count = double(outer * inner_);
  const float* d = dy.data();
  const float* xh = x_hat_.data();
  for (std::size_t c = 0; c < channels_; ++c) {
    double s = 0.0, sx = 0.0;
    for (std::size_t o = 0; o < outer; ++o) {
      const std::size_t base = (o * channels_ + c) * inner_;
      for (std::size_t i = 0; i < inner_; ++i) {
        s += d[base + i];
        sx += double(d[base + i]) * xh[base + i];
      }
    }
    sum_dy_[c] = s;
    sum_dy_xhat_[c] = sx;
    if (scale_) gamma_->grad_data[c] = static_cast<float>(sx);
    if (center_) beta_->grad_data[c] = static_cast<float>(s);
  }
  if (!needs_input_gradient()) return dx_;
  dx_.resize(dy.shape());
  float* dx = dx_.data();
  for (std::size_t c = 0; c < channels_; ++c) {
    const double g = (scale_ ? gamma_->value_data[c] : 1.0) * inv_std_[c];
    // Through the batch statistics: dx = g * (dy - mean(dy) - x_hat * mean(dy * x_hat)).
    const double mean_dy = used_batch_stats_ && count > 0 ? sum_dy_[c] / count : 0.0;
    const double mean_dy_xhat = used_batch_stats_ && count > 0 ? sum_dy_xhat_[c] / count : 0.0;
    for (std::size_t o = 0; o < outer; ++o) {
      const std::size_t base = (o * channels_ + c) * inner_;
      for (std::size_t i = 0; i < inner_; ++i)
        dx[base + i] = static_cast<float>(g * (d[base + i] - mean_dy - xh[base + i] * mean_dy_xhat));
    }
  }
  return dx_;
}

Json BatchNormalization::get_config() const {
  return {{"name", name()},
          {"axis", axis_},
          {"momentum", momentum_},
          {"epsilon", epsilon_},
          {"center", center_},
          {"scale", scale_},
          {"beta_initializer", beta_init_.to_json()},
          {"gamma_initializer", gamma_init_.to_json()},
          {"moving_mean_initializer", moving_mean_init_.to_json()},
          {"moving_variance_initializer", moving_variance_init_.to_json()},
          {"beta_regularizer", nullptr},
          {"gamma_regularizer", nullptr},
          {"beta_constraint", nullptr},
          {"gamma_constraint", nullptr},
          {"synchronized", synchronized_}};
}

}  // namespace plugfit
