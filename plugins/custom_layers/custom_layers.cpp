// custom_layers: the seeds' MyCustomLayer (matmul(x, w) + b), plus Scale and LeakyReLU.
// Built only against the SDK, as a third party would.
#include <algorithm>

#include <plugfit/sdk.hpp>
#include <xtensor-blas/xblas.hpp>

namespace {

using namespace plugfit;

Shape require_features(const Layer& layer, const char* type, const Shape& input_shape) {
  if (input_shape.size() != 1)
    throw InputError("layer \"" + layer.name() + "\" (" + type + ") expects input of shape (None, features), got " +
                     shape_str(input_shape));
  return input_shape;
}

// y = x @ w + b, with w drawn from random_normal and b from zeros, as in the Keras article.
class MyCustomLayer final : public Layer {
 public:
  explicit MyCustomLayer(Config& config) : units_(config.get<std::size_t>("units", 32)) {
    if (units_ == 0) throw InputError("MyCustomLayer: \"units\" must be positive");
    config.accept({"name", "trainable", "dtype"});
  }

  Shape build(const Shape& input_shape, BuildContext& ctx) override {
    inputs_ = require_features(*this, "MyCustomLayer", input_shape)[0];
    w_ = &ctx.add_weight("w", {inputs_, units_}, Initializer("random_normal"));
    b_ = &ctx.add_weight("b", {units_}, Initializer("zeros"));
    return {units_};
  }

  const Tensor& forward(const Tensor& x, bool) override {
    const std::size_t batch = x.shape()[0];
    x_ = &x;
    y_.resize({batch, units_});
    for (std::size_t r = 0; r < batch; ++r) std::copy_n(b_->value_data, units_, y_.data() + r * units_);
    // value()/grad() are views built once by the model: take them by reference (no allocation).
    xt::blas::gemm(x, w_->value(), y_, false, false, 1.f, 1.f);
    return y_;
  }

  const Tensor& backward(const Tensor& dy) override {
    const std::size_t batch = dy.shape()[0];
    xt::blas::gemm(*x_, dy, w_->grad(), true, false, 1.f, 0.f);
    std::fill_n(b_->grad_data, units_, 0.f);
    for (std::size_t r = 0; r < batch; ++r)
      for (std::size_t c = 0; c < units_; ++c) b_->grad_data[c] += dy.data()[r * units_ + c];
    if (needs_input_gradient()) {
      dx_.resize({batch, inputs_});
      xt::blas::gemm(dy, w_->value(), dx_, false, true, 1.f, 0.f);
    }
    return dx_;
  }

  Json get_config() const override { return {{"name", name()}, {"units", units_}}; }

 private:
  std::size_t units_, inputs_ = 0;
  Weight* w_ = nullptr;
  Weight* b_ = nullptr;
  const Tensor* x_ = nullptr;
  Tensor y_, dx_;
};

// A learned per-feature affine map: y = x * gamma + beta (gamma starts at one, beta at zero).
class Scale final : public Layer {
 public:
  explicit Scale(Config& config) : use_shift_(config.get<bool>("use_shift", true)) {
    config.accept({"name", "trainable", "dtype"});
  }

  Shape build(const Shape& input_shape, BuildContext& ctx) override {
    features_ = require_features(*this, "Scale", input_shape)[0];
    gamma_ = &ctx.add_weight("gamma", {features_}, Initializer("ones"));
    if (use_shift_) beta_ = &ctx.add_weight("beta", {features_}, Initializer("zeros"));
    return input_shape;
  }

  const Tensor& forward(const Tensor& x, bool) override {
    x_ = &x;
    y_.resize(x.shape());
    const std::size_t rows = x.shape()[0];
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < features_; ++c)
        y_.data()[r * features_ + c] =
            x.data()[r * features_ + c] * gamma_->value_data[c] + (use_shift_ ? beta_->value_data[c] : 0.f);
    return y_;
  }

  const Tensor& backward(const Tensor& dy) override {
    const std::size_t rows = dy.shape()[0];
    std::fill_n(gamma_->grad_data, features_, 0.f);
    if (use_shift_) std::fill_n(beta_->grad_data, features_, 0.f);
    dx_.resize(dy.shape());
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t c = 0; c < features_; ++c) {
        const float g = dy.data()[r * features_ + c];
        gamma_->grad_data[c] += g * x_->data()[r * features_ + c];
        if (use_shift_) beta_->grad_data[c] += g;
        dx_.data()[r * features_ + c] = g * gamma_->value_data[c];
      }
    }
    return dx_;
  }

  Json get_config() const override { return {{"name", name()}, {"use_shift", use_shift_}}; }

 private:
  bool use_shift_;
  std::size_t features_ = 0;
  Weight* gamma_ = nullptr;
  Weight* beta_ = nullptr;
  const Tensor* x_ = nullptr;
  Tensor y_, dx_;
};

// Keras's LeakyReLU: x for x > 0, negative_slope * x otherwise ("alpha" in Keras 2 configs).
class LeakyReLU final : public Layer {
 public:
  explicit LeakyReLU(Config& config)
      : slope_(config.get<float>("negative_slope", config.get<float>("alpha", 0.3f))) {
    if (!(slope_ >= 0.f)) throw InputError("LeakyReLU: \"negative_slope\" must be non-negative");
    config.accept({"name", "trainable", "dtype"});
  }

  Shape build(const Shape& input_shape, BuildContext&) override { return input_shape; }

  const Tensor& forward(const Tensor& x, bool) override {
    x_ = &x;
    y_.resize(x.shape());
    for (std::size_t i = 0; i < x.size(); ++i) y_.data()[i] = x.data()[i] > 0.f ? x.data()[i] : slope_ * x.data()[i];
    return y_;
  }

  const Tensor& backward(const Tensor& dy) override {
    dx_.resize(dy.shape());
    for (std::size_t i = 0; i < dy.size(); ++i) dx_.data()[i] = x_->data()[i] > 0.f ? dy.data()[i] : slope_ * dy.data()[i];
    return dx_;
  }

  Json get_config() const override { return {{"name", name()}, {"negative_slope", slope_}}; }

 private:
  float slope_;
  const Tensor* x_ = nullptr;
  Tensor y_, dx_;
};

void register_types(Registrar& registrar) {
  registrar.add_layer<MyCustomLayer>("MyCustomLayer");
  registrar.add_layer<Scale>("Scale");
  registrar.add_layer<LeakyReLU>("LeakyReLU");
}

}  // namespace

PLUGFIT_PLUGIN_DESCRIBED("custom_layers", "0.1.0", "MyCustomLayer (x @ w + b), Scale and LeakyReLU layers",
                         register_types)
