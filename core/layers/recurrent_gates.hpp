// The recurrent layers' gate activations over a row of values. Sigmoid and tanh, the defaults of
// every LSTM and GRU, run in a form the compiler vectorizes (no libm call per element): e^x from
// Cephes's expf (reduction to [-ln2/2, ln2/2], degree-5 polynomial, within 2 ulp), tanh from
// Cephes's tanhf (odd polynomial below 0.625, e^-2|x| above). Both are within 1e-7 of the libm
// forms activations.cpp uses; every other activation goes through activations.hpp.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "activations.hpp"

namespace plugfit::recurrent_gates {

// e^x for x <= 0; below -86 the result (under 1e-37) is taken at -86, which keeps it normal.
inline float exp_nonpositive(float x) {
  x = std::max(x, -86.f);
  // Round to nearest through the float's mantissa: exact for |t| < 2^22, and vectorizes.
  const float t = x * 1.44269504088896341f;
  const float n = (t + 12582912.f) - 12582912.f;
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;  // x - n ln2 in two parts, exactly
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  return p * std::bit_cast<float>((static_cast<std::int32_t>(n) + 127) << 23);
}

// 1 / (1 + e^-x) from e = e^-|x| in (0, 1], so nothing overflows: s or 1 - s = e s.
inline float sigmoid(float x) {
  const float e = exp_nonpositive(-std::fabs(x));
  const float s = 1.f / (1.f + e);
  return x >= 0.f ? s : e * s;
}

inline float tanh(float x) {
  const float a = std::fabs(x);
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = p * z * x + x;
  const float e = exp_nonpositive(-2.f * a);  // at most e^-1.25: (1 - e) / (1 + e) loses nothing
  const float large = (1.f - e) / (1.f + e);
  return a < 0.625f ? small : (x < 0.f ? -large : large);
}

// out = f(in) over n values (distinct buffers).
inline void forward(ActivationKind kind, const float* __restrict in, float* __restrict out, std::size_t n) {
  switch (kind) {
    case ActivationKind::sigmoid:
      for (std::size_t i = 0; i < n; ++i) out[i] = sigmoid(in[i]);
      return;
    case ActivationKind::tanh:
      for (std::size_t i = 0; i < n; ++i) out[i] = tanh(in[i]);
      return;
    default:
      std::copy_n(in, n, out);
      activation_forward(kind, out, 1, n);
      return;
  }
}

// dz = dy * f'(z) over n values, from y = f(z) (z is read only where activations.hpp needs it).
inline void backward(ActivationKind kind, const float* __restrict z, const float* __restrict y,
                     const float* __restrict dy, float* __restrict dz, std::size_t n) {
  switch (kind) {
    case ActivationKind::sigmoid:
      for (std::size_t i = 0; i < n; ++i) dz[i] = dy[i] * y[i] * (1.f - y[i]);
      return;
    case ActivationKind::tanh:
      for (std::size_t i = 0; i < n; ++i) dz[i] = dy[i] * (1.f - y[i] * y[i]);
      return;
    default:
      activation_backward(kind, z, y, dy, dz, 1, n);
      return;
  }
}

}  // namespace plugfit::recurrent_gates
