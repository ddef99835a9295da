#include "activations.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include <plugfit/config.hpp>

namespace plugfit {

namespace {

// Keras's names and aliases, in the order the "known" list prints them.
constexpr std::array<std::pair<const char*, ActivationKind>, 21> kNames{{
    {"linear", ActivationKind::linear},
    {"relu", ActivationKind::relu},
    {"sigmoid", ActivationKind::sigmoid},
    {"tanh", ActivationKind::tanh},
    {"softmax", ActivationKind::softmax},
    {"elu", ActivationKind::elu},
    {"selu", ActivationKind::selu},
    {"gelu", ActivationKind::gelu},
    {"gelu_approximate", ActivationKind::gelu_approximate},
    {"swish", ActivationKind::swish},
    {"silu", ActivationKind::swish},
    {"softplus", ActivationKind::softplus},
    {"softsign", ActivationKind::softsign},
    {"hard_sigmoid", ActivationKind::hard_sigmoid},
    {"hard_sigmoid_keras2", ActivationKind::hard_sigmoid_keras2},
    {"relu6", ActivationKind::relu6},
    {"leaky_relu", ActivationKind::leaky_relu},
    {"exponential", ActivationKind::exponential},
    {"mish", ActivationKind::mish},
    {"log_softmax", ActivationKind::log_softmax},
    {"None", ActivationKind::linear},
}};
constexpr std::size_t kListed = 20;  // "None" parses but is not listed

constexpr float kSeluScale = 1.05070098735548049342f;
constexpr float kSeluAlpha = 1.67326324235437728481f;
constexpr float kLeakySlope = 0.2f;
constexpr float kSqrtHalf = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;
constexpr float kSqrt2OverPi = 0.79788456080286535588f;
constexpr float kGeluCubic = 0.044715f;

float sigmoid(float x) { return 1.f / (1.f + std::exp(-x)); }
// log(1 + e^x) without overflow.
float softplus(float x) { return std::max(x, 0.f) + std::log1p(std::exp(-std::fabs(x))); }

float forward_one(ActivationKind kind, float x) {
  switch (kind) {
    case ActivationKind::relu: return x > 0.f ? x : 0.f;
    case ActivationKind::sigmoid: return sigmoid(x);
    case ActivationKind::tanh: return std::tanh(x);
    case ActivationKind::elu: return x > 0.f ? x : std::expm1(x);
    case ActivationKind::selu: return kSeluScale * (x > 0.f ? x : kSeluAlpha * std::expm1(x));
    // 1 + erf(u) = erfc(-u) and 1 + tanh(u) = 2 sigmoid(2u), without cancellation for x << 0.
    case ActivationKind::gelu: return 0.5f * x * std::erfc(-x * kSqrtHalf);
    case ActivationKind::gelu_approximate: return x * sigmoid(2.f * kSqrt2OverPi * (x + kGeluCubic * x * x * x));
    case ActivationKind::swish: return x * sigmoid(x);
    case ActivationKind::softplus: return softplus(x);
    case ActivationKind::softsign: return x / (1.f + std::fabs(x));
    case ActivationKind::hard_sigmoid: return std::clamp(x + 3.f, 0.f, 6.f) / 6.f;
    case ActivationKind::hard_sigmoid_keras2: return std::clamp(0.2f * x + 0.5f, 0.f, 1.f);
    case ActivationKind::relu6: return std::clamp(x, 0.f, 6.f);
    case ActivationKind::leaky_relu: return x > 0.f ? x : kLeakySlope * x;
    case ActivationKind::exponential: return std::exp(x);
    case ActivationKind::mish: return x * std::tanh(softplus(x));
    default: return x;
  }
}

// f'(z) from z and y = f(z); z is only read for the kinds activation_needs_input names.
float derivative_one(ActivationKind kind, float z, float y) {
  switch (kind) {
    case ActivationKind::relu: return y > 0.f ? 1.f : 0.f;
    case ActivationKind::sigmoid: return y * (1.f - y);
    case ActivationKind::tanh: return 1.f - y * y;
    case ActivationKind::elu: return y > 0.f ? 1.f : y + 1.f;
    case ActivationKind::selu: return y > 0.f ? kSeluScale : y + kSeluScale * kSeluAlpha;
    case ActivationKind::gelu:
      return 0.5f * std::erfc(-z * kSqrtHalf) + z * kInvSqrt2Pi * std::exp(-0.5f * z * z);
    case ActivationKind::gelu_approximate: {  // s = sigmoid(2u) = (1 + tanh u) / 2, 1 - tanh^2 u = 4 s (1 - s)
      const float s = sigmoid(2.f * kSqrt2OverPi * (z + kGeluCubic * z * z * z));
      return s + 2.f * z * s * (1.f - s) * kSqrt2OverPi * (1.f + 3.f * kGeluCubic * z * z);
    }
    case ActivationKind::swish: {
      const float s = sigmoid(z);
      return s * (1.f + z * (1.f - s));
    }
    case ActivationKind::softplus: return -std::expm1(-y);  // sigmoid(z) = 1 - e^-softplus(z)
    case ActivationKind::softsign: {
      const float d = 1.f - std::fabs(y);  // 1 / (1 + |z|)
      return d * d;
    }
    case ActivationKind::hard_sigmoid: return y > 0.f && y < 1.f ? 1.f / 6.f : 0.f;
    case ActivationKind::hard_sigmoid_keras2: return y > 0.f && y < 1.f ? 0.2f : 0.f;
    case ActivationKind::relu6: return y > 0.f && y < 6.f ? 1.f : 0.f;
    case ActivationKind::leaky_relu: return y > 0.f ? 1.f : kLeakySlope;
    case ActivationKind::exponential: return y;
    case ActivationKind::mish: {
      const float t = std::tanh(softplus(z));
      return t + z * sigmoid(z) * (1.f - t * t);
    }
    default: return 1.f;
  }
}

}  // namespace

ActivationKind parse_activation(const Json& spec, const std::string& layer) {
  if (spec.is_null()) return ActivationKind::linear;
  const std::string name = spec.is_string() ? spec.get<std::string>() : spec.dump();
  for (const auto& [known, kind] : kNames)
    if (name == known) return kind;
  std::string list;
  for (std::size_t i = 0; i < kListed; ++i) list += (i == 0 ? "" : ", ") + std::string(kNames[i].first);
  throw InputError(layer + ": unknown activation \"" + name + "\" (known: " + list + ")");
}

const char* activation_name(ActivationKind kind) {
  for (std::size_t i = 0; i < kListed; ++i)
    if (kNames[i].second == kind) return kNames[i].first;
  return "linear";
}

bool activation_needs_input(ActivationKind kind) {
  return kind == ActivationKind::gelu || kind == ActivationKind::gelu_approximate || kind == ActivationKind::swish ||
         kind == ActivationKind::mish;
}

bool activation_is_rowwise(ActivationKind kind) {
  return kind == ActivationKind::softmax || kind == ActivationKind::log_softmax;
}

void activation_forward(ActivationKind kind, float* __restrict y, std::size_t rows, std::size_t cols) {
  const std::size_t n = rows * cols;
  switch (kind) {
    case ActivationKind::linear:
      return;
    case ActivationKind::softmax:
    case ActivationKind::log_softmax:
      for (std::size_t r = 0; r < rows; ++r) {
        float* row = y + r * cols;
        const float top = *std::max_element(row, row + cols);
        float sum = 0.f;
        for (std::size_t c = 0; c < cols; ++c) sum += std::exp(row[c] - top);
        if (kind == ActivationKind::log_softmax) {
          const float log_sum = top + std::log(sum);
          for (std::size_t c = 0; c < cols; ++c) row[c] -= log_sum;
        } else {
          const float inv = 1.f / sum;
          for (std::size_t c = 0; c < cols; ++c) row[c] = std::exp(row[c] - top) * inv;
        }
      }
      return;
    case ActivationKind::relu:  // the common case gets a loop the compiler vectorizes
      for (std::size_t i = 0; i < n; ++i) y[i] = std::max(y[i], 0.f);
      return;
    default:
      for (std::size_t i = 0; i < n; ++i) y[i] = forward_one(kind, y[i]);
      return;
  }
}

void activation_backward(ActivationKind kind, const float* __restrict z, const float* __restrict y,
                         const float* __restrict dy, float* __restrict dz, std::size_t rows, std::size_t cols) {
  const std::size_t n = rows * cols;
  switch (kind) {
    case ActivationKind::linear:
      std::copy(dy, dy + n, dz);
      return;
    case ActivationKind::softmax:
      for (std::size_t r = 0; r < rows; ++r) {
        const float* yr = y + r * cols;
        const float* dyr = dy + r * cols;
        float dot = 0.f;
        for (std::size_t c = 0; c < cols; ++c) dot += yr[c] * dyr[c];
        for (std::size_t c = 0; c < cols; ++c) dz[r * cols + c] = yr[c] * (dyr[c] - dot);
      }
      return;
    case ActivationKind::log_softmax:  // dz = dy - softmax(z) sum(dy), softmax(z) = e^y
      for (std::size_t r = 0; r < rows; ++r) {
        const float* yr = y + r * cols;
        const float* dyr = dy + r * cols;
        float sum = 0.f;
        for (std::size_t c = 0; c < cols; ++c) sum += dyr[c];
        for (std::size_t c = 0; c < cols; ++c) dz[r * cols + c] = dyr[c] - std::exp(yr[c]) * sum;
      }
      return;
    case ActivationKind::relu:
      for (std::size_t i = 0; i < n; ++i) dz[i] = y[i] > 0.f ? dy[i] : 0.f;
      return;
    default:
      if (activation_needs_input(kind)) {
        for (std::size_t i = 0; i < n; ++i) dz[i] = dy[i] * derivative_one(kind, z[i], y[i]);
      } else {
        for (std::size_t i = 0; i < n; ++i) dz[i] = dy[i] * derivative_one(kind, 0.f, y[i]);
      }
      return;
  }
}

}  // namespace plugfit
