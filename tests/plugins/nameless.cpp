// A plugin layer whose get_config() leaves out "name" (only its own options): the host keeps
// each layer's name itself, so its checkpoints must evaluate and predict (issue 10).
//   nameless>PReLU   y = x for x > 0, alpha * x otherwise, alpha learned per feature
#include <algorithm>

#include <plugfit/sdk.hpp>

namespace {

using namespace plugfit;

class PReLU final : public Layer {
 public:
  explicit PReLU(Config&) {}

  Shape build(const Shape& input_shape, BuildContext& ctx) override {
    features_ = shape_size(input_shape);
    alpha_ = &ctx.add_weight("alpha", {features_}, Initializer("zeros"));
    return input_shape;
  }

  const Tensor& forward(const Tensor& x, bool) override {
    x_ = &x;
    y_.resize(x.shape());
    for (std::size_t i = 0; i < x.size(); ++i) {
      const float v = x.data()[i];
      y_.data()[i] = v > 0.f ? v : alpha_->value_data[i % features_] * v;
    }
    return y_;
  }

  const Tensor& backward(const Tensor& dy) override {
    std::fill_n(alpha_->grad_data, features_, 0.f);
    dx_.resize(dy.shape());
    for (std::size_t i = 0; i < dy.size(); ++i) {
      const float v = x_->data()[i];
      const std::size_t f = i % features_;
      if (v <= 0.f) alpha_->grad_data[f] += dy.data()[i] * v;
      dx_.data()[i] = v > 0.f ? dy.data()[i] : alpha_->value_data[f] * dy.data()[i];
    }
    return dx_;
  }

  Json get_config() const override { return Json::object(); }

 private:
  std::size_t features_ = 0;
  Weight* alpha_ = nullptr;
  const Tensor* x_ = nullptr;
  Tensor y_, dx_;
};

void register_types(Registrar& r) { r.add_layer<PReLU>("PReLU"); }

}  // namespace

PLUGFIT_PLUGIN("nameless", "0.0.1", register_types)
