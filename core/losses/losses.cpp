#include "losses.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>

#include <plugfit/registry.hpp>

#include "loss_formulas.hpp"

namespace plugfit {

namespace {

constexpr float kEpsilon = 1e-7f;  // Keras's backend epsilon, used to clip probabilities

[[noreturn]] void shape_mismatch(const char* loss, const Tensor& y_pred, const Tensor& y_true, const char* want) {
  throw InputError(std::string(loss) + ": targets of shape " + full_shape_str(shape_of(y_true)) +
                   " do not fit predictions of shape " + full_shape_str(shape_of(y_pred)) + " (expected " + want + ")");
}

void accept_loss_options(Config& config) {
  config.accept({"name", "dtype"});
  const std::string reduction = config.get<std::string>("reduction", "sum_over_batch_size");
  if (reduction != "sum_over_batch_size" && reduction != "auto")
    throw InputError(config.type_name() + ": only reduction \"sum_over_batch_size\" is supported, got \"" + reduction + "\"");
}

// Cross-entropy against a target distribution given as a label index or a one-hot row, with
// TensorFlow's conventions (keras/src/backend/tensorflow/nn.py), so the gradient is always the
// derivative of the returned value:
//  - from logits (from_logits, or fused with the softmax before it): -sum t log_softmax(z),
//    unclipped, gradient softmax(z) * sum(t) - t; fused, log p is taken of the float softmax
//    output, which is exact to float precision while p >= FLT_MIN (a log-probability down to
//    -87.3; below, the loss stops growing);
//  - from probabilities not fused (TF's path for a tensor that is not a softmax output):
//    categorical normalizes each row to sum 1, clips to [1e-7, 1 - 1e-7] and takes -sum t log;
//    sparse clips, then takes -log of the label's share of the clipped row. A clipped entry
//    passes no gradient, as in TF.
class CrossEntropyBase : public Loss {
 public:
  CrossEntropyBase(Config& config, bool sparse) : sparse_(sparse), from_logits_(config.get<bool>("from_logits", false)) {
    accept_loss_options(config);
    config.accept({"axis"});
    if (config.get<double>("label_smoothing", 0.0) != 0.0)
      throw InputError(config.type_name() + ": \"label_smoothing\" is not supported");
    if (sparse && config.has("ignore_class")) throw InputError(config.type_name() + ": \"ignore_class\" is not supported");
    config.accept({"ignore_class"});
  }

  bool fuses_with_softmax() const override { return !from_logits_; }

  double compute(const Tensor& y_pred, const Tensor& y_true, Tensor* grad) const override {
    check(y_pred, y_true);
    if (grad != nullptr) grad->resize(y_pred.shape());
    const std::size_t n = rows(y_pred), c = cols(y_pred);
    double total = 0.0;
    for (std::size_t r = 0; r < n; ++r) {
      const float* row = y_pred.data() + r * c;
      float* g = grad != nullptr ? grad->data() + r * c : nullptr;
      total += from_logits_ ? row_from_logits(row, y_true, r, c, g, n)
                            : (sparse_ ? sparse_row_from_probabilities(row, label(y_true, r), c, g, n)
                                       : row_from_probabilities(row, y_true.data() + r * c, c, g, n));
    }
    return total / static_cast<double>(n);
  }

  double compute_from_softmax(const Tensor& probs, const Tensor& y_true, Tensor* grad_logits) const override {
    check(probs, y_true);
    const std::size_t n = rows(probs), c = cols(probs);
    const float* p = probs.data();
    const float* t = y_true.data();
    double total = 0.0;
    const float inv_n = 1.f / static_cast<float>(n);
    float* g = nullptr;
    if (grad_logits != nullptr) {
      grad_logits->resize(probs.shape());
      g = grad_logits->data();
    }
    constexpr float kSmallest = std::numeric_limits<float>::min();
    for (std::size_t r = 0; r < n; ++r) {
      const float* pr = p + r * c;
      if (sparse_) {
        const std::size_t y = label(y_true, r);
        total -= std::log(static_cast<double>(std::max(pr[y], kSmallest)));
        if (g != nullptr) {
          for (std::size_t k = 0; k < c; ++k) g[r * c + k] = pr[k] * inv_n;
          g[r * c + y] -= inv_n;
        }
      } else {
        const float* tr = t + r * c;
        float mass = 0.f;
        for (std::size_t k = 0; k < c; ++k) {
          if (tr[k] != 0.f) total -= tr[k] * std::log(static_cast<double>(std::max(pr[k], kSmallest)));
          mass += tr[k];
        }
        if (g != nullptr)
          for (std::size_t k = 0; k < c; ++k) g[r * c + k] = (pr[k] * mass - tr[k]) * inv_n;
      }
    }
    return total / static_cast<double>(n);
  }

  Json get_config() const override { return {{"from_logits", from_logits_}}; }

 private:
  static std::size_t rows(const Tensor& t) { return t.shape()[0]; }
  static std::size_t cols(const Tensor& t) { return t.dimension() < 2 ? 1 : t.size() / t.shape()[0]; }
  static std::size_t label(const Tensor& y_true, std::size_t r) { return static_cast<std::size_t>(y_true.data()[r]); }

  // -sum t log_softmax(z) for one row; g (when not null) gets (softmax(z) sum(t) - t) / n.
  double row_from_logits(const float* z, const Tensor& y_true, std::size_t r, std::size_t c, float* g,
                         std::size_t n) const {
    const float top = *std::max_element(z, z + c);
    double sum = 0.0;
    for (std::size_t k = 0; k < c; ++k) sum += std::exp(static_cast<double>(z[k] - top));
    const double log_sum = std::log(sum);
    const auto log_softmax = [&](std::size_t k) { return static_cast<double>(z[k] - top) - log_sum; };
    const float inv_n = 1.f / static_cast<float>(n);
    if (sparse_) {
      const std::size_t y = label(y_true, r);
      if (g != nullptr) {
        for (std::size_t k = 0; k < c; ++k) g[k] = static_cast<float>(std::exp(log_softmax(k))) * inv_n;
        g[y] -= inv_n;
      }
      return -log_softmax(y);
    }
    const float* t = y_true.data() + r * c;
    double loss = 0.0;
    float mass = 0.f;
    for (std::size_t k = 0; k < c; ++k) {
      if (t[k] != 0.f) loss -= t[k] * log_softmax(k);
      mass += t[k];
    }
    if (g != nullptr)
      for (std::size_t k = 0; k < c; ++k) g[k] = (static_cast<float>(std::exp(log_softmax(k))) * mass - t[k]) * inv_n;
    return loss;
  }

  // TF's categorical path from probabilities: q = p / sum(p), clipped, -sum t log q. The
  // gradient goes through the normalization: dL/dp_j = (a_j - sum_k a_k q_k) / sum(p) with
  // a_k = -t_k / q_k where q_k is not clipped, else 0.
  static double row_from_probabilities(const float* p, const float* t, std::size_t c, float* g, std::size_t n) {
    double total = 0.0;
    for (std::size_t k = 0; k < c; ++k) total += p[k];
    double loss = 0.0, weighted = 0.0;
    for (std::size_t k = 0; k < c; ++k) {
      const double q = p[k] / total;
      const double clipped = std::clamp(q, double(kEpsilon), 1.0 - double(kEpsilon));
      if (t[k] != 0.f) loss -= t[k] * std::log(clipped);
      const double a = (t[k] != 0.f && q == clipped) ? -t[k] / q : 0.0;
      if (g != nullptr) g[k] = static_cast<float>(a);
      weighted += a * q;
    }
    if (g != nullptr)
      for (std::size_t k = 0; k < c; ++k) g[k] = static_cast<float>((g[k] - weighted) / total / double(n));
    return loss;
  }

  // TF's sparse path from probabilities: c = clip(p), loss = -log(c_y / sum(c)); a clipped entry
  // passes no gradient: dL/dp_j = -[j == y] / c_y + 1 / sum(c) where p_j is not clipped.
  static double sparse_row_from_probabilities(const float* p, std::size_t y, std::size_t c, float* g, std::size_t n) {
    double total = 0.0;
    for (std::size_t k = 0; k < c; ++k) total += std::clamp(double(p[k]), double(kEpsilon), 1.0 - double(kEpsilon));
    const double label_share = std::clamp(double(p[y]), double(kEpsilon), 1.0 - double(kEpsilon));
    if (g != nullptr)
      for (std::size_t k = 0; k < c; ++k) {
        const double clipped = std::clamp(double(p[k]), double(kEpsilon), 1.0 - double(kEpsilon));
        const double d = clipped == double(p[k]) ? (k == y ? -1.0 / clipped : 0.0) + 1.0 / total : 0.0;
        g[k] = static_cast<float>(d / double(n));
      }
    return -std::log(label_share / total);
  }

  void check(const Tensor& y_pred, const Tensor& y_true) const {
    if (sparse_) {
      check_sparse_labels(y_pred, y_true);
    } else if (y_pred.dimension() != 2 || y_true.shape() != y_pred.shape()) {
      shape_mismatch("categorical_crossentropy", y_pred, y_true, "one-hot targets of the same shape");
    }
  }

  bool sparse_;
  bool from_logits_;
};

class SparseCategoricalCrossentropy final : public CrossEntropyBase {
 public:
  explicit SparseCategoricalCrossentropy(Config& config) : CrossEntropyBase(config, true) {}
};

class CategoricalCrossentropy final : public CrossEntropyBase {
 public:
  explicit CategoricalCrossentropy(Config& config) : CrossEntropyBase(config, false) {}
};

class BinaryCrossentropy final : public Loss {
 public:
  explicit BinaryCrossentropy(Config& config) : from_logits_(config.get<bool>("from_logits", false)) {
    accept_loss_options(config);
    config.accept({"axis"});
    if (config.get<double>("label_smoothing", 0.0) != 0.0)
      throw InputError("BinaryCrossentropy: \"label_smoothing\" is not supported");
  }

  double compute(const Tensor& y_pred, const Tensor& y_true, Tensor* grad) const override {
    if (y_true.size() != y_pred.size() || y_pred.shape()[0] != y_true.shape()[0])
      shape_mismatch("binary_crossentropy", y_pred, y_true, "one target per output");
    const std::size_t n = y_pred.size();
    const float* p = y_pred.data();
    const float* t = y_true.data();
    if (grad != nullptr) grad->resize(y_pred.shape());
    const float inv_n = 1.f / static_cast<float>(n);
    double total = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      if (from_logits_) {
        const float z = p[i];
        total += std::max(z, 0.f) - z * t[i] + std::log1p(std::exp(-std::fabs(z)));
        if (grad != nullptr) grad->data()[i] = (1.f / (1.f + std::exp(-z)) - t[i]) * inv_n;
      } else {
        const float q = std::clamp(p[i], kEpsilon, 1.f - kEpsilon);
        total -= t[i] * std::log(q) + (1.f - t[i]) * std::log(1.f - q);
        if (grad != nullptr)
          grad->data()[i] = q == p[i] ? (q - t[i]) / (q * (1.f - q)) * inv_n : 0.f;
      }
    }
    return total / static_cast<double>(n);
  }

  Json get_config() const override { return {{"from_logits", from_logits_}}; }

 private:
  bool from_logits_;
};

class MeanSquaredError final : public Loss {
 public:
  explicit MeanSquaredError(Config& config) { accept_loss_options(config); }

  double compute(const Tensor& y_pred, const Tensor& y_true, Tensor* grad) const override {
    if (y_true.size() != y_pred.size() || y_pred.shape()[0] != y_true.shape()[0])
      shape_mismatch("mean_squared_error", y_pred, y_true, "one target per output");
    const std::size_t n = y_pred.size();
    const float* p = y_pred.data();
    const float* t = y_true.data();
    if (grad != nullptr) grad->resize(y_pred.shape());
    const float scale = 2.f / static_cast<float>(n);
    double total = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      const float d = p[i] - t[i];
      total += static_cast<double>(d) * d;
      if (grad != nullptr) grad->data()[i] = scale * d;
    }
    return total / static_cast<double>(n);
  }
};

// A loss of loss_formulas.hpp, reduced as Keras's sum_over_batch_size: the sum of the per-sample
// losses divided by the batch size.
template <class Formula>
class SampleMeanLoss final : public Loss {
 public:
  explicit SampleMeanLoss(Config& config) : formula_(config), type_(config.type_name()) { accept_loss_options(config); }

  double compute(const Tensor& y_pred, const Tensor& y_true, Tensor* grad) const override {
    const std::size_t batch = y_pred.dimension() == 0 ? 1 : y_pred.shape()[0];
    if (y_true.size() != y_pred.size() || y_true.dimension() == 0 || y_true.shape()[0] != batch || batch == 0)
      shape_mismatch(type_.c_str(), y_pred, y_true, "one target per output");
    const std::size_t c = y_pred.size() / batch;
    const bool binary = Formula::kHingeLabels && loss_formulas::all_binary(y_true.data(), y_true.size());
    if (grad != nullptr) grad->resize(y_pred.shape());
    double total = 0.0;
    for (std::size_t r = 0; r < batch; ++r)
      total += formula_.sample(y_pred.data() + r * c, y_true.data() + r * c, c,
                               grad != nullptr ? grad->data() + r * c : nullptr, binary);
    if (grad != nullptr) {
      const float inv_batch = 1.f / float(batch);
      for (float& g : *grad) g *= inv_batch;
    }
    return total / double(batch);
  }

  Json get_config() const override {
    if constexpr (std::is_same_v<Formula, loss_formulas::HuberError>) return {{"delta", formula_.delta}};
    return Json::object();
  }

 private:
  Formula formula_;
  std::string type_;
};

// Keras's scale_loss: the value logged is the loss's own, the gradient is scaled by the factor
// (the optimizer divides the gradients by it again before using them).
class GradientScaledLoss final : public Loss {
 public:
  GradientScaledLoss(std::unique_ptr<Loss> inner, double factor) : inner_(std::move(inner)), factor_(static_cast<float>(factor)) {}
  double compute(const Tensor& y_pred, const Tensor& y_true, Tensor* grad) const override {
    const double value = inner_->compute(y_pred, y_true, grad);
    scale(grad);
    return value;
  }
  bool fuses_with_softmax() const override { return inner_->fuses_with_softmax(); }
  double compute_from_softmax(const Tensor& probs, const Tensor& y_true, Tensor* grad_logits) const override {
    const double value = inner_->compute_from_softmax(probs, y_true, grad_logits);
    scale(grad_logits);
    return value;
  }
  Json get_config() const override { return inner_->get_config(); }

 private:
  void scale(Tensor* grad) const {
    if (grad != nullptr)
      for (float& g : *grad) g *= factor_;
  }
  std::unique_ptr<Loss> inner_;
  float factor_;
};

// Keras 3's class names, function names and aliases (keras/src/losses/__init__.py), and Keras 2's
// logcosh and kullback_leibler_divergence.
void register_sample_losses(Registrar& registry) {
  namespace f = loss_formulas;
  using Mae = SampleMeanLoss<f::AbsoluteError>;
  using Mape = SampleMeanLoss<f::AbsolutePercentageError>;
  using Msle = SampleMeanLoss<f::SquaredLogarithmicError>;
  using Kld = SampleMeanLoss<f::KLDivergence>;
  for (const char* name : {"MeanAbsoluteError", "mean_absolute_error", "mae", "MAE"}) registry.add_loss<Mae>(name);
  for (const char* name : {"MeanAbsolutePercentageError", "mean_absolute_percentage_error", "mape", "MAPE"})
    registry.add_loss<Mape>(name);
  for (const char* name : {"MeanSquaredLogarithmicError", "mean_squared_logarithmic_error", "msle", "MSLE"})
    registry.add_loss<Msle>(name);
  for (const char* name : {"Huber", "huber"}) registry.add_loss<SampleMeanLoss<f::HuberError>>(name);
  for (const char* name : {"LogCosh", "log_cosh", "logcosh"}) registry.add_loss<SampleMeanLoss<f::LogCoshError>>(name);
  for (const char* name : {"KLDivergence", "kl_divergence", "kld", "KLD", "kullback_leibler_divergence"})
    registry.add_loss<Kld>(name);
  for (const char* name : {"Poisson", "poisson"}) registry.add_loss<SampleMeanLoss<f::PoissonError>>(name);
  for (const char* name : {"Hinge", "hinge"}) registry.add_loss<SampleMeanLoss<f::HingeError<1>>>(name);
  for (const char* name : {"SquaredHinge", "squared_hinge"}) registry.add_loss<SampleMeanLoss<f::HingeError<2>>>(name);
  for (const char* name : {"CategoricalHinge", "categorical_hinge"})
    registry.add_loss<SampleMeanLoss<f::CategoricalHingeError>>(name);
}

}  // namespace

std::unique_ptr<Loss> scale_loss_gradient(std::unique_ptr<Loss> loss, double factor) {
  return std::make_unique<GradientScaledLoss>(std::move(loss), factor);
}

void check_sparse_labels(const Tensor& y_pred, const Tensor& y_true) {
  const std::size_t batch = y_pred.shape()[0];
  const bool fits = y_pred.dimension() == 2 && y_true.size() == batch &&
                    (y_true.dimension() == 1 || (y_true.dimension() == 2 && y_true.shape()[1] == 1));
  if (!fits) shape_mismatch("sparse_categorical_crossentropy", y_pred, y_true, "one class index per sample");
  const std::size_t classes = y_pred.shape()[1];
  for (std::size_t r = 0; r < batch; ++r) {
    const float label = y_true.data()[r];
    if (!(label >= 0.f && label < static_cast<float>(classes)) || label != std::floor(label))
    {
      char text[32];
      std::snprintf(text, sizeof text, "%g", static_cast<double>(label));
      throw InputError(std::string("sparse_categorical_crossentropy: label ") + text + " (sample " +
                       std::to_string(r) + " of the batch) is not a class index for " + std::to_string(classes) +
                       " classes");
    }
  }
}

void register_builtin_losses(Registrar& registry) {
  registry.add_loss<SparseCategoricalCrossentropy>("SparseCategoricalCrossentropy");
  registry.add_loss<SparseCategoricalCrossentropy>("sparse_categorical_crossentropy");
  registry.add_loss<CategoricalCrossentropy>("CategoricalCrossentropy");
  registry.add_loss<CategoricalCrossentropy>("categorical_crossentropy");
  registry.add_loss<BinaryCrossentropy>("BinaryCrossentropy");
  registry.add_loss<BinaryCrossentropy>("binary_crossentropy");
  registry.add_loss<MeanSquaredError>("MeanSquaredError");
  registry.add_loss<MeanSquaredError>("mean_squared_error");
  registry.add_loss<MeanSquaredError>("mse");
  registry.add_loss<MeanSquaredError>("MSE");
  register_sample_losses(registry);
}

Loss::~Loss() = default;
double Loss::compute_from_softmax(const Tensor&, const Tensor&, Tensor*) const {
  throw RuntimeFailure("this loss does not fuse with softmax");
}

}  // namespace plugfit
