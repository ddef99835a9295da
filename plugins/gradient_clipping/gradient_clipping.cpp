// gradient_clipping: Keras's optimizer clipping options as a callback, acting on the flat gradient
// buffer in on_before_optimizer_step. Written against the SDK only.
//
//   clipvalue        each gradient element clamped to [-clipvalue, clipvalue]      (Keras clipvalue)
//   clipnorm         each weight's gradient scaled to L2 norm <= clipnorm           (Keras clipnorm)
//   global_clipnorm  all gradients scaled together to a global L2 norm <= global_clipnorm
//                    (Keras global_clipnorm, torch.nn.utils.clip_grad_norm_)
//
// At least one is given, each positive. Several combine, in this order: value, then per-weight
// norm, then global norm (the global norm is that of the gradients after the first two). Factors
// are Keras's, c / max(norm, c), computed in double; a weight's gradient g becomes
// float(g * (f_weight * f_global)), and gradients within every bound are left bit for bit.
//
// Cost per batch: one reading pass over the buffer (clamping in place, summing squares in
// double), and one scaling pass only over the weights that a norm clip actually scales. Nothing
// is allocated per batch. NaN gradients stay NaN (clamping leaves NaN; a weight whose norm is not
// finite is not scaled, nor is anything by a global norm that is not finite): TerminateOnNaN is
// the callback that deals with them.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <plugfit/sdk.hpp>

namespace {

using namespace plugfit;

constexpr double kAbsent = std::numeric_limits<double>::quiet_NaN();

// The option's value, or kAbsent when it is missing or null; InputError unless positive and finite.
double read_bound(Config& config, const char* key) {
  const double value = config.get<double>(key, kAbsent);
  if (std::isnan(value)) return value;
  if (!(value > 0.0) || !std::isfinite(value))
    throw InputError(config.type_name() + ": \"" + key + "\" must be a positive number, got " +
                     config.json().at(key).dump());
  return value;
}

// The kernels work in blocks of kLanes with one double accumulator per lane, which the compiler
// vectorizes (a single accumulator would serialize every addition): about memory speed.
constexpr std::size_t kLanes = 16;

inline float clamp(float x, float v) { return std::min(std::max(x, -v), v); }  // NaN stays NaN

double sum_lanes(const double (&acc)[kLanes], double tail) {
  for (const double a : acc) tail += a;
  return tail;
}

// Sum of squares of g[0..n), in double.
double sum_squares(const float* g, std::size_t n) {
  double acc[kLanes] = {};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (std::size_t k = 0; k < kLanes; ++k) acc[k] += double(g[i + k]) * double(g[i + k]);
  double tail = 0.0;
  for (; i < n; ++i) tail += double(g[i]) * double(g[i]);
  return sum_lanes(acc, tail);
}

// Clamps g[0..n) to [-v, v] in place and returns the sum of squares after it, in double.
double clamp_sum_squares(float* g, std::size_t n, float v) {
  double acc[kLanes] = {};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    float y[kLanes];
    for (std::size_t k = 0; k < kLanes; ++k) y[k] = clamp(g[i + k], v);
    for (std::size_t k = 0; k < kLanes; ++k) g[i + k] = y[k];
    for (std::size_t k = 0; k < kLanes; ++k) acc[k] += double(y[k]) * double(y[k]);
  }
  double tail = 0.0;
  for (; i < n; ++i) {
    g[i] = clamp(g[i], v);
    tail += double(g[i]) * double(g[i]);
  }
  return sum_lanes(acc, tail);
}

void clamp_only(float* g, std::size_t n, float v) {
  for (std::size_t i = 0; i < n; ++i) g[i] = clamp(g[i], v);
}

void scale(float* g, std::size_t n, double s) {
  for (std::size_t i = 0; i < n; ++i) g[i] = static_cast<float>(double(g[i]) * s);
}

// Keras's clip_by_norm factor c / max(norm, c): 1 within the bound, and 1 when norm is NaN or inf.
double factor(double norm, double bound) {
  if (!std::isfinite(norm) || norm <= bound) return 1.0;
  return bound / norm;
}

class GradientClipping final : public Callback {
 public:
  explicit GradientClipping(Config& config)
      : clipnorm_(read_bound(config, "clipnorm")),
        global_clipnorm_(read_bound(config, "global_clipnorm")),
        clipvalue_(read_bound(config, "clipvalue")) {
    config.check_all_used();  // a misspelt option is named as such, not reported as a missing one
    if (std::isnan(clipnorm_) && std::isnan(global_clipnorm_) && std::isnan(clipvalue_))
      throw InputError(config.type_name() +
                       " needs at least one of \"clipnorm\", \"global_clipnorm\", \"clipvalue\" (each positive)");
    // A clipvalue beyond float's range clamps nothing finite; as a float it is the largest float.
    if (!std::isnan(clipvalue_))
      value_ = static_cast<float>(std::min(clipvalue_, double(std::numeric_limits<float>::max())));
  }

  void on_train_begin(Logs&) override { prepare(); }

  void on_before_optimizer_step(std::int64_t) override {
    const std::span<float> grads = model().gradients();
    const std::vector<Weight*>& weights = model().weights();
    const bool by_value = !std::isnan(clipvalue_);
    const bool by_norm = !std::isnan(clipnorm_);
    const bool by_global = !std::isnan(global_clipnorm_);

    if (!by_norm && !by_global) {  // value only: one pass over the whole buffer
      clamp_only(grads.data(), grads.size(), value_);
      return;
    }
    if (scales_.size() != weights.size()) prepare();  // allocates only when the model changes

    // The reading pass: clamp, and each weight's sum of squares (after its own norm clip).
    double global_sq = 0.0;
    bool any_scaled = false;
    for (std::size_t w = 0; w < weights.size(); ++w) {
      const Weight& weight = *weights[w];
      if (weight.offset > grads.size() || weight.size > grads.size() - weight.offset)
        throw RuntimeFailure("GradientClipping: weight \"" + weight.name + "\" lies outside the gradient buffer");
      float* g = grads.data() + weight.offset;
      const double sq = by_value ? clamp_sum_squares(g, weight.size, value_) : sum_squares(g, weight.size);
      double s = 1.0;
      if (by_norm) s = factor(std::sqrt(sq), clipnorm_);
      scales_[w] = s;
      any_scaled |= s != 1.0;
      global_sq += s == 1.0 ? sq : sq * s * s;
    }
    double global = 1.0;
    if (by_global) global = factor(std::sqrt(global_sq), global_clipnorm_);
    if (!any_scaled && global == 1.0) return;

    // The scaling pass, over the weights whose factor is not 1.
    for (std::size_t w = 0; w < weights.size(); ++w) {
      const double s = scales_[w] * global;
      if (s != 1.0) scale(grads.data() + weights[w]->offset, weights[w]->size, s);
    }
  }

 private:
  void prepare() { scales_.assign(model().weights().size(), 1.0); }

  double clipnorm_, global_clipnorm_, clipvalue_;
  float value_ = 0.f;
  std::vector<double> scales_;  // per weight, sized once per model
};

void register_types(Registrar& registrar) { registrar.add_callback<GradientClipping>("GradientClipping"); }

}  // namespace

PLUGFIT_PLUGIN_DESCRIBED("gradient_clipping", "0.1.0",
                         "GradientClipping: Keras's clipnorm, global_clipnorm and clipvalue on the gradients before "
                         "each optimizer step",
                         register_types)
