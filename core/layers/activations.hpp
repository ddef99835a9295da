// Elementwise activations shared by Dense and Activation, on raw row-major buffers.
// Backward passes use the activation's output y, so no input needs keeping.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace plugfit {

enum class ActivationKind { linear, relu, sigmoid, tanh, softmax };

// Parses Keras's activation names (null means linear). Throws InputError naming the layer and
// listing the known activations.
ActivationKind parse_activation(const nlohmann::json& spec, const std::string& layer);
const char* activation_name(ActivationKind kind);

// y = f(y), in place, over rows x cols (softmax along each row).
void activation_forward(ActivationKind kind, float* y, std::size_t rows, std::size_t cols);
// dz = dy * f'(.) expressed through y = f(z).
void activation_backward(ActivationKind kind, const float* y, const float* dy, float* dz, std::size_t rows,
                         std::size_t cols);

}  // namespace plugfit
