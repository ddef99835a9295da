// Keras's regression and margin losses (keras/src/losses/losses.py) as per-sample formulas,
// shared by the losses (reduced by sum_over_batch_size) and the metrics of the same names
// (averaged over samples, as Keras's MeanMetricWrapper).
//
// Each formula F has F(Config&) (reading its own options), and
//   double sample(const float* p, const float* t, std::size_t c, float* g, bool binary) const
// requires: p and t hold one sample's c predictions and targets; g is null or has c floats;
//           binary tells whether every target of the batch is 0 or 1 (Keras's hinge losses
//           then read the targets as 2 t - 1).
// ensures: returns the sample's loss; when g is not null, g = d(sample loss)/d(p). A clipped
//          or saturated entry passes no gradient, as in TensorFlow.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>

#include <plugfit/config.hpp>

namespace plugfit::loss_formulas {

inline constexpr float kEpsilon = 1e-7f;  // Keras's backend epsilon

inline float sign(float x) { return x > 0.f ? 1.f : (x < 0.f ? -1.f : 0.f); }

struct NoOptions {
  static constexpr bool kHingeLabels = false;  // whether sample() reads the binary flag
  explicit NoOptions(Config&) {}
};

// mean |p - t|
struct AbsoluteError : NoOptions {
  using NoOptions::NoOptions;
  double sample(const float* p, const float* t, std::size_t c, float* g, bool) const {
    double sum = 0.0;
    for (std::size_t k = 0; k < c; ++k) {
      const float d = p[k] - t[k];
      sum += std::fabs(d);
      if (g != nullptr) g[k] = sign(d) / float(c);
    }
    return sum / double(c);
  }
};

// 100 mean |(t - p) / max(|t|, eps)|
struct AbsolutePercentageError : NoOptions {
  using NoOptions::NoOptions;
  double sample(const float* p, const float* t, std::size_t c, float* g, bool) const {
    double sum = 0.0;
    for (std::size_t k = 0; k < c; ++k) {
      const float scale = std::max(std::fabs(t[k]), kEpsilon);
      const float d = p[k] - t[k];
      sum += std::fabs(d) / scale;
      if (g != nullptr) g[k] = 100.f * sign(d) / scale / float(c);
    }
    return 100.0 * sum / double(c);
  }
};

// mean (log(max(p, eps) + 1) - log(max(t, eps) + 1))^2
struct SquaredLogarithmicError : NoOptions {
  using NoOptions::NoOptions;
  double sample(const float* p, const float* t, std::size_t c, float* g, bool) const {
    double sum = 0.0;
    for (std::size_t k = 0; k < c; ++k) {
      const float q = std::max(p[k], kEpsilon);
      const float d = std::log1p(q) - std::log1p(std::max(t[k], kEpsilon));
      sum += double(d) * d;
      if (g != nullptr) g[k] = p[k] >= kEpsilon ? 2.f * d / (q + 1.f) / float(c) : 0.f;
    }
    return sum / double(c);
  }
};

// mean of 0.5 e^2 where |e| <= delta, else delta |e| - 0.5 delta^2 (e = p - t)
struct HuberError {
  static constexpr bool kHingeLabels = false;
  explicit HuberError(Config& config) : delta(config.get<float>("delta", 1.f)) {
    if (!(delta > 0.f)) throw InputError(config.type_name() + ": \"delta\" must be positive");
  }
  double sample(const float* p, const float* t, std::size_t c, float* g, bool) const {
    double sum = 0.0;
    for (std::size_t k = 0; k < c; ++k) {
      const float e = p[k] - t[k];
      const float quadratic = std::min(std::fabs(e), delta);
      sum += 0.5 * double(quadratic) * quadratic + double(delta) * (std::fabs(e) - quadratic);
      if (g != nullptr) g[k] = (std::fabs(e) <= delta ? e : delta * sign(e)) / float(c);
    }
    return sum / double(c);
  }
  float delta;
};

// mean log(cosh(p - t)), as x + softplus(-2x) - log 2 so that large errors do not overflow
struct LogCoshError : NoOptions {
  using NoOptions::NoOptions;
  double sample(const float* p, const float* t, std::size_t c, float* g, bool) const {
    double sum = 0.0;
    for (std::size_t k = 0; k < c; ++k) {
      const double x = double(p[k]) - t[k];
      sum += x + (std::max(-2.0 * x, 0.0) + std::log1p(std::exp(-std::fabs(2.0 * x)))) - std::log(2.0);
      if (g != nullptr) g[k] = float(std::tanh(x)) / float(c);
    }
    return sum / double(c);
  }
};

// sum t log(t / p) over the sample, both clipped to [eps, 1]
struct KLDivergence : NoOptions {
  using NoOptions::NoOptions;
  double sample(const float* p, const float* t, std::size_t c, float* g, bool) const {
    double sum = 0.0;
    for (std::size_t k = 0; k < c; ++k) {
      const float tc = std::clamp(t[k], kEpsilon, 1.f), pc = std::clamp(p[k], kEpsilon, 1.f);
      sum += double(tc) * std::log(double(tc) / pc);
      if (g != nullptr) g[k] = pc == p[k] ? -tc / pc : 0.f;
    }
    return sum;
  }
};

// mean p - t log(p + eps)
struct PoissonError : NoOptions {
  using NoOptions::NoOptions;
  double sample(const float* p, const float* t, std::size_t c, float* g, bool) const {
    double sum = 0.0;
    for (std::size_t k = 0; k < c; ++k) {
      sum += double(p[k]) - double(t[k]) * std::log(double(p[k]) + kEpsilon);
      if (g != nullptr) g[k] = (1.f - t[k] / (p[k] + kEpsilon)) / float(c);
    }
    return sum / double(c);
  }
};

// mean max(1 - t p, 0)^power, t read as 2 t - 1 when the batch's targets are all 0 or 1
template <int power>
struct HingeError : NoOptions {
  static constexpr bool kHingeLabels = true;
  using NoOptions::NoOptions;
  double sample(const float* p, const float* t, std::size_t c, float* g, bool binary) const {
    double sum = 0.0;
    for (std::size_t k = 0; k < c; ++k) {
      const float y = binary ? 2.f * t[k] - 1.f : t[k];
      const float margin = std::max(1.f - y * p[k], 0.f);
      sum += power == 1 ? double(margin) : double(margin) * margin;
      if (g != nullptr) g[k] = margin > 0.f ? -y * (power == 1 ? 1.f : 2.f * margin) / float(c) : 0.f;
    }
    return sum / double(c);
  }
};

// max(max((1 - t) p) - sum(t p) + 1, 0); a tie for the max shares its gradient, as TF's reduce_max
struct CategoricalHingeError : NoOptions {
  using NoOptions::NoOptions;
  double sample(const float* p, const float* t, std::size_t c, float* g, bool) const {
    double positive = 0.0;
    float negative = -INFINITY;
    for (std::size_t k = 0; k < c; ++k) {
      positive += double(t[k]) * p[k];
      negative = std::max(negative, (1.f - t[k]) * p[k]);
    }
    const double loss = std::max(double(negative) - positive + 1.0, 0.0);
    if (g != nullptr) {
      std::size_t ties = 0;
      for (std::size_t k = 0; k < c; ++k) ties += (1.f - t[k]) * p[k] == negative ? 1 : 0;
      for (std::size_t k = 0; k < c; ++k) {
        const float at_max = (1.f - t[k]) * p[k] == negative ? (1.f - t[k]) / float(ties) : 0.f;
        g[k] = loss > 0.0 ? at_max - t[k] : 0.f;
      }
    }
    return loss;
  }
};

// Whether every target is 0 or 1 (Keras's convert_binary_labels_to_hinge test).
inline bool all_binary(const float* t, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (t[i] != 0.f && t[i] != 1.f) return false;
  return true;
}

}  // namespace plugfit::loss_formulas
