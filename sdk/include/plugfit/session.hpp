// The training session a callback reaches through Callback::session() during fit().
//
// It captures the run as a checkpoint record and restores one, opens checkpoint backends by
// URI ("dir:ckpts", "sqlite:run.db"; a plain path means dir:), says where the run resumed, and
// answers the compiled metrics' directions (for Monitor's mode "auto"). ModelCheckpoint is
// written against this interface only, so a plugin callback can do all it does.
//
// Threading: a Session is not thread-safe. Call it only from the thread running fit() (the
// thread the callback hooks run on). A callback that writes in the background captures the
// record and opens its backends on that thread first, and hands the worker only the record
// and the backend (see CheckpointBackend's contract): open_backend() may load a plugin, which
// changes the registry that training reads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "checkpoint.hpp"
#include "export.hpp"

namespace plugfit {

// What restore() puts back.
struct RestoreParts {
  bool weights = true;
  bool optimizer = true;       // slots, step count, learning rate
  bool training_state = false; // epoch, batch, generator
  bool callbacks = false;      // each callback's load_state()
};

// A point of the run: the epoch to run next (or in progress, 0-based), the batches of it already
// trained, and the batches trained in the whole run.
struct RunPosition {
  int epoch = 0;
  std::int64_t batch = 0;
  std::int64_t global_step = 0;
  bool operator==(const RunPosition&) const = default;
};

class PLUGFIT_API Session {
 public:
  virtual ~Session();
  // The whole run as it stands; weights_only keeps just the weights and the model config.
  virtual CheckpointRecord capture(bool weights_only) const = 0;
  // Restores the parts of record into the running model. Throws InputError naming the weight
  // and both shapes when the record does not fit the model.
  // ensures: with parts.training_state, resumed_at() is the restored position.
  virtual void restore(const CheckpointRecord& record, const RestoreParts& parts) = 0;
  virtual std::unique_ptr<CheckpointBackend> open_backend(const std::string& uri) = 0;
  // 0-based epoch in progress, and batches trained so far in the whole run.
  virtual int epoch() const = 0;
  virtual std::int64_t global_step() const = 0;

  // Where this fit() started, when it continues an earlier run: the position restored by
  // `plugfit train --resume`, by BackupAndRestore in on_train_begin (a mid-epoch position
  // included), or fit()'s own initial epoch/batch when they are not 0. nullopt for a fresh run.
  // Final once every callback's on_train_begin has run; a logger that continues its file
  // keeps the rows of epochs before resumed_at()->epoch.
  virtual std::optional<RunPosition> resumed_at() const = 0;

  // The direction of the compiled metric named metric_name ("accuracy", no "val_" prefix):
  // +1 when higher is better, -1 when lower is; nullopt when the model compiled no such metric.
  virtual std::optional<int> metric_direction(const std::string& metric_name) const = 0;

  // Data-parallel training (`--distributed mpi`): this process's rank and the number of ranks
  // (0 and 1 in one process). Every rank runs every callback with the same (global) logs, so
  // their decisions agree; only rank 0 writes: a callback that writes files or prints (a logger,
  // a checkpoint, a plot) does so when rank() == 0 and skips the write elsewhere, as Keras's
  // and Lightning's built-in callbacks do. Restores happen on rank 0 and reach the other ranks
  // from there at the start of training, so no shared file system is needed.
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
};

}  // namespace plugfit
