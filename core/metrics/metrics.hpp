// Built-in metrics by their Keras names: accuracy (resolved from shapes) in its sparse,
// categorical and binary forms, top-k accuracy (dense and sparse), mean squared error and every
// loss of losses/loss_formulas.hpp as a per-sample mean, and the confusion-matrix metrics of
// confusion_metrics.hpp (Precision, Recall, AUC).
#pragma once

#include <memory>
#include <string>

#include <plugfit/loss.hpp>

namespace plugfit {

class Registrar;
void register_builtin_metrics(Registrar& registry);

// "accuracy" and "acc" are resolved as Keras resolves them, from the shapes of the first batch
// (binary, sparse categorical or categorical). The accuracy an "accuracy" metric chose
// ("binary_accuracy", ...), or "" before its first batch or for any other metric.
std::string resolved_metric_class(const Metric& metric);

}  // namespace plugfit
