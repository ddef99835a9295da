// Reading the files Keras 3 saves as one plugfit checkpoint record (KerasParts, keras_record).
//
// .weights.h5 (model.save_weights): layers/<name>/vars/<i> per layer in the model's order, a
// wrapper's or cell's own variables below it (layers/<name>/<inner>/vars, depth first, children
// in name order as Keras's saving_lib walks them), optimizer/vars/<i>: 0 the iteration count,
// 1 the learning rate, then per trainable weight its slots (Adam's momentum then velocity).
// Weights become "weights/<layer>/<kernel|bias>" for Dense and "weights/<layer>/<path>/<i>"
// otherwise, matched to a model by position; optimizer slots "optimizer/<slot>/<layer>/<weight>".
// .keras (model.save): a zip of config.json (the model, with compile_config), metadata.json
// (keras_version) and model.weights.h5, read in memory. A Functional model that is a chain of
// layers reads as Sequential.
#pragma once

#include <filesystem>
#include <plugfit/sdk.hpp>
#include <string>

#include "h5.hpp"
#include "keras_file.hpp"
#include "keras_import.hpp"

namespace plugfit_hdf5 {

// Whether an open HDF5 file has Keras 3's weights layout (a layers group or root vars group).
bool is_keras3_weights_file(hid_t file);

// A Keras 3 weights file as parts. model_config (Keras 3's Sequential or chain-shaped Functional
// config) gives the layer order and weight names, training_config the optimizer; both may be null
// (a bare .weights.h5: layers in Keras's name order, the optimizer named by optimizer/vars's
// "name" attribute). Throws InputError naming file_label for a model plugfit cannot represent or
// a layer the file lacks, H5Failure for data that cannot be read.
KerasParts read_keras3_weights(hid_t file, const plugfit::Json& model_config, const plugfit::Json& training_config,
                               const std::string& file_label);

// A Functional config whose layers form one chain as the equivalent Sequential config; any
// other config unchanged. Throws InputError naming file_label and the layer where the graph
// branches or merges.
plugfit::Json functional_chain_as_sequential(const plugfit::Json& config, const std::string& file_label);

// The .keras archive at path: one plugfit wrote bit for bit (its model.weights.h5 holds the
// /plugfit group), one Keras wrote as the checkpoint "keras". Throws InputError naming file_label
// when it is no Keras archive (no config.json, config not JSON), ZipFailure when the zip cannot
// be read, CheckpointCorrupt when plugfit's checksums fail.
StoredCheckpoint read_keras3_archive(const std::filesystem::path& path, const std::string& file_label);

// Whether the file at path belongs to a plugfit hdf5: store (a FILE.checkpoints sidecar is
// beside it, or it lies in one). A damaged store file is CheckpointCorrupt (the store skips it
// for an older one); a damaged file given alone is bad input.
bool belongs_to_plugfit_store(const std::filesystem::path& path);

}  // namespace plugfit_hdf5
