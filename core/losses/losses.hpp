// Built-in losses (Keras names and semantics): categorical and sparse categorical
// cross-entropy (fused with a preceding softmax), binary cross-entropy, mean squared error.
#pragma once

#include <plugfit/loss.hpp>

namespace plugfit {

class Registrar;
void register_builtin_losses(Registrar& registry);

// The labels of a sparse target batch as class indices; throws InputError naming the shapes or
// the offending label when y_true does not fit a (batch, classes) prediction.
void check_sparse_labels(const Tensor& y_pred, const Tensor& y_true);

}  // namespace plugfit
