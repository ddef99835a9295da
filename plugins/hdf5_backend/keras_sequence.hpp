// The sequence layers (issue 13) in Keras's files: which Keras classes plugfit's built-ins read
// with Keras's config and weights, what of a Keras file's config they take otherwise, and where
// Keras 3 keeps their weights below the layer's own group.
#pragma once

#include <plugfit/sdk.hpp>
#include <string>
#include <vector>

namespace plugfit_hdf5 {

// The Keras classes of the sequence layers plugfit's built-ins read (one entry per class).
const std::vector<std::string>& keras_sequence_classes();

// A layer's config as a Keras file holds it, made the one plugfit's layer takes: Keras 3.5's
// "OrthogonalInitializer" is the Orthogonal later releases write; a recurrent layer's
// zero_output_for_mask false (what plugfit's layers do: a masked step repeats the last output)
// is dropped. Throws InputError naming where (the file and layer) for zero_output_for_mask true.
void sequence_config_from_keras(const std::string& class_name, plugfit::Json& config, const std::string& where);

// Where Keras 3 keeps a layer's variables below its own: a recurrent layer's in its cell,
// TimeDistributed's in the layer it wraps. Both empty for a layer that keeps its own.
struct KerasNesting {
  std::string attribute;  // the .weights.h5 group below the layer's (saving_lib's attribute): "cell", "layer"
  std::string scope;      // the variables' name component: "lstm_cell", the wrapped layer's name
};
KerasNesting keras_nesting(const std::string& class_name, const plugfit::Json& config);

}  // namespace plugfit_hdf5
