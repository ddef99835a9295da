// Where a record's tensors go in Keras's layouts: the model's weights per Keras layer and the
// optimizer's slot variables in Keras's order (shared by the three formats keras_export writes).
#pragma once

#include <cstdint>
#include <optional>
#include <plugfit/sdk.hpp>
#include <string>
#include <vector>

#include "h5.hpp"
#include "keras_sequence.hpp"

namespace plugfit_hdf5 {

struct KerasLayerWeights {
  std::string name;                                // the Keras layer's name
  std::string weights_group;                       // its group in .weights.h5 (KerasLayerName)
  std::string class_name;                          // plugfit's class ("" when no model is known)
  KerasNesting nesting;                            // where Keras 3 keeps the variables below the layer's
  std::vector<const plugfit::NamedTensor*> weights;  // "weights/<name>/<weight>", record order
};

struct KerasSlotVariable {
  std::string variable;  // Keras's name: "<model>_<layer>_<weight>_<slot>"
  const plugfit::NamedTensor* tensor;
};

struct KerasOptimizerState {
  std::string name;  // "adam"
  std::int64_t iterations = 0;
  float learning_rate = 0;
  std::vector<KerasSlotVariable> slots;  // in Keras 3's order (keras_slot_order)
};

struct KerasLayout {
  std::string model_name;
  std::vector<KerasLayerWeights> layers;     // every model layer but the InputLayer, model order
  std::optional<KerasOptimizerState> optimizer;  // nullopt: no state, or an optimizer Keras lacks
};

// requires: the record's tensor names are unique.
KerasLayout keras_layout(const plugfit::CheckpointRecord& record);

// The weight's name below its layer as Keras 3 paths it: "lstm_cell/kernel" in an LSTM (its
// cell's), "kernel" in a Dense. The legacy .h5 writer nests it as "<model>/<layer>/<this>", the
// optimizer names its slots "<model>_<layer>_<this with _ for />_<slot>".
std::string keras3_weight_path(const KerasLayerWeights& layer, const plugfit::NamedTensor& weight);

// "kernel" for "weights/dense/kernel".
std::string weight_short_name(const plugfit::NamedTensor& weight);
// The name Keras 3 gives the weight: weight_short_name, but DepthwiseConv2D's "depthwise_kernel"
// is "kernel" (Keras 3's BaseDepthwiseConv.build: add_weight(name="kernel"); tf.keras 2 and
// SeparableConv2D in both eras say "depthwise_kernel").
std::string keras3_weight_name(const KerasLayerWeights& layer, const plugfit::NamedTensor& weight);

// The attribute and dataset encodings Keras's writers leave (h5py's for bytes, str and empty lists).
enum class StringCset { ascii, utf8 };  // h5py writes a Python bytes as ASCII, a str as UTF-8
void write_vlen_string_attr(hid_t obj, const std::string& name, const std::string& value, StringCset cset);
// A list of names as an array of variable-length ASCII strings; an empty list as an empty
// float64 array (numpy's np.asarray([])).
void write_vlen_string_list_attr(hid_t obj, const std::string& name, const std::vector<std::string>& values);
void write_int64_scalar(hid_t loc, const std::string& path, std::int64_t value);
void write_float32_scalar(hid_t loc, const std::string& path, float value);

}  // namespace plugfit_hdf5
