// Reading .h5 files that Keras itself saved as one plugfit checkpoint record.
//
// Full models (model.save("m.h5"), Keras 2 and 3): the root attribute model_config becomes
// info["model"] (Sequential only; Keras's Activation, Dense, Dropout, Flatten and InputLayer, and
// custom layers whose registered_name is "plugin>Type"), the InputLayer's batch shape
// info["input_shape"], training_config info["compile"], and optimizer_weights (iteration,
// learning_rate, one slot tensor per weight: Adam's momentum -> "m", velocity -> "v") the
// optimizer state, with kind "full" when that state is complete.
// Weights (model_weights/<layer>/<weight name>, or <layer>/<weight name> at the root of a
// save_weights file) become tensors "weights/<layer>/<kernel|bias|...>" in Keras's order, and
// info["keras"] = {"weights_by_position": true, "layers": [{"name", "weights": [tensor names]}]}
// makes plugfit match them to a model by position, as Keras's load_weights does for .h5 files.
#pragma once

#include <plugfit/sdk.hpp>
#include <string>

#include "h5.hpp"

namespace plugfit_hdf5 {

// Whether an open file has Keras's layout: a model_weights group or a root layer_names attribute.
bool is_keras_file(hid_t file);

// The file as one record. Throws plugfit::InputError naming file_label for what plugfit cannot
// represent (a layer without an equivalent, a model that is not Sequential), H5Failure for data
// that cannot be read.
plugfit::CheckpointRecord import_keras(hid_t file, const std::string& file_label);

}  // namespace plugfit_hdf5
