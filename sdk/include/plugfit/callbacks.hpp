// The built-in callbacks for C++ code, with Keras's names and options.
//
//   plugfit::LambdaCallback log({.on_epoch_end = [](int epoch, plugfit::Logs& logs) { ... }});
//   auto best = plugfit::callbacks::ModelCheckpoint({.filepath = "dir:ckpts/best", .save_best_only = true});
//   model.fit(train, {.epochs = 2, .callbacks = {&log, best}});
//
// LambdaCallback is made of std::functions, one per hook (not registered by name: a JSON config
// cannot hold functions). A hook whose function is empty does nothing; an empty batch hook
// stays free (the host stops calling it after its first call), so set the functions before
// fit() starts. The typed factories take the options of the registered types of the same name
// (README: callbacks) and check them as a run file's are, the InputError naming the option;
// Context::create_callback makes any other registered callback, a plugin's too, by name.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "callback.hpp"
#include "export.hpp"

namespace plugfit {

// The hooks of a LambdaCallback (declared outside it so that its default member initializers
// are complete where LambdaCallback's constructor takes it).
struct LambdaCallbackFunctions {
  // Default member initializers keep designated initializers free of -Wmissing-field-initializers.
  std::function<void(Logs&)> on_train_begin{}, on_train_end{};
  std::function<void(int epoch, Logs&)> on_epoch_begin{}, on_epoch_end{};
  std::function<void(std::int64_t batch, Logs&)> on_train_batch_begin{}, on_train_batch_end{};
  std::function<void(Logs&)> on_test_begin{}, on_test_end{};
  std::function<void(std::int64_t batch, Logs&)> on_test_batch_begin{}, on_test_batch_end{};
  std::function<void(Logs&)> on_predict_begin{}, on_predict_end{};
  std::function<void(std::int64_t batch, Logs&)> on_predict_batch_begin{}, on_predict_batch_end{};
  std::function<void(const std::exception&)> on_exception{};
  std::function<void(std::int64_t batch)> on_after_backward{}, on_before_optimizer_step{};
};

class PLUGFIT_API LambdaCallback final : public Callback {
 public:
  using Functions = LambdaCallbackFunctions;

  explicit LambdaCallback(Functions functions = {});

  void on_train_begin(Logs& logs) override;
  void on_train_end(Logs& logs) override;
  void on_epoch_begin(int epoch, Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_batch_begin(std::int64_t batch, Logs& logs) override;
  void on_train_batch_end(std::int64_t batch, Logs& logs) override;
  void on_after_backward(std::int64_t batch) override;
  void on_before_optimizer_step(std::int64_t batch) override;
  void on_test_begin(Logs& logs) override;
  void on_test_end(Logs& logs) override;
  void on_test_batch_begin(std::int64_t batch, Logs& logs) override;
  void on_test_batch_end(std::int64_t batch, Logs& logs) override;
  void on_predict_begin(Logs& logs) override;
  void on_predict_end(Logs& logs) override;
  void on_predict_batch_begin(std::int64_t batch, Logs& logs) override;
  void on_predict_batch_end(std::int64_t batch, Logs& logs) override;
  void on_exception(const std::exception& error) override;

  Functions functions;
};

namespace callbacks {

struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  double min_delta = 0.0;
  int patience = 0;
  int verbose = 0;
  std::string mode = "auto";  // "auto", "min" or "max"
  std::optional<double> baseline{};
  bool restore_best_weights = false;
  int start_from_epoch = 0;
};
// keras.callbacks.EarlyStopping.
PLUGFIT_API std::shared_ptr<Callback> EarlyStopping(const EarlyStoppingOptions& options);

struct ModelCheckpointOptions {
  // "[scheme:]FOLDER/NAME_TEMPLATE", e.g. "dir:ckpts/best.{epoch:02d}-{val_loss:.4f}".
  std::string filepath{};
  std::string monitor = "val_loss";
  int verbose = 0;
  bool save_best_only = false;
  bool save_weights_only = false;
  std::string mode = "auto";
  // 0 saves after every epoch (Keras's "epoch"); N > 0 every N training batches.
  std::int64_t save_freq = 0;
  std::optional<double> initial_value_threshold{};
  std::optional<int> save_top_k{};  // Lightning's: keep the best k (nullopt keeps all)
  bool save_last = false;
  bool async = false;
};
// keras.callbacks.ModelCheckpoint, with Lightning's save_top_k and save_last.
PLUGFIT_API std::shared_ptr<Callback> ModelCheckpoint(const ModelCheckpointOptions& options);

}  // namespace callbacks
}  // namespace plugfit
