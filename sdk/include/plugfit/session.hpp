// The training session a callback reaches through Callback::session() during fit().
//
// It captures the run as a checkpoint record and restores one, and opens checkpoint backends by
// URI ("dir:ckpts", "sqlite:run.db"; a plain path means dir:). ModelCheckpoint is written
// against this interface only, so a plugin callback can do all it does.
#pragma once

#include <cstdint>
#include <memory>
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

class PLUGFIT_API Session {
 public:
  virtual ~Session();
  // The whole run as it stands; weights_only keeps just the weights and the model config.
  virtual CheckpointRecord capture(bool weights_only) const = 0;
  // Restores the parts of record into the running model. Throws InputError naming the weight
  // and both shapes when the record does not fit the model.
  virtual void restore(const CheckpointRecord& record, const RestoreParts& parts) = 0;
  virtual std::unique_ptr<CheckpointBackend> open_backend(const std::string& uri) = 0;
  // 0-based epoch in progress, and batches trained so far in the whole run.
  virtual int epoch() const = 0;
  virtual std::int64_t global_step() const = 0;
};

}  // namespace plugfit
