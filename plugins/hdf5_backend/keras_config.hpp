// plugfit's model and compile configs (a record's info) as Keras 3 writes them: the JSON of a
// .keras archive's config.json and of a legacy .h5's model_config and training_config.
#pragma once

#include <optional>
#include <plugfit/sdk.hpp>
#include <string>
#include <vector>

#include "keras_sequence.hpp"

namespace plugfit_hdf5 {

// Which writer's JSON: Keras 3.10's saving_lib (config.json: module, registered_name and
// build_config on every object) or Keras 3.8's legacy .h5 writer (class_name and config only).
enum class KerasJsonStyle { archive, legacy_h5 };

// Keras's JSON keeps Python's dict order (the order Keras writes its keys in): so does plugfit's.
using KerasJson = nlohmann::ordered_json;

// json.dumps's text of j: ", " and ": " separators, non-ASCII characters escaped.
std::string python_json_text(const KerasJson& j);

// The Keras version whose files plugfit's match, per style (the real files compared in tests).
std::string keras_version_for(KerasJsonStyle style);

// A model layer as Keras names it, in model order, InputLayer excluded (Keras's Sequential
// saves no state for it).
struct KerasLayerName {
  std::string name;        // the layer's name: its config's, else Keras's default (dense, dense_1, ...)
  std::string class_name;  // plugfit's class name ("Dense", "plugin>Type")
  // The layer's group in a .weights.h5 file: Keras 3's saving_lib names a container's layers by
  // class, not by name (names are not reproducible): dense, dense_1, dropout, ... in model order.
  std::string weights_group;
  KerasNesting nesting;  // where Keras 3 keeps its variables below its own (a recurrent layer's cell)
};

// The model name Keras would give (plugfit's models have none): "sequential".
std::string keras_model_name(const plugfit::Json& info);

// The layers of info["model"] (empty when the record has no model).
std::vector<KerasLayerName> keras_layer_names(const plugfit::Json& info);

// info["model"] and info["input_shape"] (and, for the archive, info["compile"] as
// compile_config) as Keras's model config. requires: info["model"] is a Sequential config.
KerasJson keras_model_config(const plugfit::Json& info, KerasJsonStyle style);

// info["compile"] as Keras's compile_config (archive) or training_config (legacy .h5); null
// when the record names no compile.
KerasJson keras_compile_config(const plugfit::Json& info, KerasJsonStyle style);

// The optimizer's Keras class ("Adam", "SGD", "RMSprop") when Keras has one that keeps the same
// slots, else nullopt (its state then lives in the plugfit group only).
std::optional<std::string> keras_optimizer_class(const plugfit::Json& info);

// plugfit's slot name for a Keras optimizer as Keras names the slot variable ("m" -> "momentum").
std::string keras_slot_name(const std::string& keras_class, const std::string& plugfit_slot);

// The plugfit slots of the optimizer in the order Keras 3's build() creates them: for each run,
// every weight in turn, the run's slots interleaved per weight. Adam: {{m, v}} (then {v_hat}
// with amsgrad); RMSprop: {velocity}, then {momentum}, then {average_gradient}; SGD: {momentum}.
std::vector<std::vector<std::string>> keras_slot_order(const std::string& keras_class, const plugfit::Json& info);

}  // namespace plugfit_hdf5
