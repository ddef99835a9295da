// Built-in losses (Keras names and semantics): categorical and sparse categorical
// cross-entropy (fused with a preceding softmax), binary cross-entropy, mean squared error, and
// the per-sample losses of loss_formulas.hpp (mae, mape, msle, huber, log_cosh, kl_divergence,
// poisson, hinge, squared_hinge, categorical_hinge) by their Keras names and aliases.
#pragma once

#include <memory>

#include <plugfit/loss.hpp>

namespace plugfit {

class Registrar;
void register_builtin_losses(Registrar& registry);

// The labels of a sparse target batch as class indices; throws InputError naming the shapes or
// the offending label when y_true does not fit a (batch, classes) prediction.
void check_sparse_labels(const Tensor& y_pred, const Tensor& y_true);

// loss with its gradient multiplied by factor and its value unchanged (Keras's optimizer
// loss_scale_factor; the optimizer divides the gradients by it).
std::unique_ptr<Loss> scale_loss_gradient(std::unique_ptr<Loss> loss, double factor);

}  // namespace plugfit
