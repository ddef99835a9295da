// The training loop: fit, evaluate and predict over a compiled Sequential model, with Keras's semantics.
//
// fit(): epochs from initial_epoch to epochs; each epoch shuffles (when asked) with an order
// fixed by the seed and the epoch number, trains on batches of batch_size (the last one may be
// smaller), then evaluates the validation data. validation_split takes the last fraction of the
// samples before any shuffling, as Keras does. Returns the History.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <plugfit/callback.hpp>

#include "../data/dataset.hpp"
#include "../model/sequential.hpp"
#include "callback_access.hpp"
#include "session.hpp"

namespace plugfit {

// Where a resumed fit() starts within options.initial_epoch (the CLI's and Sequential::fit's
// resume): batches of it already trained, and the run's step count.
struct ResumePoint {
  std::int64_t batch = 0;
  std::int64_t global_step = 0;
};

// Trains model on data (FitOptions and History are public: plugfit/sequential.hpp).
// options.callbacks, then callbacks, run in order, then History and (verbose > 0) the
// ProgbarLogger. An exception from any part ends training: every callback's on_exception and
// on_train_end run, then the exception propagates. session (optional) is what callbacks use
// for checkpoints; fit() keeps its position current. While it runs, a first SIGINT or SIGTERM
// ends training after the current (or next) training batch with TrainingInterrupted
// (interrupt.hpp); one that arrives after the last batch lets fit() finish.
// options.checkpoint and options.resume belong to Sequential::fit, which runs this: here they
// must be empty (RuntimeFailure otherwise).
History fit(Sequential& model, const Dataset& data, const FitOptions& options, std::vector<Callback*> callbacks = {},
            FitSession* session = nullptr, ResumePoint resume = {});

// The loss and metrics over data, as logs ("loss", "accuracy", ...).
Logs evaluate(Sequential& model, const Dataset& data, std::size_t batch_size, int verbose,
              std::vector<Callback*> callbacks = {});

// The model's outputs for data.x, (n, output_shape...). callbacks get on_predict_begin, then
// per batch (0-based, in order) on_predict_batch_begin/end, then on_predict_end. Every logs is
// empty: Keras passes the batch's outputs ({"outputs": ...}) to on_predict_batch_end, but Logs
// hold numbers; a callback that needs the outputs reads model.forward()'s buffer in
// on_predict_batch_end, which holds the batch just run. A callback's exception ends predict
// (as a RuntimeFailure naming the callback and the hook).
Tensor predict(Sequential& model, const Dataset& data, std::size_t batch_size, std::vector<Callback*> callbacks = {});

}  // namespace plugfit
