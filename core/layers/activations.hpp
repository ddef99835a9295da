// Elementwise activations shared by Dense and Activation, on raw row-major buffers, by Keras's
// names (keras/src/activations/activations.py). Backward passes use the output y and, for the
// activations whose derivative y cannot give (gelu, swish, mish), the input z as well.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace plugfit {

enum class ActivationKind {
  linear, relu, sigmoid, tanh, softmax,
  elu,                 // alpha 1
  selu,                // Klambauer's scale and alpha, as Keras
  gelu,                // erf form (Keras 3's default approximate=False)
  gelu_approximate,    // tanh form (approximate=True)
  swish,               // x sigmoid(x), also "silu"
  softplus, softsign,
  hard_sigmoid,        // Keras 3: relu6(x + 3) / 6
  hard_sigmoid_keras2, // Keras 2: clip(0.2 x + 0.5, 0, 1), for files with keras_version < 3
  relu6,
  leaky_relu,          // negative_slope 0.2, Keras 3's default
  exponential, mish,
  log_softmax,         // along each row, as softmax
};

// Parses Keras's activation names and aliases (null and "None" mean linear), and plugfit's two
// internal names for the non-default forms: "gelu_approximate" and "hard_sigmoid_keras2".
// Throws InputError naming the layer and listing the known activations.
ActivationKind parse_activation(const nlohmann::json& spec, const std::string& layer);
const char* activation_name(ActivationKind kind);

// True when activation_backward needs the input z (the output alone does not give f').
bool activation_needs_input(ActivationKind kind);
// True for softmax and log_softmax, which work along each row rather than elementwise.
bool activation_is_rowwise(ActivationKind kind);

// y = f(y), in place, over rows x cols (softmax and log_softmax along each row).
void activation_forward(ActivationKind kind, float* y, std::size_t rows, std::size_t cols);
// dz = dy * f'(z), from y = f(z) and, when activation_needs_input(kind), z (else z may be null).
// Allocates nothing.
void activation_backward(ActivationKind kind, const float* z, const float* y, const float* dy, float* dz,
                         std::size_t rows, std::size_t cols);

}  // namespace plugfit
