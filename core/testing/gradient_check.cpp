#include <plugfit/testing.hpp>

#include "../layers/build_context.hpp"

#include <cmath>
#include <deque>
#include <functional>
#include <sstream>

namespace plugfit::testing {

namespace {

double relative_error(const std::vector<double>& a, const std::vector<double>& n) {
  double diff = 0.0, sum = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - n[i]) * (a[i] - n[i]);
    sum += (a[i] + n[i]) * (a[i] + n[i]);
  }
  if (sum == 0.0) return diff == 0.0 ? 0.0 : 1.0;
  return std::sqrt(diff) / std::sqrt(sum);
}

Tensor normal_tensor(const Shape& shape, Rng& rng) {
  Tensor t = Tensor::from_shape(shape);
  for (auto& v : t) v = static_cast<float>(rng.normal());
  return t;
}

}  // namespace

GradientCheckResult check_layer_gradients(Layer& layer, const Shape& input_shape, const GradientCheckOptions& options) {
  if (layer.name().empty()) layer.set_name("layer");
  std::deque<Weight> weights;
  Rng layer_rng(7);
  SampleStreams layer_samples(layer_rng);
  WeightCollector ctx(weights, layer.name(), layer_rng, layer_samples);
  const Shape output_shape = layer.build(input_shape, ctx);
  layer.set_needs_input_gradient(true);

  std::size_t total = 0;
  for (auto& w : weights) total += w.size;
  std::vector<float> params(total), grads(total);
  Rng rng(options.seed);
  std::size_t offset = 0;
  for (auto& w : weights) {
    w.offset = offset;
    w.bind(params.data() + offset, grads.data() + offset);
    // Random weights, not the layer's initializer: zeros would hide errors in the bias path.
    for (std::size_t i = 0; i < w.size; ++i) w.value_data[i] = static_cast<float>(0.5 * rng.normal());
    offset += w.size;
  }

  Shape x_shape{options.batch};
  x_shape.insert(x_shape.end(), input_shape.begin(), input_shape.end());
  Shape y_shape{options.batch};
  y_shape.insert(y_shape.end(), output_shape.begin(), output_shape.end());
  Tensor x = normal_tensor(x_shape, rng);
  const Tensor r = normal_tensor(y_shape, rng);
  const Rng::State rng_state = ctx.rng().state();

  auto objective = [&]() {
    ctx.rng().set_state(rng_state);
    const Tensor& y = layer.forward(x, options.training);
    double sum = 0.0;
    for (std::size_t i = 0; i < y.size(); ++i) sum += double(y.data()[i]) * double(r.data()[i]);
    return sum;
  };
  auto numeric = [&](float* values, std::size_t n) {
    std::vector<double> out(n);
    for (std::size_t i = 0; i < n; ++i) {
      const float saved = values[i];
      values[i] = static_cast<float>(saved + options.epsilon);
      const double plus = objective();
      values[i] = static_cast<float>(saved - options.epsilon);
      const double minus = objective();
      values[i] = saved;
      out[i] = (plus - minus) / (2.0 * options.epsilon);
    }
    return out;
  };

  objective();
  const Tensor dx = layer.backward(r);
  const std::vector<double> analytic_dx(dx.begin(), dx.end());
  const std::vector<double> analytic_w(grads.begin(), grads.end());

  GradientCheckResult result;
  std::ostringstream report;
  if (analytic_dx.size() != x.size()) {
    result.input_error = 1.0;
    report << "input: backward returned " << analytic_dx.size() << " values for " << x.size() << " inputs\n";
  } else {
    result.input_error = relative_error(analytic_dx, numeric(x.data(), x.size()));
    report << "input: relative error " << result.input_error << "\n";
  }
  result.worst = "input";
  double worst = result.input_error;
  for (const auto& w : weights) {
    if (!w.trainable) continue;  // a state the layer updates itself has no gradient to check
    const std::vector<double> a(analytic_w.begin() + long(w.offset), analytic_w.begin() + long(w.offset + w.size));
    const double err = relative_error(a, numeric(w.value_data, w.size));
    report << w.name << ": relative error " << err << "\n";
    result.max_weight_error = std::max(result.max_weight_error, err);
    if (err > worst) worst = err, result.worst = w.name;
  }
  result.passed = worst < options.tolerance;
  result.report = report.str();
  return result;
}

namespace {
double numeric_loss_error(const std::function<double(const Tensor&)>& f, const Tensor& at, const Tensor& analytic,
                          double epsilon) {
  Tensor probe = at;
  std::vector<double> numeric(at.size());
  for (std::size_t i = 0; i < at.size(); ++i) {
    const float saved = probe.data()[i];
    probe.data()[i] = static_cast<float>(saved + epsilon);
    const double plus = f(probe);
    probe.data()[i] = static_cast<float>(saved - epsilon);
    const double minus = f(probe);
    probe.data()[i] = saved;
    numeric[i] = (plus - minus) / (2.0 * epsilon);
  }
  return relative_error(std::vector<double>(analytic.begin(), analytic.end()), numeric);
}

Tensor softmax(const Tensor& logits) {
  Tensor p = logits;
  const std::size_t rows = p.shape()[0], cols = p.size() / rows;
  for (std::size_t r = 0; r < rows; ++r) {
    float* row = p.data() + r * cols;
    double top = row[0], sum = 0.0;
    for (std::size_t c = 0; c < cols; ++c) top = std::max<double>(top, row[c]);
    for (std::size_t c = 0; c < cols; ++c) sum += std::exp(row[c] - top);
    for (std::size_t c = 0; c < cols; ++c) row[c] = static_cast<float>(std::exp(row[c] - top) / sum);
  }
  return p;
}
}  // namespace

double check_loss_gradient(const Loss& loss, const Tensor& y_pred, const Tensor& y_true, double epsilon) {
  Tensor grad;
  loss.compute(y_pred, y_true, &grad);
  return numeric_loss_error([&](const Tensor& p) { return loss.compute(p, y_true, nullptr); }, y_pred, grad, epsilon);
}

double check_fused_softmax_gradient(const Loss& loss, const Tensor& logits, const Tensor& y_true, double epsilon) {
  Tensor grad;
  loss.compute_from_softmax(softmax(logits), y_true, &grad);
  return numeric_loss_error([&](const Tensor& z) { return loss.compute(softmax(z), y_true, nullptr); }, logits, grad,
                            epsilon);
}

}  // namespace plugfit::testing
