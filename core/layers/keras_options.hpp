// Options every Keras layer config carries, which plugfit reads elsewhere or has no use for.
#pragma once

#include <initializer_list>

#include <plugfit/config.hpp>

namespace plugfit {

// Accepts "name" (read by the model), "trainable", "dtype" and the input-shape keys.
void accept_keras_layer_options(Config& config);
// Accepts the keys when null; a non-null value is an InputError naming the option as unsupported.
void reject_keras_extras(Config& config, std::initializer_list<const char*> keys);

}  // namespace plugfit
