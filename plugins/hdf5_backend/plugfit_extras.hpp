// The /plugfit group: what a Keras file has no place for, in a group Keras never reads.
//
// Attributes: format (int64 2), checkpoint (the name), save_seq (int64), info (the record's info
// JSON), tensors (the JSON manifest [[tensor name, dataset path, crc32], ...] in record order;
// a tensor Keras's layout holds points at its Keras dataset, any other lives at
// /plugfit/tensors/<name, "%" and "/" escaped as %25 and %2F>), crc32 (CRC-32 of the info text
// then of the tensors text). Keras's own datasets get no extra attributes.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "h5.hpp"
#include "keras_file.hpp"

namespace plugfit_hdf5 {

constexpr std::int64_t kPlugfitGroupFormat = 2;

// Writes /plugfit into file. keras_datasets maps a tensor's name to the dataset (absolute path)
// the Keras layout already wrote it to; every other tensor is written below /plugfit/tensors.
// requires: file has no /plugfit group; each mapped dataset holds its tensor's values as float32.
void write_plugfit_group(hid_t file, const StoredCheckpoint& checkpoint,
                         const std::map<std::string, std::string>& keras_datasets);

// Whether file has a /plugfit group (plugfit wrote it).
bool has_plugfit_group(hid_t file);

// The checkpoint /plugfit describes, bit for bit as written (written_by_plugfit true).
// Throws plugfit::CheckpointCorrupt naming label (and the attribute or dataset at fault) when a
// checksum fails, an attribute cannot be parsed, or a dataset is missing, not float32, or of a
// shape its values do not fill.
// With with_tensors false, only the name, save order and info are read (and checked).
StoredCheckpoint read_plugfit_group(hid_t file, const std::string& label, bool with_tensors = true);

}  // namespace plugfit_hdf5
