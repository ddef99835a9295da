// Reading files that Keras itself saved as one plugfit checkpoint record.
//
// Full models (model.save("m.h5"), Keras 1 to 3): the root attribute model_config becomes
// info["model"] (Sequential only; Keras's Activation, Dense, Dropout, Flatten and InputLayer, and
// custom layers whose registered_name is "plugin>Type"; other Keras layers kept as Keras wrote
// them and listed in info["keras"]["layers_plugfit_lacks"]), the InputLayer's batch shape
// info["input_shape"], training_config info["compile"] (Keras <= 2.3's RMSprop with
// "epsilon_outside_sqrt"), and optimizer_weights (iteration, learning_rate, one slot tensor per
// trainable weight: Adam's momentum -> "m", velocity -> "v") the optimizer state, with kind
// "full" when that state is complete. info["keras"]["file"] is the file's label.
// Weights (model_weights/<layer>/<weight name>, or <layer>/<weight name> at the root of a
// save_weights file) become tensors "weights/<layer>/<kernel|bias|...>" in Keras's order, and
// info["keras"] = {"weights_by_position": true, "layers": [{"name", "weights": [tensor names]}]}
// makes plugfit match them to a model by position, as Keras's load_weights does for .h5 files.
//
// The pieces every Keras reader shares (the legacy .h5 one here, Keras 3's .weights.h5 and
// .keras ones) are declared below: a reader gathers KerasParts and keras_record assembles them.
#pragma once

#include <cstdint>
#include <optional>
#include <plugfit/sdk.hpp>
#include <string>
#include <utility>
#include <vector>

#include "h5.hpp"

namespace plugfit_hdf5 {

// A model's weights as a Keras file holds them.
struct KerasWeights {
  plugfit::Json layers = plugfit::Json::array();  // info["keras"]["layers"]: [{"name", "weights": [tensor names]}]
  std::vector<plugfit::NamedTensor> tensors;      // "weights/<layer>/<weight>", Keras's order
};

// An optimizer's state as a Keras file holds it, read or not.
struct OptimizerState {
  bool complete = false;
  std::string reason;  // why it was not read, for info["keras"]["optimizer_state"]
  std::int64_t iterations = -1;
  std::optional<double> learning_rate;
  std::vector<plugfit::NamedTensor> tensors;  // "optimizer/<slot>/<layer>/<weight>"
};

// What a Keras reader found in a file, before it becomes a record.
struct KerasParts {
  plugfit::Json model_config;     // Keras's {"class_name": "Sequential", ...}, or null (weights only)
  plugfit::Json training_config;  // Keras's training/compile config, or null
  plugfit::Json keras = plugfit::Json::object();  // keras_version, backend, ... for info["keras"]
  KerasWeights weights;
  OptimizerState optimizer;
};

// Keras's Sequential config (any era) as plugfit's model config and input shape: Keras 1 keys
// renamed, serialized activations and class names made plain, custom layers by their registered
// "plugin>Type" name. A Keras layer plugfit lacks (LSTM, Conv2D, ...) keeps its Keras config and
// is listed in model["keras_layers_plugfit_lacks"] = {"file": file_label, "layers": [{"index",
// "name", "class_name"}]} (keras_record moves it to info["keras"]["layers_plugfit_lacks"], and
// building such a model refuses it by name); such a model's input shape may be unknown (null
// dimensions: sequences of any length). Throws InputError naming file_label for a model that is
// not Sequential, or that plugfit could build but declares no fixed input shape.
std::pair<plugfit::Json, std::optional<plugfit::Shape>> keras_model_to_plugfit(const plugfit::Json& config,
                                                                               const std::string& file_label);

// The plugfit slots of an optimizer ("adam", "rmsprop", "sgd", lower case) in the order Keras
// keeps them per weight: Adam's m then v, RMSprop's velocity, SGD's momentum; empty for others.
std::vector<std::string> positional_slots(const std::string& optimizer);

// The record a Keras file stands for: kind "full" when parts.optimizer is complete, else
// "weights" (info["keras"]["optimizer_state"] says why).
plugfit::CheckpointRecord keras_record(const KerasParts& parts, const std::string& file_label);

// Whether an open file has Keras's legacy layout: a model_weights group or a root layer_names attribute.
bool is_keras_file(hid_t file);

// The file as one record. Throws plugfit::InputError naming file_label for what plugfit cannot
// represent (a layer without an equivalent, a model that is not Sequential), H5Failure for data
// that cannot be read.
plugfit::CheckpointRecord import_keras(hid_t file, const std::string& file_label);

}  // namespace plugfit_hdf5
