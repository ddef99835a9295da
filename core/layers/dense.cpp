#include "dense.hpp"

#include <algorithm>

#include <xtensor-blas/xblas.hpp>

#include "keras_options.hpp"

namespace plugfit {

Dense::Dense(Config& config)
    : units_(config.require<std::size_t>("units")),
      activation_(parse_activation(config.raw("activation"), "Dense")),
      use_bias_(config.get<bool>("use_bias", true)),
      kernel_init_(Initializer::from_json(config.has("kernel_initializer") ? config.raw("kernel_initializer")
                                                                              : Json("glorot_uniform"))),
      bias_init_(Initializer::from_json(config.has("bias_initializer") ? config.raw("bias_initializer")
                                                                          : Json("zeros"))) {
  if (units_ == 0) throw InputError("Dense: \"units\" must be a positive integer");
  accept_keras_layer_options(config);
  reject_keras_extras(config, {"kernel_regularizer", "bias_regularizer", "activity_regularizer",
                               "kernel_constraint", "bias_constraint"});
}

Shape Dense::build(const Shape& input_shape, BuildContext& ctx) {
  if (input_shape.size() != 1)
    throw InputError("layer \"" + name() + "\" (Dense) expects input of shape (None, features), got " +
                     shape_str(input_shape) + "; put a Flatten layer before it");
  inputs_ = input_shape[0];
  kernel_ = &ctx.add_weight("kernel", {inputs_, units_}, kernel_init_);
  if (use_bias_) bias_ = &ctx.add_weight("bias", {units_}, bias_init_);
  return {units_};
}

const Tensor& Dense::forward(const Tensor& x, bool /*training*/) {
  const std::size_t batch = x.shape()[0];
  x_ = &x;
  y_.resize({batch, units_});
  float* y = y_.data();
  if (use_bias_) {
    for (std::size_t r = 0; r < batch; ++r) std::copy_n(bias_->value_data, units_, y + r * units_);
  }
  xt::blas::gemm(x, kernel_->value(), y_, false, false, 1.f, use_bias_ ? 1.f : 0.f);
  if (activation_needs_input(activation_)) {
    z_.resize({batch, units_});
    std::copy(y_.begin(), y_.end(), z_.begin());
  }
  activation_forward(activation_, y, batch, units_);
  return y_;
}

const Tensor& Dense::backward(const Tensor& dy) {
  const std::size_t batch = dy.shape()[0];
  const Tensor* dz = &dy;
  if (!softmax_fused_ && activation_ != ActivationKind::linear) {
    dz_.resize({batch, units_});
    activation_backward(activation_, z_.data(), y_.data(), dy.data(), dz_.data(), batch, units_);
    dz = &dz_;
  }
  xt::blas::gemm(*x_, *dz, kernel_->grad(), true, false, 1.f, 0.f);
  if (use_bias_) {
    float* __restrict gb = bias_->grad_data;
    const float* __restrict d = dz->data();
    std::fill_n(gb, units_, 0.f);
    for (std::size_t r = 0; r < batch; ++r)
      for (std::size_t c = 0; c < units_; ++c) gb[c] += d[r * units_ + c];
  }
  if (needs_input_gradient()) {
    dx_.resize({batch, inputs_});
    xt::blas::gemm(*dz, kernel_->value(), dx_, false, true, 1.f, 0.f);
  }
  return dx_;
}

bool Dense::fuse_softmax_backward() {
  softmax_fused_ = activation_ == ActivationKind::softmax;
  return softmax_fused_;
}

Json Dense::get_config() const {
  return {{"name", name()},
          {"units", units_},
          {"activation", activation_name(activation_)},
          {"use_bias", use_bias_},
          {"kernel_initializer", kernel_init_.to_json()},
          {"bias_initializer", bias_init_.to_json()}};
}

}  // namespace plugfit
