// A TensorFlow checkpoint (a tensor bundle, and for a Keras SavedModel its keras_metadata.pb) as
// one plugfit checkpoint record, the way the hdf5 plugin turns a Keras .h5 file into one:
//
//   weights     the object graph (_CHECKPOINTABLE_OBJECT_GRAPH) from the root's children
//               "layer_with_weights-N", in N order; each layer's variables in the graph's child
//               order (Keras's creation order: kernel, bias, ...), as tensors
//               "weights/<layer>/<variable>" with info["keras"] = {"weights_by_position": true,
//               "layers": [...]}: core matches them to the model's layers with weights by
//               position, with Keras's messages, as Keras's TF-format load_weights does
//   optimizer   the root's "optimizer" child: its "iter" (int64 step count), "learning_rate", and
//               its slot variables (Adam's m and v, RMSprop's rms/momentum/mg, SGD's momentum) as
//               "optimizer/<plugfit slot>/<layer>/<variable>" in the weights' order
//   model       (SavedModel only) keras_metadata.pb's root node: Keras's JSON config, each layer
//               through the SDK's keras_layer_spec and apply_keras_era, Python tuples
//               ({"class_name": "__tuple__", "items": [...]}) made lists; its training_config
//               becomes info["compile"]. kind "full" when the optimizer state is complete.
//   info["tf"]  every variable of the bundle (key, dtype, shape) and what became of it
//
// Every variable's bytes are read and CRC-checked, those not used too (metrics' count/total):
// a damaged shard never loads. Mapped variables must be float32, float16 or bfloat16 (the step
// int64/int32); another dtype is an InputError naming the variable and the dtype.
#pragma once

#include <optional>
#include <plugfit/sdk.hpp>
#include <string>

#include "tensor_bundle.hpp"

namespace plugfit_tf {

// metadata: keras_metadata.pb's bytes (a SavedModel), or nothing (a tf.train checkpoint).
// label: the location for messages ("tf:/path/model"). Throws tf_files::FormatError or
// plugfit::InputError, each naming the file.
plugfit::CheckpointRecord tf_record(const tf_files::TensorBundle& bundle, const std::optional<std::string>& metadata,
                                    const std::string& metadata_path, const std::string& label);

}  // namespace plugfit_tf
