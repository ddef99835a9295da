// Keras's model configs of every era (Keras 1 to 3, tf.keras) as plugfit's: the one
// normalisation every reader of Keras's JSON uses (the hdf5 plugin's file readers, and a run
// file whose "model" is Keras's model.to_json()).
#pragma once

#include <string>

#include "config.hpp"
#include "export.hpp"

namespace plugfit {

// "keras.layers.Dense" -> "Dense"; "Custom>Adam" (tf.keras 2.11-2.15) -> "Adam"; "plugin>Type"
// and plain names unchanged.
PLUGFIT_API std::string keras_bare_class_name(std::string name);

// One Keras layer spec as plugfit reads it. Ensures: Keras 1's keys renamed (output_dim ->
// units, init -> kernel_initializer, W_regularizer -> kernel_regularizer, input_dtype -> dtype,
// Dropout's p -> rate, ...) where the new key is absent; the class name bare; a serialized
// activation ({"class_name": "function", "config": "relu"}, {"class_name": "relu"}, gelu's
// {"approximate": true} config) made the name plugfit knows ("gelu_approximate" for the tanh
// form). Anything else is returned unchanged, so a plugfit spec comes back as it was.
PLUGFIT_API Json keras_layer_spec(Json spec);

// The meaning names had in the Keras version that wrote the specs ("2.3.1", "2.2.4-tf"; empty or
// unparsable is Keras 3): before Keras 3, hard_sigmoid is clip(0.2 x + 0.5, 0, 1), plugfit's
// "hard_sigmoid_keras2". Requires: specs already passed through keras_layer_spec.
PLUGFIT_API void apply_keras_era(Json& layer_specs, const std::string& keras_version);

// Keras's training_config (legacy .h5 files, SavedModels; Keras 3's compile_config in the same
// shape) as plugfit's compile config {"optimizer", "loss", "metrics"}: null options dropped
// (Keras 3 writes every option, null when unset), class names bare, a MeanMetricWrapper (how
// tf.keras 2.x serializes "accuracy" and the others) as its function. Null when it names no loss.
PLUGFIT_API Json compile_config_from_keras(const Json& training_config);

// Whether a model config is Keras's model.to_json() form: it names the keras_version.
PLUGFIT_API bool is_keras_model_json(const Json& model_config);

}  // namespace plugfit
