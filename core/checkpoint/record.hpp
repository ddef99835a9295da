// Capturing a model (and optimizer, training state, callback states) as a checkpoint record,
// restoring one, and rebuilding a model from one in a fresh process.
//
// Tensor names: "weights/<weight>" ("weights/dense/kernel") and "optimizer/<slot>/<weight>".
// info: {"format", "kind": "full"|"weights", "plugfit_version", "sdk_abi", "time", "model",
//        "plugins": {name: version}, "input_shape", "compile", "optimizer": {"iterations",
//        "learning_rate"}, "training": {"epoch", "batch", "global_step", "seed", "rng"},
//        "callbacks": {state_key: state}, "metrics": {...}}
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <plugfit/callback.hpp>
#include <plugfit/checkpoint.hpp>
#include <plugfit/registry.hpp>

#include "../model/sequential.hpp"

namespace plugfit {

class PluginLoader;

struct TrainingPosition {
  int epoch = 0;               // the epoch to run next (or in progress)
  std::int64_t batch = 0;      // batches of that epoch already trained
  std::int64_t global_step = 0;
  std::uint64_t seed = 0;
};

// requires: model built (and compiled unless weights_only).
CheckpointRecord capture_record(Sequential& model, const Registry& registry, const Json& compile_config,
                                const TrainingPosition& position, const std::vector<Callback*>& callbacks,
                                const Logs& metrics, bool weights_only);

// Copies the record's weights into the model: every weight must be present with its shape
// (InputError naming the weight and both shapes otherwise), and no weight may be extra.
// A record whose info has {"keras": {"weights_by_position": true, "layers": [{"name": ...,
// "weights": [tensor names in order]}, ...]}} (a Keras weights-only file) is matched to the
// model's layers with weights by position instead, with Keras's error texts.
void restore_weights(Sequential& model, const CheckpointRecord& record);
// Optimizer slots, step count and learning rate. requires: the model is compiled.
void restore_optimizer(Sequential& model, const CheckpointRecord& record);
// Each callback's load_state() from the record's callback states, by state_key().
void restore_callbacks(const std::vector<Callback*>& callbacks, const CheckpointRecord& record);
// The training position and the model's generator state.
TrainingPosition restore_position(Sequential& model, const CheckpointRecord& record);

// A compiled model rebuilt from a full record's config, weights and optimizer state in a fresh
// process; the plugins its types name are loaded by name through loader. A missing plugin is an
// error naming the type, the plugin, its version and the paths searched. A Keras file whose input
// shape leaves a length open (info["keras"]["input_batch_shape"] with nulls, no "input_shape":
// Keras builds such a model when it first sees data) is built for sample_shape, the data's, which
// must have the file's rank and its fixed dimensions; without one it is an InputError.
std::unique_ptr<Sequential> model_from_record(const CheckpointRecord& record, const Registry& registry,
                                              PluginLoader& loader, const Shape* sample_shape = nullptr);

// Compiles model from {"optimizer": spec, "loss": spec, "metrics": [spec...]}.
void compile_from_config(Sequential& model, const Json& compile_config, const Registry& registry);

// Fails with InputError when two stateful callbacks share a state key.
void check_state_keys(const std::vector<Callback*>& callbacks);

}  // namespace plugfit
