// Built-in metrics: accuracy in its sparse, categorical and binary forms, and mean squared error.
#pragma once

#include <memory>
#include <string>

#include <plugfit/loss.hpp>

namespace plugfit {

class Registrar;
void register_builtin_metrics(Registrar& registry);

// Keras's resolution of "accuracy"/"acc": the accuracy that fits the loss (sparse categorical,
// categorical or binary). Other names go through the registry.
std::string resolve_metric_name(const std::string& requested, const std::string& loss_name);

}  // namespace plugfit
