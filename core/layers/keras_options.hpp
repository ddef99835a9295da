// Options every Keras layer config carries, which plugfit reads elsewhere or has no use for.
#pragma once

#include <initializer_list>
#include <string>

#include <plugfit/config.hpp>

namespace plugfit {

// Accepts "name", "trainable", "dtype" (all checked and used by the model: see
// check_keras_precision_options) and the input-shape keys.
void accept_keras_layer_options(Config& config);
// The precision options of Keras's base Layer, which the model checks for every layer (built-in
// or plugin) before its constructor runs. plugfit computes in float32: "dtype" may be absent,
// null, "float32" or a (Float)DTypePolicy named float32; "lora_rank" and "quantization_config"
// absent or null; "lora_alpha" only without a lora_rank (Keras uses it only with one);
// "autocast" a boolean (a no-op when everything is float32, as in Keras). Anything else is an
// InputError naming the layer and the option.
void check_keras_precision_options(const Json& layer_config, const std::string& layer, const std::string& class_name);
// The keys check_keras_precision_options handles (the model removes them before a constructor).
inline constexpr const char* kKerasPrecisionKeys[] = {"dtype", "autocast", "quantization_config", "lora_rank",
                                                      "lora_alpha"};
// Accepts the keys when null; a non-null value is an InputError naming the option as unsupported.
void reject_keras_extras(Config& config, std::initializer_list<const char*> keys);

}  // namespace plugfit
