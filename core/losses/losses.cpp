#include "losses.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <plugfit/registry.hpp>

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

void softmax_rows(const float* z, float* p, std::size_t rows, std::size_t cols) {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* zr = z + r * cols;
    float* pr = p + r * cols;
    const float top = *std::max_element(zr, zr + cols);
    float sum = 0.f;
    for (std::size_t c = 0; c < cols; ++c) sum += (pr[c] = std::exp(zr[c] - top));
    for (std::size_t c = 0; c < cols; ++c) pr[c] /= sum;
  }
}

// Cross-entropy against a target distribution given as a label index or a one-hot row.
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
    if (from_logits_) {
      probs_.resize(y_pred.shape());
      softmax_rows(y_pred.data(), probs_.data(), rows(y_pred), cols(y_pred));
      return compute_from_softmax(probs_, y_true, grad);
    }
    const std::size_t n = rows(y_pred), c = cols(y_pred);
    const float* p = y_pred.data();
    const float* t = y_true.data();
    if (grad != nullptr) {
      grad->resize(y_pred.shape());
      std::fill(grad->begin(), grad->end(), 0.f);
    }
    double total = 0.0;
    const float inv_n = 1.f / static_cast<float>(n);
    for (std::size_t r = 0; r < n; ++r) {
      for (std::size_t k = 0; k < c; ++k) {
        const float target = sparse_ ? (static_cast<std::size_t>(t[r]) == k ? 1.f : 0.f) : t[r * c + k];
        if (target == 0.f) continue;
        const float raw = p[r * c + k];
        const float clipped = std::clamp(raw, kEpsilon, 1.f - kEpsilon);
        total -= target * std::log(clipped);
        if (grad != nullptr && raw == clipped) grad->data()[r * c + k] = -target / clipped * inv_n;
      }
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
    for (std::size_t r = 0; r < n; ++r) {
      const float* pr = p + r * c;
      if (sparse_) {
        const auto label = static_cast<std::size_t>(t[r]);
        total -= std::log(std::clamp(pr[label], kEpsilon, 1.f - kEpsilon));
        if (g != nullptr) {
          for (std::size_t k = 0; k < c; ++k) g[r * c + k] = pr[k] * inv_n;
          g[r * c + label] -= inv_n;
        }
      } else {
        const float* tr = t + r * c;
        float mass = 0.f;
        for (std::size_t k = 0; k < c; ++k) {
          if (tr[k] != 0.f) total -= tr[k] * std::log(std::clamp(pr[k], kEpsilon, 1.f - kEpsilon));
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

  void check(const Tensor& y_pred, const Tensor& y_true) const {
    if (sparse_) {
      check_sparse_labels(y_pred, y_true);
    } else if (y_pred.dimension() != 2 || y_true.shape() != y_pred.shape()) {
      shape_mismatch("categorical_crossentropy", y_pred, y_true, "one-hot targets of the same shape");
    }
  }

  bool sparse_;
  bool from_logits_;
  mutable Tensor probs_;
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

}  // namespace

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
}

Loss::~Loss() = default;
double Loss::compute_from_softmax(const Tensor&, const Tensor&, Tensor*) const {
  throw RuntimeFailure("this loss does not fuse with softmax");
}

}  // namespace plugfit
