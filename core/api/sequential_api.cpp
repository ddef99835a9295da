// The Keras-style members of the public Sequential: construction by spec, compile by name,
// fit with the checkpoint manager and resume, evaluate, predict, save, load_weights, load_model.
#include <cstdio>
#include <memory>

#include <plugfit/checkpoint_index.hpp>

#include "../checkpoint/async_writer.hpp"
#include "../checkpoint/record.hpp"
#include "../checkpoint/store.hpp"
#include "../training/callbacks/backup_and_restore.hpp"
#include "../model/sequential.hpp"
#include "../training/callback_access.hpp"
#include "../training/fit.hpp"
#include "../training/interrupt.hpp"
#include "context_access.hpp"

namespace plugfit {

namespace {

void warn(const std::string& message) {
  std::fflush(stdout);
  std::fprintf(stderr, "plugfit: warning: %s\n", message.c_str());
}

// The run's checkpoint manager as a callback: a full checkpoint after every epoch, in the
// background when the manager's "async" option is on (the capture is the only stall).
class ManagerCallback final : public Callback {
 public:
  explicit ManagerCallback(CheckpointManager& manager) : manager_(manager) {
    CallbackAccess::set_type_name(*this, "CheckpointManager");
  }
  void on_epoch_end(int epoch, Logs& logs) override {
    auto record = std::make_shared<const CheckpointRecord>(session().capture(false));
    const std::int64_t step = session().global_step();
    auto save = [this, record, epoch, step, logs] { manager_.save(*record, epoch + 1, 0, step, logs); };
    if (manager_.options().async) writer_.submit(save);
    else save();
  }
  void on_train_end(Logs&) override { writer_.wait(); }
  // A run stopped by SIGINT/SIGTERM (always after a batch) gets a full checkpoint there,
  // "ckpt-EEEE-BBBBBB" (epoch 1-based), from which a resume continues bit for bit.
  void on_exception(const std::exception& error) override {
    const auto* interrupted = dynamic_cast<const TrainingInterrupted*>(&error);
    if (interrupted == nullptr) return;
    try {
      writer_.wait();
      const std::string name = manager_.save(session().capture(false), interrupted->epoch() + 1, interrupted->batch(),
                                             session().global_step(), Logs());
      interrupted->note_saved(manager_.backend().uri() + "#" + name);
    } catch (const std::exception& failure) {
      warn(std::string("the checkpoint manager could not save the interrupted run: ") + failure.what());
    }
  }

 private:
  CheckpointManager& manager_;
  AsyncWriter writer_;
};

ManagerOptions manager_options(const CheckpointManagerOptions& o) {
  ManagerOptions out;
  out.max_to_keep = o.max_to_keep;
  out.keep_every_n_epochs = o.keep_every_n_epochs;
  out.monitor = o.monitor;
  out.mode = o.mode;
  out.async = o.async;
  return out;
}

const Context& context_of(const SequentialAccess::Impl& impl, const char* what) {
  if (!impl.context_)
    throw RuntimeFailure(std::string(what) + " needs a model made with a plugfit::Context (Sequential(layers, context))");
  return *impl.context_;
}


void check_type_spec(const Json& spec, const std::string& field) {
  const bool named = spec.is_string() ||
                     (spec.is_object() && spec.contains("class_name") && spec["class_name"].is_string());
  if (!named)
    throw InputError("CompileOptions: \"" + field + "\" must be a type name or {\"class_name\": ..., \"config\": {...}}, got " +
                     json_excerpt(spec));
}

}  // namespace

LayerSpec Input(const Shape& shape) { return {"InputLayer", {{"shape", shape}}}; }

LayerSpec layer(const std::string& class_name, Json config) { return {class_name, std::move(config)}; }

Sequential::Sequential(const std::vector<LayerSpec>& layers, const Context& context)
    : Sequential([&] {
        Json specs = Json::array();
        for (const auto& spec : layers) specs.push_back({{"class_name", spec.class_name}, {"config", spec.config}});
        return from_config(Json{{"layers", specs}}, context);
      }()) {}

Sequential Sequential::from_config(const Json& config, const Context& context) {
  ContextAccess::loader(context).load_plugins_named_in(config);
  auto model = from_config(config, context.registry());
  model->impl_->context_ = context;
  return std::move(*model);
}

void Sequential::compile(const CompileOptions& options) {
  if (options.loss.is_null()) throw InputError("CompileOptions: \"loss\" is required");
  check_type_spec(options.optimizer, "optimizer");
  check_type_spec(options.loss, "loss");
  Json metrics = Json::array();
  for (std::size_t i = 0; i < options.metrics.size(); ++i) {
    check_type_spec(options.metrics[i], "metrics[" + std::to_string(i) + "]");
    metrics.push_back(options.metrics[i]);
  }
  const Context& context = context_of(*impl_, "compile(CompileOptions)");
  Json config = {{"optimizer", options.optimizer}, {"loss", options.loss}, {"metrics", metrics}};
  ContextAccess::loader(context).load_plugins_named_in(config);
  // Keras checks the names at compile, built or not: make each once (the registry's errors name
  // the type and the key, as a run file's do).
  const Registry& registry = context.registry();
  auto name_of = [](const Json& spec) { return spec.is_string() ? spec.get<std::string>() : spec["class_name"].get<std::string>(); };
  auto config_of = [](const Json& spec) { return spec.is_object() ? spec.value("config", Json::object()) : Json::object(); };
  registry.create_optimizer(name_of(options.optimizer), config_of(options.optimizer));
  registry.create_loss(name_of(options.loss), config_of(options.loss));
  for (const Json& metric : options.metrics) registry.create_metric(name_of(metric), config_of(metric));
  impl_->compile_config_ = std::move(config);
  impl_->compile_pending_ = true;
  if (built()) apply_pending_compile(*this);
}

void apply_pending_compile(Sequential& model) {
  SequentialAccess::Impl& impl = SequentialAccess::impl(model);
  if (!impl.compile_pending_) return;
  impl.compile_pending_ = false;
  compile_from_config(model, impl.compile_config_, context_of(impl, "compile").registry());
}

const Json& Sequential::compile_config() const { return impl_->compile_config_; }

History Sequential::fit(const Dataset& data, const FitOptions& options) {
  options.validate();
  if (data.size() == 0) throw InputError("the training data " + data.spec + " holds no samples");
  if (!built()) build(declared_input_shape().value_or(data.sample_shape()), options.seed);
  if (!compiled()) throw RuntimeFailure("fit() needs a compiled model: call compile() first");

  static const Registry no_types;
  const Registry& registry = impl_->context_ ? impl_->context_->registry() : no_types;
  PluginLoader* loader = impl_->context_ ? &ContextAccess::loader(*impl_->context_) : nullptr;
  FitOptions loop = options;  // what the training loop runs; the manager and resume are set up here
  loop.checkpoint.clear();
  loop.resume = false;
  loop.overwrite = false;  // start_fresh_run below has done it
  loop.callbacks.clear();

  std::vector<Callback*> callbacks;
  for (const CallbackRef& ref : options.callbacks) callbacks.push_back(ref.get());
  // Data-parallel: rank 0 alone reads and writes the checkpoint location; fit() hands its run
  // to the other ranks at the start of training.
  Communicator* communicator = impl_->context_ ? impl_->context_->communicator() : nullptr;
  const bool writer = communicator == nullptr || communicator->rank() == 0;
  FitSession session(*this, registry, loader, impl_->compile_config_, options.seed, communicator,
                     impl_->context_ ? ContextAccess::collective_timeout(*impl_->context_) : 0.0);
  std::unique_ptr<CheckpointManager> manager;
  std::unique_ptr<ManagerCallback> manager_callback;
  if (!options.checkpoint.empty() && writer) {
    context_of(*impl_, "FitOptions.checkpoint");
    manager = std::make_unique<CheckpointManager>(open_backend(parse_checkpoint_uri(options.checkpoint), registry, loader),
                                                  manager_options(options.checkpoint_options));
    // Before any callback saves. A run BackupAndRestore will restore continues the run that
    // wrote these checkpoints, as a Keras rerun does.
    bool restoring_backup = false;
    for (const Callback* callback : callbacks)
      if (const auto* backup = dynamic_cast<const BackupAndRestore*>(callback))
        restoring_backup = restoring_backup ||
                           !open_backend(parse_checkpoint_uri(backup->backup_dir()), registry, loader)->list().empty();
    if (!options.resume && !restoring_backup) start_fresh_run(manager->backend(), options.overwrite);
    manager_callback = std::make_unique<ManagerCallback>(*manager);
    callbacks.push_back(manager_callback.get());
  }
  Json info = options.checkpoint_info;
  // A checkpoint says how many ranks wrote it; it resumes on any number (the same global batches).
  if (communicator != nullptr)
    info["distributed"] = {{"world_size", communicator->size()},
                           {"backend", ContextAccess::distributed_backend(*impl_->context_)}};
  session.set_extra_info(std::move(info));
  session.set_callbacks(callbacks);
  ResumePoint resume;
  if (options.resume && writer) {
    const auto fall_back = [](const std::string& why) { warn(why + "; falling back to the previous checkpoint"); };
    const auto found = manager->restore_or_initialize(fall_back);
    // A location with weights but no resumable state (a Keras file without readable optimizer
    // state, a weights-only checkpoint) continues from those weights: never from random ones.
    const auto weights_only = found ? std::nullopt : load_latest_good(manager->backend(), false, fall_back);
    if (weights_only) {
      const auto& [name, record] = *weights_only;
      manager->protect(name);
      session.restore(record, {true, false, false, false});
      const Json keras = record.info.value("keras", Json::object());
      const std::string why = keras.contains("optimizer_state") ? keras["optimizer_state"].get<std::string>()
                                                                 : std::string("it is a weights-only checkpoint");
      warn(manager->backend().uri() + "/" + name + " holds weights but no optimizer state to resume (" + why +
           "); continuing from its weights with a fresh optimizer at epoch 0");
    } else if (!found && !manager->backend().list().empty()) {
      throw InputError(manager->backend().uri() + " holds checkpoints but none that loads, so --resume cannot continue");
    } else if (!found) {
      warn("no checkpoint to resume from in " + manager->backend().uri() + "; starting from the beginning");
    } else {
      const auto& [name, record] = *found;
      session.restore(record, {true, true, true, true});
      const TrainingPosition& position = session.position();
      loop.seed = position.seed;
      loop.initial_epoch = position.epoch;
      resume = {position.batch, position.global_step};
      // Epochs counted from 1, as the progress bar and the interrupt message count them.
      if (options.verbose > 0 && position.batch > 0)
        std::printf("Resuming from %s/%s at epoch %d, after batch %lld\n", manager->backend().uri().c_str(),
                    name.c_str(), position.epoch + 1, static_cast<long long>(position.batch));
      else if (options.verbose > 0)
        std::printf("Resuming from %s/%s after epoch %d (continuing with epoch %d)\n",
                    manager->backend().uri().c_str(), name.c_str(), position.epoch, position.epoch + 1);
    }
  }
  if (!options.resume_from.empty() && writer) {
    // Another location's checkpoint (a TensorFlow SavedModel, say): read, never written.
    context_of(*impl_, "FitOptions.resume_from");
    const CheckpointUri from = parse_checkpoint_uri(options.resume_from);
    const auto source = open_existing_backend(from, registry, loader);
    const auto [name, record] = load_named(*source, from);
    if (record.info.value("kind", "") != "full") {
      session.restore(record, {true, false, false, false});
      const Json keras = record.info.value("keras", Json::object());
      const std::string why = keras.contains("optimizer_state") && keras["optimizer_state"].is_string()
                                  ? keras["optimizer_state"].get<std::string>()
                                  : std::string("it is a weights-only checkpoint");
      warn(source->uri() + "/" + name + " holds weights but no optimizer state to resume (" + why +
           "); continuing from its weights with a fresh optimizer at epoch 0");
    } else {
      // Another run's callbacks are not this run's; the run's own seed shuffles on.
      session.restore(record, {true, true, true, false});
      const TrainingPosition& position = session.position();
      loop.initial_epoch = position.epoch;
      resume = {position.batch, position.global_step};
      if (options.verbose > 0)
        std::printf("Continuing from %s/%s at step %lld (epoch %d)\n", source->uri().c_str(), name.c_str(),
                    static_cast<long long>(position.global_step), position.epoch + 1);
    }
  }
  return plugfit::fit(*this, data, loop, callbacks, &session, resume);
}

Logs Sequential::evaluate(const Dataset& data, std::size_t batch_size, int verbose) {
  if (verbose < 0 || verbose > 2) throw InputError("evaluate: \"verbose\" must be 0, 1 or 2");
  return plugfit::evaluate(*this, data, batch_size, verbose);
}

Tensor Sequential::predict(const Dataset& data, std::size_t batch_size) {
  if (!built()) throw RuntimeFailure("predict() needs a built model: fit() or build() it first");
  return plugfit::predict(*this, data, batch_size);
}

CheckpointLocation Sequential::save(const std::string& uri) {
  const Context& context = context_of(*impl_, "save()");
  if (!compiled()) throw RuntimeFailure("save() needs a compiled model (it saves the optimizer too)");
  const CheckpointUri parsed = parse_checkpoint_uri(uri);
  const std::string name = parsed.name.empty() ? "model" : parsed.name;
  auto backend = open_backend(parsed, context.registry(), &ContextAccess::loader(context));
  const CheckpointRecord record =
      capture_record(*this, context.registry(), impl_->compile_config_, {}, {}, Logs(), false);
  backend->save(name, record);
  note_saved(*backend, {name, 0, 0, "full", "save", Json::object()});
  return {backend->uri(), name};
}

CheckpointLocation Sequential::load_weights(const std::string& uri) {
  if (!built()) throw RuntimeFailure("load_weights() needs a built model: build() it first");
  const Context& context = context_of(*impl_, "load_weights()");
  const CheckpointUri parsed = parse_checkpoint_uri(uri);
  const auto backend = open_existing_backend(parsed, context.registry(), &ContextAccess::loader(context));
  const auto [name, record] = load_named(*backend, parsed);
  restore_weights(*this, record);
  return {backend->uri(), name};
}

Sequential load_model(const std::string& uri, const Context& context) {
  const CheckpointUri parsed = parse_checkpoint_uri(uri);
  const auto backend = open_existing_backend(parsed, context.registry(), &ContextAccess::loader(context));
  const auto [name, record] = load_named(*backend, parsed);
  std::unique_ptr<Sequential> model;
  try {
    model = model_from_record(record, context.registry(), ContextAccess::loader(context));
  } catch (const InputError& e) {
    throw InputError("checkpoint " + name + " in " + backend->uri() + ": " + e.what());
  }
  SequentialAccess::Impl& impl = SequentialAccess::impl(*model);
  impl.context_ = context;
  impl.compile_config_ = record.info.value("compile", Json::object());
  return std::move(*model);
}

}  // namespace plugfit
