// Test helpers for plugin authors: numerical gradient checks for layers and losses.
//
// check_layer_gradients builds the layer alone on input_shape, draws inputs and weights from
// the seed, and compares backward() against central differences of L = sum(forward(x) * r)
// for a fixed random r, for every input element and every weight. The error is mlpack's
// ||analytic - numeric|| / ||analytic + numeric|| over each gradient (input, and each weight).
// Forward passes run in float; L is summed in double. With epsilon 1e-3 the float rounding of
// L contributes about 1e-5 relative error and the truncation error O(epsilon^2) less, so a
// correct layer lands well under the default tolerance of 1e-3. Layers that draw random
// numbers in training (dropout) get the same draws for every evaluation.
#pragma once

#include <cstdint>
#include <string>

#include <functional>
#include <memory>
#include <vector>

#include "checkpoint.hpp"
#include "export.hpp"
#include "layer.hpp"
#include "loss.hpp"

namespace plugfit::testing {

struct GradientCheckOptions {
  double epsilon = 1e-3;
  double tolerance = 1e-3;
  std::size_t batch = 3;
  std::uint64_t seed = 1;
  bool training = true;  // forward(x, training) mode used for the check
};

struct GradientCheckResult {
  double input_error = 0.0;       // relative error of d(L)/d(x); 0 when not checked
  double max_weight_error = 0.0;  // largest relative error over the layer's weights
  std::string worst;              // "input" or the weight name with the largest error
  bool passed = false;
  std::string report;             // one line per checked gradient
};

// requires: layer freshly constructed (not built).
PLUGFIT_API GradientCheckResult check_layer_gradients(Layer& layer, const Shape& input_shape,
                                                      const GradientCheckOptions& options = {});

// Checks Loss::compute's gradient against central differences in y_pred; when the loss fuses
// with softmax, also checks compute_from_softmax's d(loss)/d(logits) through a softmax of
// logits (then y_pred is read as logits). Returns the larger relative error.
PLUGFIT_API double check_loss_gradient(const Loss& loss, const Tensor& y_pred, const Tensor& y_true,
                                       double epsilon = 1e-3);
PLUGFIT_API double check_fused_softmax_gradient(const Loss& loss, const Tensor& logits, const Tensor& y_true,
                                                double epsilon = 1e-3);

// The checkpoint backend conformance suite: the CheckpointBackend contract (checkpoint.hpp),
// checked on real storage. A backend's test supplies a fixture; each check returns a result so
// that the caller's test framework reports them (CHECK_MESSAGE(r.passed, r.name << r.detail)).
//
//   round_trip          every part of a record bit for bit (NaN, -0, 0-d and empty tensors, JSON)
//   weights_only        a record of weights alone
//   list_and_remove     list in save order (a re-save moves to the end), remove, the index
//   names               spaces and unicode work; names that leave the location are refused
//   large_tensor        one tensor over 100 MB
//   many_checkpoints    1,000 records listed in order
//   corruption          a flipped byte and a truncation are detected (CheckpointCorrupt), and
//                       the other records still load
//   sigkill_atomicity   a process killed at random instants while saving: the name holds the
//                       old record or the new one, whole
//   concurrent_reader   loads while another process saves, under new names and over one name
enum class Corruption { flip_byte, truncate };

struct BackendFixture {
  std::string label;
  // A backend at a new location inside folder (an empty folder the suite owns).
  std::function<std::unique_ptr<CheckpointBackend>(const std::string& folder)> open;
  // Damages the stored checkpoint `name` of the backend at folder: one flipped byte inside its
  // tensor data, or its storage cut short.
  std::function<void(const std::string& folder, const std::string& name, Corruption kind)> corrupt;
};

struct ConformanceOptions {
  std::size_t large_tensor_bytes = 101u << 20;
  std::size_t many = 1000;
  int kill_rounds = 10;
  int concurrent_loads = 200;
};

struct CheckResult {
  std::string name;
  bool passed = false;
  std::string detail;
};

PLUGFIT_API std::vector<CheckResult> run_backend_conformance(const BackendFixture& fixture,
                                                            const ConformanceOptions& options = {});

}  // namespace plugfit::testing
