// One checkpoint as one Keras file: the unit the hdf5: backend stores, ModelCheckpoint writes for
// a filepath ending in .h5, .weights.h5 or .keras, and `plugfit convert` exports.
//
// plugfit writes a record in the Keras format its path names, exactly as Keras lays that format
// out (Keras reads the file back as it would its own), and keeps what Keras has no place for
// (the checkpoint's name and save order, the record's info, tensors outside Keras's layout, the
// checksums) in a "plugfit" group that Keras never reads (plugfit_extras.hpp). Reading gives
// back a file plugfit wrote bit for bit, and a file Keras wrote through the importers
// (keras_import.hpp for the legacy .h5 layout, keras3_import.hpp for Keras 3's).
#pragma once

#include <cstdint>
#include <filesystem>
#include <plugfit/sdk.hpp>
#include <string>

namespace plugfit_hdf5 {

enum class KerasFormat {
  legacy_h5,   // model.save("m.h5"): root model_config, training_config, model_weights, optimizer_weights
  weights_h5,  // Keras 3 model.save_weights("m.weights.h5"): layers/<name>/vars/<i>, optimizer/vars/<i>
  archive,     // Keras 3 model.save("m.keras"): a zip of config.json, metadata.json, model.weights.h5
};

// By the path's name, as Keras's ModelCheckpoint and save() pick the format: ".keras" archive,
// ".weights.h5" weights_h5, anything else (".h5", ".hdf5") legacy_h5.
KerasFormat keras_format_for(const std::filesystem::path& path);

// The name of the one checkpoint a file Keras wrote holds.
inline constexpr const char* kKerasCheckpointName = "keras";

// A checkpoint as a file holds it.
struct StoredCheckpoint {
  std::string name;           // plugfit's checkpoint name; "keras" for a file Keras wrote
  std::int64_t save_seq = 0;  // the order of saves in one location (1, 2, ...); 0 for a file Keras wrote
  bool written_by_plugfit = false;
  plugfit::CheckpointRecord record;
};

// Writes checkpoint as a new file at path in format, and flushes it to disk (fsync) before it
// returns. requires: nothing exists at path (the caller writes a temporary name and renames it).
// A record without a model (info["model"]) is written with as much of Keras's layout as it has
// (weights), everything in the plugfit group.
// Throws plugfit::InputError for a record no file can hold (a tensor whose values do not fill
// its shape, two tensors of one name), plugfit::RuntimeFailure for an I/O failure (the reason
// included); on a throw nothing is left at path.
void write_keras_file(const std::filesystem::path& path, KerasFormat format, const StoredCheckpoint& checkpoint);

// Reads the file at path, whatever its name says: the content decides (a zip is an archive, an
// HDF5 file one of the two HDF5 layouts; tf.keras 2.11 wrote HDF5 files named .keras).
// ensures: a file plugfit wrote comes back bit for bit (written_by_plugfit true); a file Keras
// wrote comes back as keras_import / keras3_import read it (name "keras", save_seq 0).
// Throws plugfit::CheckpointCorrupt when plugfit's checksums fail or the file is truncated or
// damaged, plugfit::InputError naming label when it is no Keras file (not HDF5 or zip, a zip
// without config.json, an HDF5 file of neither layout) or holds what plugfit cannot represent.
StoredCheckpoint read_keras_file(const std::filesystem::path& path, const std::string& label);

// read_keras_file without the tensors when the file can say who it is cheaply (an HDF5 file
// plugfit wrote: its /plugfit attributes; record.tensors empty); any other file is read whole.
// For a store that must learn the name of a file before replacing it. Throws as read_keras_file.
StoredCheckpoint read_keras_file_header(const std::filesystem::path& path, const std::string& label);

}  // namespace plugfit_hdf5
