// The checks and the inference view core applies to a record read from a file Keras saved
// (info["keras"] is an object): layers plugfit lacks, regularizers and constraints a resume
// would drop, and the training-only settings predict and evaluate leave out.
#pragma once

#include <string>
#include <vector>

#include <plugfit/checkpoint.hpp>
#include <plugfit/registry.hpp>

namespace plugfit {

// Whether the record stands for a file Keras saved.
bool is_keras_record(const CheckpointRecord& record);
// The file's label as its reader gave it (info["keras"]["file"]), else "the Keras file".
// Requires: is_keras_record(record).
std::string keras_file_of(const CheckpointRecord& record);
// Throws InputError `FILE: layer I "NAME" is a Keras CLASS, which plugfit does not have yet` for
// the first layer listed in info["keras"]["layers_plugfit_lacks"]; nothing for other records.
void refuse_keras_layers_plugfit_lacks(const CheckpointRecord& record);
// Throws InputError naming the file, layer and field of a non-null regularizer or constraint in
// a Keras record's model: training on from its weights would drop it.
void refuse_keras_regularizers(const CheckpointRecord& record);
// A copy of a Keras record's info without what only training reads and plugfit cannot use
// (regularizers, constraints, initializers it cannot map, a dtype policy other than float32; an
// optimizer or metric it lacks or refuses; the whole compile when it lacks the loss), each
// named in `ignored`.
Json keras_inference_info(const Json& info, const Registry& registry, std::vector<std::string>& ignored);

}  // namespace plugfit
