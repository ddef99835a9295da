#include "fit.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "../checkpoint/record.hpp"
#include "../layers/basic_layers.hpp"
#include "../layers/embedding.hpp"
#include "callback_list.hpp"
#include "data_parallel.hpp"
#include "interrupt.hpp"
#include "progbar.hpp"
#include "thread_policy.hpp"
#include "../util/parallel.hpp"

namespace plugfit {

void FitOptions::validate() const {
  if (epochs < 0) throw InputError("\"epochs\" must be non-negative, got " + std::to_string(epochs));
  if (initial_epoch < 0) throw InputError("\"initial_epoch\" must be non-negative");
  if (batch_size == 0) throw InputError("\"batch_size\" must be positive");
  if (!(validation_split >= 0.0 && validation_split < 1.0))
    throw InputError("\"validation_split\" must be in [0, 1), got " + std::to_string(validation_split));
  if (verbose < 0 || verbose > 2) throw InputError("\"verbose\" must be 0, 1 or 2");
  if (threads < 0) throw InputError("\"threads\" must be positive, or 0 for auto, got " + std::to_string(threads));
  // Blocks of one size: a batch's buffers keep their shape from block to block (no allocation).
  if (gradient_block_rows > 0 && batch_size % gradient_block_rows != 0)
    throw InputError("\"gradient_block_rows\" (" + std::to_string(gradient_block_rows) + ") must divide \"batch_size\" (" +
                     std::to_string(batch_size) + ")");
  for (std::size_t i = 0; i < callbacks.size(); ++i)
    if (callbacks[i].get() == nullptr) throw InputError("\"callbacks\"[" + std::to_string(i) + "] is null");
  if (resume && checkpoint.empty()) throw InputError("\"resume\" needs a \"checkpoint\" location to resume from");
  if (overwrite && checkpoint.empty()) throw InputError("\"overwrite\" needs a \"checkpoint\" location to clear");
  if (overwrite && resume) throw InputError("\"overwrite\" and \"resume\" contradict each other");
  if (resume && !resume_from.empty())
    throw InputError("\"resume\" and \"resume_from\" contradict each other: resume the run at \"checkpoint\", or "
                     "continue from " + resume_from);
  if (checkpoint_options.mode != "min" && checkpoint_options.mode != "max")
    throw InputError("\"checkpoint_options.mode\" must be \"min\" or \"max\", got \"" + checkpoint_options.mode + "\"");
  if (checkpoint_options.max_to_keep && *checkpoint_options.max_to_keep == 0)
    throw InputError("\"checkpoint_options.max_to_keep\" must be positive (nullopt keeps every checkpoint)");
  if (checkpoint_options.keep_every_n_epochs && *checkpoint_options.keep_every_n_epochs <= 0)
    throw InputError("\"checkpoint_options.keep_every_n_epochs\" must be positive");
  if (!checkpoint_info.is_object()) throw InputError("\"checkpoint_info\" must be a JSON object");
}

History::History() { CallbackAccess::set_type_name(*this, "History"); }

void History::on_train_begin(Logs&) {
  epochs.clear();
  history.clear();
}

void History::on_epoch_end(int epoch, Logs& logs) {
  epochs.push_back(epoch);
  for (const auto& [key, value] : logs) history[key].push_back(value);
}

namespace {

// The generator stream of a training step's draws (dropout, augmentation): this plus the step.
constexpr std::uint64_t kTrainingDrawsStream = std::uint64_t{1} << 40;

// Copies the rows order[begin, begin + count) of src into dst, resized to (count, row_shape...):
// src's own row shape, or the model's input shape for inputs (see feeds_input_shape).
void gather_rows(const Tensor& src, const std::vector<std::uint32_t>& order, std::size_t begin, std::size_t count,
                 Tensor& dst, const Shape* row_shape = nullptr) {
  auto shape = src.shape();
  const std::size_t row = src.shape()[0] == 0 ? 0 : src.size() / src.shape()[0];
  if (row_shape != nullptr) {
    shape.resize(row_shape->size() + 1);  // within the small-vector's room for images: no allocation
    std::copy(row_shape->begin(), row_shape->end(), shape.begin() + 1);
  }
  shape[0] = count;
  dst.resize(shape);
  const float* from = src.data();
  float* to = dst.data();
  for (std::size_t i = 0; i < count; ++i)
    std::memcpy(to + i * row, from + std::size_t{order[begin + i]} * row, row * sizeof(float));
}

std::vector<std::uint32_t> range_order(std::size_t begin, std::size_t end) {
  std::vector<std::uint32_t> order(end - begin);
  std::iota(order.begin(), order.end(), static_cast<std::uint32_t>(begin));
  return order;
}

// The one rule where the data's samples meet the model's declared input: the same shape, or the
// model's with a trailing 1 the data lacks, as Keras users feed grayscale images (n, 28, 28) to
// a model built on (28, 28, 1). Both are the same values in the same order, so the batches are
// the data's rows given the model's shape.
bool feeds_input_shape(const Shape& sample, const Shape& input) {
  if (sample == input) return true;
  return input.size() == sample.size() + 1 && input.back() == 1 && std::equal(sample.begin(), sample.end(), input.begin());
}

// A model reading token ids (an Embedding first, after any InputLayer) has every id of the data
// checked once, before any batch: a bad one is named by its sample in the data, not by its row
// in a shuffled batch.
void check_token_ids(Sequential& model, const Dataset& data, const std::string& what) {
  for (std::size_t i = 0; i < model.num_layers(); ++i) {
    const Layer& layer = model.layer(i);
    if (dynamic_cast<const InputLayer*>(&layer) != nullptr) continue;
    if (const auto* embedding = dynamic_cast<const Embedding*>(&layer)) embedding->check_ids(data.x, what);
    return;
  }
}

// Runs the loss and the metrics on a batch: when they refuse its labels (a class index out of
// range, say), the sentence names the data the labels came from.
template <typename F>
void naming_labels(const Dataset& data, const char* role, F&& loss_and_metrics) {
  try {
    loss_and_metrics();
  } catch (const InputError& e) {
    throw InputError(std::string("the ") + role + " data " + data.spec + ": " + e.what());
  }
}

void check_data(Sequential& model, const Dataset& data, const char* role) {
  if (data.size() == 0) throw InputError(std::string("the ") + role + " data " + data.spec + " holds no samples");
  if (!data.has_labels()) throw InputError(std::string("the ") + role + " data " + data.spec + " has no labels");
  if (data.y.shape()[0] != data.size())
    throw InputError(std::string("the ") + role + " data " + data.spec + " has " + std::to_string(data.size()) +
                     " inputs but " + std::to_string(data.y.shape()[0]) + " labels");
  if (model.built() && !feeds_input_shape(data.sample_shape(), model.input_shape()))
    throw InputError(std::string("the ") + role + " data " + data.spec + " has samples of shape " +
                     shape_str(data.sample_shape()) + " but the model's first layer \"" +
                     model.layer(0).name() + "\" expects " + shape_str(model.input_shape()));
  if (model.built()) check_token_ids(model, data, std::string("the ") + role + " data " + data.spec);
}

// Evaluates rows [begin, end) of data, each batch split across the ranks as training splits it;
// test hooks go to callbacks, with the logs of every rank's rows so far.
Logs evaluate_rows(Sequential& model, const Dataset& data, std::size_t begin, std::size_t end,
                   std::size_t batch_size, CallbackList& callbacks, DataParallel& parallel) {
  Logs logs;
  callbacks.on_test_begin(logs);
  LogTotals totals(model, parallel);
  totals.reset();
  const auto order = range_order(begin, end);
  Tensor xb, yb;
  const std::size_t n = end - begin;
  const std::size_t steps = (n + batch_size - 1) / batch_size;
  Logs batch_logs;
  for (std::size_t step = 0; step < steps; ++step) {
    const std::size_t count = std::min(batch_size, n - step * batch_size);
    if (callbacks.wants(BatchHook::kTestBatchBegin)) {
      batch_logs.clear();
      callbacks.on_batch(BatchHook::kTestBatchBegin, static_cast<std::int64_t>(step), batch_logs);
    }
    // Not a structured binding: clang 14 (scripts/fuzz's) cannot capture one in a lambda.
    const std::pair<std::size_t, std::size_t> slice = parallel.slice(count);
    const std::size_t first = slice.first, rows = slice.second;
    if (rows > 0) {
      gather_rows(data.x, order, step * batch_size + first, rows, xb, &model.input_shape());
      gather_rows(data.y, order, step * batch_size + first, rows, yb);
      const Tensor& out = model.forward(xb, false);
      naming_labels(data, "evaluated", [&] {
        totals.add_loss(model.loss().compute(out, yb, nullptr), rows);
        for (auto& metric : model.metrics()) metric->update(out, yb);
      });
    }
    // Every rank combines at every batch (the same collectives whatever each rank's callbacks).
    if (parallel.distributed() || callbacks.wants(BatchHook::kTestBatchEnd)) totals.combine();
    if (callbacks.wants(BatchHook::kTestBatchEnd)) {
      totals.write(batch_logs);
      callbacks.on_batch(BatchHook::kTestBatchEnd, static_cast<std::int64_t>(step), batch_logs);
    }
  }
  totals.combine();
  totals.write(logs);
  callbacks.on_test_end(logs);
  return logs;
}

}  // namespace

History fit(Sequential& model, const Dataset& data, const FitOptions& options, std::vector<Callback*> user_callbacks,
            FitSession* session, ResumePoint resume) {
  options.validate();
  if (!options.checkpoint.empty() || options.resume)
    throw RuntimeFailure("the checkpoint manager and resume are Sequential::fit's: call model.fit(data, options)");
  if (resume.batch < 0 || resume.global_step < 0) throw InputError("the resume position must be non-negative");
  std::vector<Callback*> given;
  for (const CallbackRef& ref : options.callbacks) given.push_back(ref.get());
  user_callbacks.insert(user_callbacks.begin(), given.begin(), given.end());
  if (!model.compiled()) throw RuntimeFailure("fit() needs a compiled model");
  check_data(model, data, "training");
  if (options.validation_data != nullptr) check_data(model, *options.validation_data, "validation");

  const std::size_t n = data.size();
  const std::size_t n_train =
      options.validation_data == nullptr && options.validation_split > 0.0
          ? static_cast<std::size_t>(std::floor(double(n) * (1.0 - options.validation_split)))
          : n;
  if (n_train == 0) throw InputError("validation_split leaves no training samples");
  const std::size_t batch = options.batch_size;
  const std::size_t steps = (n_train + batch - 1) / batch;
  const std::size_t block_rows = options.gradient_block_rows;
  if (block_rows > 0 && model.parameters().size() > model.num_trainable())
    throw InputError("\"gradient_block_rows\" needs a model whose weights are all trainable, and this one has " +
                     std::to_string(model.parameters().size() - model.num_trainable()) +
                     " non-trainable values (BatchNormalization's moving statistics, say, would move once per "
                     "block instead of once per batch)");
  // Each forward is one block's when there are blocks: the threads' rule counts its work.
  set_threads(resolve_threads(options.threads, model, block_rows > 0 ? std::min(block_rows, batch) : batch));

  static const Registry no_plugins;
  FitSession local_session(model, no_plugins, nullptr, Json::object(), options.seed);
  if (session == nullptr) session = &local_session;
  DataParallel& parallel = session->parallel();
  parallel.set_gradient_blocks(block_rows);

  History history;
  ProgbarLogger progbar(options.verbose);
  std::vector<Callback*> all = std::move(user_callbacks);
  const std::vector<Callback*> outliving_fit = all;  // the caller's: the session keeps only these after fit
  all.push_back(&history);
  if (options.verbose > 0 && parallel.rank() == 0) all.push_back(&progbar);  // one writer
  CallbackList callbacks(all);
  callbacks.set_model(&model);
  callbacks.set_params({options.epochs, options.initial_epoch, static_cast<std::int64_t>(steps),
                        static_cast<std::int64_t>(n_train), static_cast<std::int64_t>(batch), options.verbose});
  check_state_keys(all);
  session->set_callbacks(all);
  // History and the progress bar die with this call: a capture after fit must not reach them.
  struct ForgetLocalCallbacks {
    FitSession& session;
    const std::vector<Callback*>& keep;
    ~ForgetLocalCallbacks() { session.set_callbacks(keep); }
  } forget_locals{*session, outliving_fit};
  callbacks.set_session(session);
  std::int64_t global_step = resume.global_step;
  session->set_position({options.initial_epoch, resume.batch, global_step, options.seed});
  // A run that starts past its beginning continues an earlier one (the loggers keep its rows);
  // a restore in on_train_begin (BackupAndRestore) moves this to the restored position.
  const bool continues = options.initial_epoch > 0 || resume.batch > 0;
  session->set_resumed_at(continues ? std::optional<RunPosition>({options.initial_epoch, resume.batch,
                                                                  resume.global_step})
                                    : std::nullopt);

  Logs logs, batch_logs;
  Tensor xb, yb, dy;
  Optimizer& optimizer = *model.optimizer();
  SampleStreams& samples = SequentialAccess::impl(model).samples_;
  LogTotals totals(model, parallel);
  // Hashing the data costs a pass over it: only when there are ranks to compare with.
  if (parallel.distributed()) parallel.check_same_run(run_parts(model, data, options, outliving_fit, *session));
  model.stop_training = false;
  // A first SIGINT/SIGTERM stops after the batch in progress (see interrupt.hpp).
  const InterruptGuard interrupt_guard;
  // In a distributed run a signal on any rank stops every rank after the same batch: it travels
  // in the batch's log totals.
  auto stop_if_interrupted = [&](int signal_number) {
    if (signal_number != 0) {
      const TrainingPosition& at = session->position();
      throw TrainingInterrupted(signal_number, at.epoch, at.batch);
    }
  };
  try {
    callbacks.on_train_begin(logs);
    // Rank 0 has restored whatever is restored (--resume, BackupAndRestore): its run is every rank's.
    parallel.share_run_from_rank0(*session);
    // A callback may have restored a checkpoint in on_train_begin (BackupAndRestore): training
    // continues from the session's position, with the seed that fixed its data order.
    const TrainingPosition start = session->position();
    global_step = start.global_step;
    const std::uint64_t seed = start.seed;
    for (int epoch = start.epoch; epoch < options.epochs && !model.stop_training; ++epoch) {
      logs.clear();
      callbacks.on_epoch_begin(epoch, logs);
      auto order = range_order(0, n_train);
      if (options.shuffle) {
        // The order depends only on the seed and the epoch, so a resumed run sees the same data.
        Rng shuffle_rng(derive_seed(seed, 1000 + static_cast<std::uint64_t>(epoch)));
        for (std::size_t i = n_train - 1; i > 0; --i) std::swap(order[i], order[shuffle_rng.below(i + 1)]);
      }
      totals.reset();
      const std::size_t first_step =
          epoch == start.epoch ? std::min(steps, static_cast<std::size_t>(start.batch)) : 0;
      for (std::size_t step = first_step; step < steps; ++step) {
        const auto batch_index = static_cast<std::int64_t>(step);
        if (callbacks.wants(BatchHook::kTrainBatchBegin)) {
          batch_logs.clear();
          callbacks.on_batch(BatchHook::kTrainBatchBegin, batch_index, batch_logs);
        }
        const std::size_t count = std::min(batch, n_train - step * batch);
        const auto [first, rows] = parallel.slice(count);
        // Forward, loss and backward of the global batch's rows [first_row, first_row + n).
        // The draws (dropout, augmentation) depend on the seed, the step and each sample's place
        // in the global batch only (rng.hpp): the same on any number of ranks or blocks.
        const std::uint64_t step_seed = derive_seed(seed, kTrainingDrawsStream + static_cast<std::uint64_t>(global_step));
        auto train_rows = [&](std::size_t first_row, std::size_t n) {
          model.rng().reseed(step_seed);
          samples.set_first_row(first_row);
          gather_rows(data.x, order, step * batch + first_row, n, xb, &model.input_shape());
          gather_rows(data.y, order, step * batch + first_row, n, yb);
          const Tensor& out = model.forward(xb, true);
          double loss = 0.0;
          naming_labels(data, "training", [&] {
            loss = model.softmax_fused() ? model.loss().compute_from_softmax(out, yb, &dy)
                                         : model.loss().compute(out, yb, &dy);
            for (auto& metric : model.metrics()) metric->update(out, yb);
          });
          model.backward(dy);
          totals.add_loss(loss, n);
        };
        if (block_rows == 0) {
          if (rows > 0) train_rows(first, rows);
          parallel.combine_gradients(model.trainable_gradients(), rows, count);
        } else {
          for (std::size_t at = first; at < first + rows; at += block_rows) {
            const std::size_t n = std::min(block_rows, first + rows - at);
            train_rows(at, n);
            parallel.add_block_gradient(model.trainable_gradients(), n, count);
          }
          parallel.combine_block_gradients(model.trainable_gradients());
        }
        if (callbacks.wants(BatchHook::kAfterBackward))
          callbacks.on_batch(BatchHook::kAfterBackward, batch_index, batch_logs);
        if (callbacks.wants(BatchHook::kBeforeOptimizerStep))
          callbacks.on_batch(BatchHook::kBeforeOptimizerStep, batch_index, batch_logs);
        optimizer.step(model.trainable_parameters(), model.trainable_gradients());
        parallel.share_non_trainable(model);

        session->set_position({epoch, batch_index + 1, ++global_step, seed});
        const int agreed_signal = totals.combine(InterruptGuard::pending());
        if (callbacks.wants(BatchHook::kTrainBatchEnd)) {
          totals.write(batch_logs);
          callbacks.on_batch(BatchHook::kTrainBatchEnd, batch_index, batch_logs);
        }
        // One process stops after this batch's callbacks, whenever the signal came; ranks stop
        // on the signal all of them have seen (one that arrives during the callbacks: next batch).
        stop_if_interrupted(parallel.distributed() ? agreed_signal : InterruptGuard::pending());
        if (model.stop_training) break;
      }
      totals.write(logs);
      if (options.validation_data != nullptr || n_train < n) {
        const Dataset& val = options.validation_data != nullptr ? *options.validation_data : data;
        const Logs val_logs = options.validation_data != nullptr
                                  ? evaluate_rows(model, val, 0, val.size(), batch, callbacks, parallel)
                                  : evaluate_rows(model, val, n_train, n, batch, callbacks, parallel);
        for (const auto& [key, value] : val_logs) logs["val_" + key] = value;
      }
      session->set_position({epoch + 1, 0, global_step, seed});
      session->set_metrics(logs);
      callbacks.on_epoch_end(epoch, logs);
    }
    callbacks.on_train_end(logs);
  } catch (const std::exception& error) {
    callbacks.on_exception(error);
    try {
      callbacks.on_train_end(logs);
    } catch (...) {
      // The first failure is the one to report.
    }
    throw;
  }
  return history;
}

Logs evaluate(Sequential& model, const Dataset& data, std::size_t batch_size, int verbose,
              std::vector<Callback*> user_callbacks) {
  if (!model.compiled()) throw RuntimeFailure("evaluate() needs a compiled model");
  if (batch_size == 0) throw InputError("\"batch_size\" must be positive");
  check_data(model, data, "evaluation");
  ProgbarLogger progbar(verbose);
  if (verbose > 0) user_callbacks.push_back(&progbar);
  CallbackList callbacks(user_callbacks);
  callbacks.set_model(&model);
  const auto steps = static_cast<std::int64_t>((data.size() + batch_size - 1) / batch_size);
  callbacks.set_params({1, 0, steps, static_cast<std::int64_t>(data.size()), static_cast<std::int64_t>(batch_size),
                        verbose});
  DataParallel one_process(nullptr);
  return evaluate_rows(model, data, 0, data.size(), batch_size, callbacks, one_process);
}

Tensor predict(Sequential& model, const Dataset& data, std::size_t batch_size, std::vector<Callback*> user_callbacks) {
  if (batch_size == 0) throw InputError("\"batch_size\" must be positive");
  if (!feeds_input_shape(data.sample_shape(), model.input_shape()))
    throw InputError("the input " + data.spec + " has samples of shape " + shape_str(data.sample_shape()) +
                     " but the model expects " + shape_str(model.input_shape()));
  check_token_ids(model, data, "the input " + data.spec);
  const std::size_t n = data.size();
  Shape out_shape{n};
  out_shape.insert(out_shape.end(), model.output_shape().begin(), model.output_shape().end());
  Tensor out = Tensor::from_shape(out_shape);
  const std::size_t row = shape_size(model.output_shape());
  const auto order = range_order(0, n);
  CallbackList callbacks(std::move(user_callbacks));
  callbacks.set_model(&model);
  const auto steps = static_cast<std::int64_t>((n + batch_size - 1) / batch_size);
  callbacks.set_params({1, 0, steps, static_cast<std::int64_t>(n), static_cast<std::int64_t>(batch_size), 0});
  Logs logs;  // stays empty: see fit.hpp
  callbacks.on_predict_begin(logs);
  Tensor xb;
  for (std::size_t begin = 0; begin < n; begin += batch_size) {
    const std::size_t count = std::min(batch_size, n - begin);
    const auto step = static_cast<std::int64_t>(begin / batch_size);
    if (callbacks.wants(BatchHook::kPredictBatchBegin)) callbacks.on_batch(BatchHook::kPredictBatchBegin, step, logs);
    gather_rows(data.x, order, begin, count, xb, &model.input_shape());
    const Tensor& y = model.forward(xb, false);
    std::memcpy(out.data() + begin * row, y.data(), count * row * sizeof(float));
    if (callbacks.wants(BatchHook::kPredictBatchEnd)) callbacks.on_batch(BatchHook::kPredictBatchEnd, step, logs);
  }
  callbacks.on_predict_end(logs);
  return out;
}

}  // namespace plugfit
