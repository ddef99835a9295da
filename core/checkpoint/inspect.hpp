// What a backend holds, as plugfit inspect reports it.
#pragma once

#include <plugfit/checkpoint.hpp>

namespace plugfit {

// {"uri", "latest", "best", "checkpoints": [{"name", "status": "ok"|"corrupt", and for ok ones
// "kind", "epoch", "global_step", "time", "metrics", "layer_types", "plugins", "tensors",
// "bytes", "weights": [{"name", "shape"}], and for a file Keras saved "keras": {"keras_version",
// "backend", "optimizer_iterations" (the step count read), "optimizer_state" (why it was not
// read), "layers_plugfit_lacks"}, each when known, and for a TensorFlow checkpoint "tf":
// {"index", "variables": [{"key", "dtype", "shape"}], "step"}; for corrupt ones "error"}]}, every checkpoint loaded (and so checked) once, in the
// backend's order. A wrong-shaped index reads as empty.
Json describe_checkpoints(const CheckpointBackend& backend);

}  // namespace plugfit
