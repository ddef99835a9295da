#include "activations.hpp"

#include <algorithm>
#include <cmath>

#include <plugfit/config.hpp>

namespace plugfit {

ActivationKind parse_activation(const Json& spec, const std::string& layer) {
  if (spec.is_null()) return ActivationKind::linear;
  const std::string name = spec.is_string() ? spec.get<std::string>() : spec.dump();
  if (name == "linear" || name == "None") return ActivationKind::linear;
  if (name == "relu") return ActivationKind::relu;
  if (name == "sigmoid") return ActivationKind::sigmoid;
  if (name == "tanh") return ActivationKind::tanh;
  if (name == "softmax") return ActivationKind::softmax;
  throw InputError(layer + ": unknown activation \"" + name + "\" (known: linear, relu, sigmoid, softmax, tanh)");
}

const char* activation_name(ActivationKind kind) {
  switch (kind) {
    case ActivationKind::linear: return "linear";
    case ActivationKind::relu: return "relu";
    case ActivationKind::sigmoid: return "sigmoid";
    case ActivationKind::tanh: return "tanh";
    case ActivationKind::softmax: return "softmax";
  }
  return "linear";
}

void activation_forward(ActivationKind kind, float* __restrict y, std::size_t rows, std::size_t cols) {
  const std::size_t n = rows * cols;
  switch (kind) {
    case ActivationKind::linear:
      return;
    case ActivationKind::relu:
      for (std::size_t i = 0; i < n; ++i) y[i] = y[i] > 0.f ? y[i] : 0.f;
      return;
    case ActivationKind::sigmoid:
      for (std::size_t i = 0; i < n; ++i) y[i] = 1.f / (1.f + std::exp(-y[i]));
      return;
    case ActivationKind::tanh:
      for (std::size_t i = 0; i < n; ++i) y[i] = std::tanh(y[i]);
      return;
    case ActivationKind::softmax:
      for (std::size_t r = 0; r < rows; ++r) {
        float* row = y + r * cols;
        const float top = *std::max_element(row, row + cols);
        float sum = 0.f;
        for (std::size_t c = 0; c < cols; ++c) sum += (row[c] = std::exp(row[c] - top));
        const float inv = 1.f / sum;
        for (std::size_t c = 0; c < cols; ++c) row[c] *= inv;
      }
      return;
  }
}

void activation_backward(ActivationKind kind, const float* __restrict y, const float* __restrict dy,
                         float* __restrict dz, std::size_t rows, std::size_t cols) {
  const std::size_t n = rows * cols;
  switch (kind) {
    case ActivationKind::linear:
      std::copy(dy, dy + n, dz);
      return;
    case ActivationKind::relu:
      for (std::size_t i = 0; i < n; ++i) dz[i] = y[i] > 0.f ? dy[i] : 0.f;
      return;
    case ActivationKind::sigmoid:
      for (std::size_t i = 0; i < n; ++i) dz[i] = dy[i] * y[i] * (1.f - y[i]);
      return;
    case ActivationKind::tanh:
      for (std::size_t i = 0; i < n; ++i) dz[i] = dy[i] * (1.f - y[i] * y[i]);
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
  }
}

}  // namespace plugfit
