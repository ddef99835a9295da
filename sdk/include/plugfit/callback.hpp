// Callbacks: Keras's hooks, plus on_exception, with Keras's logs semantics.
//
//   every *_begin hook     logs is empty
//   *_batch_end            running means of the epoch so far (not the batch's own value)
//   on_epoch_end           the epoch's training metrics plus the val_ ones
//   on_train_end           the last epoch's logs
//   on_test_end            the evaluation's results
//
// Hooks are no-ops by default. Batch hooks that a callback does not override cost nothing: the
// host tells which ones a class overrides before training, without calling any, and calls only
// those (an override may call the base class's hook; it is still called on every batch).
//
// A callback with state that must survive a resume returns it from state() and takes it back in
// load_state(); checkpoints key it by state_key().
//
// The order the host calls hooks (checked by tests/unit/test_fit.cpp):
//
//   train       set_model, set_params, set_session (so model(), params() and session() work in
//               every hook), then on_train_begin; per epoch on_epoch_begin, per batch
//               on_train_batch_begin, on_after_backward, on_before_optimizer_step, on_train_batch_end,
//               then, with validation, on_test_begin, on_test_batch_begin/end, on_test_end, then
//               on_epoch_end; finally on_train_end. Each hook runs on the callbacks in list order.
//   resume      (train --resume) load_state, before set_model/params/session: the checkpoint is
//               restored into the callbacks first, so load_state must not use model(), params()
//               or session(); then the train order above, from the restored epoch and batch.
//   restore     BackupAndRestore restores inside its own on_train_begin: callbacks listed before
//               it have had on_train_begin, those after it get load_state first. List it first
//               when on_train_begin reads restored state.
//   failure     an exception from a hook, a layer or an interrupt (Ctrl-C): on_exception on every
//               callback (its own exceptions are swallowed), then on_train_end, then the error
//               propagates; the first failure is the one reported.
//   evaluate    set_model, set_params (no session), then on_test_begin, on_test_batch_begin/end,
//               on_test_end.
//   predict     set_model, set_params (no session), then on_predict_begin, on_predict_batch_begin/end (batch
//               0..steps-1), on_predict_end.
#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config.hpp"
#include "export.hpp"
#include "model.hpp"
#include "session.hpp"

namespace plugfit {

// An ordered set of named metric values ("loss", "accuracy", "val_loss", ...).
class PLUGFIT_API Logs {
 public:
  using Item = std::pair<std::string, double>;

  // The value at key, inserted as 0 when absent.
  double& operator[](std::string_view key);
  // A pointer to the value at key, or nullptr.
  const double* find(std::string_view key) const;
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  // The value at key; throws InputError listing the keys present when it is absent.
  double at(std::string_view key) const;
  void clear() { items_.clear(); }
  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }
  Json to_json() const;

 private:
  std::vector<Item> items_;
};

// What fit() tells callbacks before training starts.
struct FitParams {
  int epochs = 1;
  int initial_epoch = 0;
  std::int64_t steps = 0;  // batches per epoch
  std::int64_t samples = 0;
  std::int64_t batch_size = 32;
  int verbose = 1;
};

struct CallbackAccess;  // host only (core/training/callback_access.hpp)

class PLUGFIT_API Callback {
 public:
  virtual ~Callback();

  virtual void on_train_begin(Logs& logs);
  virtual void on_train_end(Logs& logs);
  virtual void on_epoch_begin(int epoch, Logs& logs);
  virtual void on_epoch_end(int epoch, Logs& logs);
  virtual void on_train_batch_begin(std::int64_t batch, Logs& logs);
  virtual void on_train_batch_end(std::int64_t batch, Logs& logs);
  virtual void on_test_begin(Logs& logs);
  virtual void on_test_end(Logs& logs);
  virtual void on_test_batch_begin(std::int64_t batch, Logs& logs);
  virtual void on_test_batch_end(std::int64_t batch, Logs& logs);
  virtual void on_predict_begin(Logs& logs);
  virtual void on_predict_end(Logs& logs);
  virtual void on_predict_batch_begin(std::int64_t batch, Logs& logs);
  virtual void on_predict_batch_end(std::int64_t batch, Logs& logs);
  // Training failed with error; on_train_end follows. Must not throw.
  virtual void on_exception(const std::exception& error);

  // Gradient hooks (Lightning's names), per training batch: after backward() filled
  // model().gradients(), then right before the optimizer applies them. A callback may read and
  // change the flat gradient buffer in place (clipping, noise, an all-reduce). Like the batch
  // hooks, they cost nothing unless overridden.
  virtual void on_after_backward(std::int64_t batch);
  virtual void on_before_optimizer_step(std::int64_t batch);

  // State saved in checkpoints; an empty object means stateless.
  virtual Json state() const;
  virtual void load_state(const Json& state);
  // Unique per run among stateful callbacks; defaults to the registered type name.
  virtual std::string state_key() const { return type_name_; }

  Model& model() const;
  // The running fit()'s session (checkpoints); throws outside fit().
  Session& session() const;
  const FitParams& params() const { return params_; }

  // The registered type name ("EarlyStopping", "acme>EpochLogger"), set by the host.
  const std::string& type_name() const { return type_name_; }
  // Who provides the type: "plugin acme 1.2.0", or empty for plugfit's own.
  const std::string& origin() const { return origin_; }

 private:
  // The host wires model, session, params, type name and origin through CallbackAccess.
  friend struct CallbackAccess;
  Model* model_ = nullptr;
  Session* session_ = nullptr;
  FitParams params_;
  std::string type_name_;
  std::string origin_;
};

}  // namespace plugfit
