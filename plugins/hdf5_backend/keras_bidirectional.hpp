// Bidirectional in Keras's files, for the readers and writers (keras/src/layers/rnn/bidirectional.py,
// keras/src/saving/saving_lib.py). Keras 3 keeps the two layers as the attributes forward_layer
// and backward_layer, each with its cell:
//   .weights.h5   layers/bidirectional/{forward_layer,backward_layer}/cell/vars/0..2
//                 (and empty vars groups for the wrapper and the two layers)
//   legacy .h5    model_weights/bidirectional/sequential/bidirectional/forward_lstm/lstm_cell/kernel
//                 (tf.keras 2: bidirectional/forward_lstm/lstm_cell/kernel:0)
//   optimizer     sequential_bidirectional_forward_lstm_lstm_cell_kernel_momentum (the path's '/' as '_')
// plugfit names the weights "weights/bidirectional/forward_lstm/kernel"; each function below is
// called by one line of the shared readers and writers.
#pragma once

#include <map>
#include <optional>
#include <plugfit/sdk.hpp>
#include <string>
#include <vector>

#include "h5.hpp"
#include "keras_config.hpp"
#include "keras_layout.hpp"

namespace plugfit_hdf5 {

using KerasDims = std::optional<std::vector<KerasJson>>;  // a batch shape [null, d1, ...]; nullopt: unknown
// keras_config.cpp's translation of one layer's config (for the two inner layers).
using KerasLayerConfigFn = KerasJson (*)(const std::string& cls, plugfit::Json config, const std::string& name,
                                         const KerasDims& input, KerasDims& output);

// Writer, config: for cls "Bidirectional", adds Keras 3's merge_mode, layer and backward_layer
// (each as serialize_keras_object writes it: module, class_name, config by inner_config,
// registered_name, build_config) to out, sets output to the merged batch shape, returns true.
// Any other class: false, nothing touched.
bool keras_bidirectional_config(const std::string& cls, const plugfit::Json& config, KerasJson& out,
                                const KerasDims& input, KerasDims& output, KerasLayerConfigFn inner_config);

// Writer, legacy .h5: a Bidirectional weight's path below the layer, "forward_lstm/lstm_cell/kernel"
// (the cell named from the recurrent kernel's gates: 4 LSTM, 3 GRU, 1 SimpleRNN); nullopt for
// any other layer.
std::optional<std::string> keras_bidirectional_weight_path(const KerasLayerWeights& layer,
                                                           const plugfit::NamedTensor& weight);

// Writer, .weights.h5: a Bidirectional layer's groups as Keras 3 lays them out, each dataset's
// path recorded in datasets (tensor name -> path); false (nothing written) for any other layer.
bool write_keras_bidirectional_weights(hid_t file, const KerasLayerWeights& layer,
                                       std::map<std::string, std::string>& datasets);

// Reader, model config: a Keras Bidirectional spec made plugfit's: both inner specs through
// keras_layer_spec, their zero_output_for_mask dropped (Bidirectional forces it to
// return_sequences, which is what plugfit's does). Any other spec unchanged.
void normalize_keras_bidirectional(plugfit::Json& spec);

// Reader, legacy .h5: the name below the layer of a weight listed for the Bidirectional layer
// `layer`: "forward_lstm/kernel" for ".../<layer>/forward_lstm/lstm_cell/kernel[:0]"; nullopt
// for a path that is not a Bidirectional's (two components at least below a forward_ or
// backward_ layer right under `layer`).
std::optional<std::string> keras_bidirectional_h5_weight(const std::string& layer, const std::string& weight_path);

// Reader, .weights.h5: saving_lib's groups come in name order (backward_layer first) while Keras's
// weights and optimizer slots go forward layer first. When the layer just read (the last
// layer_weights.size() of tensors and trainable, named by layer_weights) holds a Bidirectional's
// groups, "weights/<layer>/{forward_layer,backward_layer}/...", moves forward_layer's first; any
// other layer (a bare file names no classes, so the groups decide): nothing.
void order_keras_bidirectional_weights(std::vector<plugfit::NamedTensor>& tensors, plugfit::Json& layer_weights,
                                       std::vector<bool>& trainable);

}  // namespace plugfit_hdf5
