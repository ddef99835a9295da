// plugfit::Sequential: Keras's Sequential model from C++, with compile, fit, evaluate, predict,
// save and load_model.
//
//   plugfit::Context ctx;
//   plugfit::Sequential model({plugfit::Input({784}), plugfit::layer("Dense", {{"units", 10}})}, ctx);
//   model.compile({.optimizer = "adam", .loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
//   plugfit::History h = model.fit(train, {.epochs = 2, .batch_size = 64, .seed = 1});
//
// Types resolve through the Context by name, as in a run file: built-ins ("Dense"), plugins'
// ("acme>Scale", loaded on demand) and the application's own (Context::registrar). The weights
// are built (drawn from FitOptions::seed) by the first fit(), or by build().
// Errors: InputError (bad input, naming the field, layer or shape) or RuntimeFailure.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "callback.hpp"
#include "context.hpp"
#include "dataset.hpp"
#include "error.hpp"
#include "export.hpp"
#include "loss.hpp"
#include "model.hpp"
#include "rng.hpp"

namespace plugfit {

class Registry;

// One layer of a model: a registered class name and its Keras config.
struct LayerSpec {
  std::string class_name;
  Json config = Json::object();
};
// keras.Input(shape): the sample shape, without the batch dimension.
PLUGFIT_API LayerSpec Input(const Shape& shape);
// A layer by name: layer("Dense", {{"units", 128}, {"activation", "relu"}}).
PLUGFIT_API LayerSpec layer(const std::string& class_name, Json config = Json::object());

// A type by name ("adam") or by Keras config ({"class_name": "Adam", "config": {...}}).
struct CompileOptions {
  Json optimizer = "rmsprop";
  Json loss = nullptr;  // required
  std::vector<Json> metrics{};
};

// A checkpoint's place: the backend's canonical URI ("dir:/abs/ckpts") and the checkpoint's name.
struct CheckpointLocation {
  std::string uri, name;
  std::string text() const { return uri + "#" + name; }  // what load_model and load_weights take
};

// Keras's History: every epoch's logs by key.
class PLUGFIT_API History final : public Callback {
 public:
  History();
  void on_train_begin(Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  std::vector<int> epochs;
  std::map<std::string, std::vector<double>> history;
};

// A callback for fit(): one the caller keeps alive (raw pointer) or one fit's options own.
class PLUGFIT_API CallbackRef {
 public:
  CallbackRef(Callback* callback) : callback_(callback) {}  // NOLINT: implicit by design
  CallbackRef(Callback& callback) : callback_(&callback) {}  // NOLINT
  template <class T>
  CallbackRef(std::shared_ptr<T> callback) : owner_(std::move(callback)), callback_(owner_.get()) {}  // NOLINT
  Callback* get() const { return callback_; }

 private:
  std::shared_ptr<Callback> owner_;
  Callback* callback_;
};

// The run's checkpoint manager (the CLI's --checkpoint): a full checkpoint after every epoch
// (and at a Ctrl-C), named "ckpt-EEEE", keeping the newest max_to_keep.
struct CheckpointManagerOptions {
  std::optional<std::size_t> max_to_keep = 5;  // nullopt keeps every checkpoint
  std::optional<int> keep_every_n_epochs{};    // also keep one every N epochs
  std::string monitor = "val_loss";            // for the index's "best"
  std::string mode = "min";                    // "min" or "max"
  bool async = false;                          // write in the background
};

// keras.Model.fit's arguments, plus Lightning's checkpoint location and resume (ckpt_path).
struct FitOptions {
  int epochs = 1;          // the total, as Keras: a resumed run continues up to it
  int initial_epoch = 0;
  std::size_t batch_size = 32;
  bool shuffle = true;
  double validation_split = 0.0;  // the last fraction of the samples, before shuffling
  const Dataset* validation_data = nullptr;  // instead of validation_split
  int verbose = 1;                // 0 silent, 1 progress bar, 2 one line per epoch
  std::uint64_t seed = 0;         // fixes the initial weights, the shuffles and dropout
  // Threads for the batch's work (the caller's included); 0 is "auto": the cores when a batch
  // is large enough for the split to pay, else 1. fit() sets it for the whole process, and
  // evaluate/predict afterwards keep it. Results are bit-identical for a fixed count (README).
  int threads = 0;
  std::vector<CallbackRef> callbacks{};
  // A checkpoint location ("dir:ckpts", "sqlite:runs.db"): the checkpoint manager saves there.
  std::string checkpoint{};
  CheckpointManagerOptions checkpoint_options{};
  // Continue from the latest good checkpoint at `checkpoint` (a fresh start when it holds none).
  bool resume = false;
  // Two runs never mix: without resume, fit refuses a `checkpoint` location that already holds
  // checkpoints (InputError naming it), unless a BackupAndRestore among the callbacks is about to
  // restore that run; overwrite removes the earlier run's checkpoints and index first.
  bool overwrite = false;
  // Merged into every checkpoint's info (the CLI records its data specs under "data").
  Json checkpoint_info = Json::object();
  // Continue from the checkpoint at this URI ("tf:saved_model_dir", "old.h5#best"): its weights,
  // optimizer state and step count, as resume does, while `checkpoint` (when set) receives this
  // run's checkpoints as a new run's. For a source plugfit cannot write to (tf:, a read-only
  // copy). A weights-only source gives its weights and a fresh optimizer, with a warning. Empty:
  // none. Not with resume (SDK ABI 4.1).
  std::string resume_from{};
  // Gradients that do not depend on how many ranks share a batch (0: off). Each global batch is
  // cut into blocks of this many rows; each block runs forward and backward alone and its
  // gradient is summed in double precision, so one process and N ranks make the same update to
  // the last bit in practice (data_parallel.hpp says why). Costs the batch's single large GEMM
  // (README, "Data-parallel training"). Divides batch_size. Not with non-trainable weights:
  // BatchNormalization would move its statistics once per block (SDK ABI 4.3).
  std::size_t gradient_block_rows = 0;
  // ensures: returns, or throws InputError naming the field at fault.
  void validate() const;
};

class PLUGFIT_API Sequential final : public Model {
 public:
  // Keras's Sequential([...]). Throws InputError naming the layer index and what is wrong.
  Sequential(const std::vector<LayerSpec>& layers, const Context& context = Context());
  // {"class_name": "Sequential", "config": {"layers": [...]}} or {"layers": [...]}.
  static Sequential from_config(const Json& config, const Context& context = Context());
  // The host's form (no Context: save, load_weights and checkpoints in fit need one).
  static std::unique_ptr<Sequential> from_config(const Json& config, const Registry& registry);
  ~Sequential() override;
  Sequential(Sequential&&) noexcept;
  Sequential& operator=(Sequential&&) noexcept;

  // Keras's compile: by name or config. Takes effect at once when built, else at build().
  // Throws InputError naming the option ("loss") or the type.
  void compile(const CompileOptions& options);
  // {"optimizer": {...}, "loss": {...}, "metrics": [...]} as full configs; empty before compile.
  const Json& compile_config() const;

  // Trains; see FitOptions. Builds the model first if needed (from the declared or the data's
  // input shape, with options.seed). A SIGINT or SIGTERM during fit stops after the batch in
  // progress with TrainingInterrupted (after the checkpoint manager saved, when there is one).
  History fit(const Dataset& data, const FitOptions& options);
  // The loss and the metrics over data ("loss", "accuracy", ...). requires: compiled.
  Logs evaluate(const Dataset& data, std::size_t batch_size = 32, int verbose = 0);
  // The outputs for data.x, (n, output_shape...). requires: built.
  Tensor predict(const Dataset& data, std::size_t batch_size = 32);
  // A full checkpoint (config, weights, optimizer) at "URI#NAME" ("dir:out#final"); "URI"
  // alone saves "model". Returns where it saved. requires: compiled, made with a Context.
  CheckpointLocation save(const std::string& uri);
  // The weights of the checkpoint a URI names ("URI#NAME", else its latest); returns which one.
  // requires: built, made with a Context. InputError names a missing or misshapen weight.
  CheckpointLocation load_weights(const std::string& uri);

  // The host's steps, also usable alone.
  const std::optional<Shape>& declared_input_shape() const;
  // requires: not built. Throws InputError naming the layer and both shapes on a mismatch.
  void build(const Shape& input_shape, std::uint64_t seed);
  bool built() const;
  const Shape& input_shape() const;
  const Shape& output_shape() const;
  // requires: built. The metric names are Keras's ("accuracy" resolves from the first batch).
  void compile(std::unique_ptr<Optimizer> optimizer, std::unique_ptr<Loss> loss, std::string loss_name,
               std::vector<std::unique_ptr<Metric>> metrics);
  bool compiled() const;
  Loss& loss() const;
  const std::string& loss_name() const;
  std::vector<std::unique_ptr<Metric>>& metrics();
  // True when the last layer's softmax and the loss fuse (set by compile()).
  bool softmax_fused() const;
  // x is (batch, input_shape...). The returned output lives until the next forward().
  const Tensor& forward(const Tensor& x, bool training);
  // dy: d(loss)/d(output), or d(loss)/d(logits) when softmax_fused(). Fills gradients().
  void backward(const Tensor& dy);
  Rng& rng();
  std::size_t num_params() const;
  const std::string& layer_class(std::size_t index) const;
  // A one-screen summary like Keras's model.summary().
  std::string summary() const;

  // Model
  std::size_t num_layers() const override;
  Layer& layer(std::size_t index) override;
  const std::vector<Weight*>& weights() const override;
  std::span<float> parameters() override;
  std::span<float> gradients() override;
  std::size_t num_trainable() const override;
  Optimizer* optimizer() override;
  Json get_config() const override;

 private:
  friend struct SequentialAccess;
  struct Impl;
  Sequential();
  [[noreturn]] void rethrow_from_layer(std::size_t i, const char* step) const;
  std::vector<const Weight*> trainable_in_buffer_order() const;
  std::unique_ptr<Impl> impl_;
};

// keras.saving.load_model: the compiled model of the checkpoint a URI names ("URI#NAME", else
// the latest), with its optimizer state; its types resolve through context (plugins load by name).
PLUGFIT_API Sequential load_model(const std::string& uri, const Context& context = Context());

// Training stopped on a signal (SIGINT, SIGTERM) at a clean position. Exit code 128 + the signal.
class PLUGFIT_API TrainingInterrupted final : public Error {
 public:
  // epoch: the 0-based epoch to continue; batch: the batches of it already trained.
  TrainingInterrupted(int signal_number, int epoch, std::int64_t batch);
  ~TrainingInterrupted() override;
  int signal_number() const noexcept { return signal_; }
  int epoch() const noexcept { return epoch_; }
  std::int64_t batch() const noexcept { return batch_; }
  // "interrupted at epoch 2, batch 118 (SIGINT)" (the epoch 1-based, as the progress bar counts).
  std::string where() const;
  // Called from on_exception: a location holding the stopped run ("dir:/x/ckpts#ckpt-0002-000118").
  // Copies of the exception share the list.
  void note_saved(const std::string& location) const { saved_->push_back(location); }
  const std::vector<std::string>& saved() const noexcept { return *saved_; }

 private:
  int signal_;
  int epoch_;
  std::int64_t batch_;
  std::shared_ptr<std::vector<std::string>> saved_ = std::make_shared<std::vector<std::string>>();
};

}  // namespace plugfit
