// The `threads` setting's one decision: how many threads a model trains (and evaluates) with.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "../model/sequential.hpp"

namespace plugfit {

// The multiply-adds a model's weighted layers do per sample in the forward pass, estimated as
// each layer's weight count times its output positions (1 for Dense, rows x columns for Conv2D).
double multiply_adds_per_sample(const Sequential& model);

// requested > 0: that many threads. 0 ("auto"): the cores when a batch's forward work is large
// enough for the split to pay, else 1. requires: model built, batch_size > 0.
int resolve_threads(int requested, const Sequential& model, std::size_t batch_size);

// "auto" -> 0, a positive integer -> itself; anything else throws InputError naming `what`
// ("--threads", "run.json: fit.threads").
int parse_threads(const std::string& text, const std::string& what);

}  // namespace plugfit
