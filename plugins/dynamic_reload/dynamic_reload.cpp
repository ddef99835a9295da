// dynamic_reload: the seeds' DynamicReloadCheckpoint. At the end of every epoch it compares the
// monitored metric with the best seen; when it did not improve, it reloads the best checkpoint
// (weights and optimizer state) that a ModelCheckpoint wrote to `checkpoint`, so training goes
// on from the best point instead of drifting. Written against the SDK only.
//
//   checkpoint  the folder URI ModelCheckpoint writes to ("dir:ckpts"), optionally "#NAME"
//               to reload one checkpoint (default: the best the folder's index names, else the
//               latest); parsed and resolved by the SDK (plugfit/checkpoint_index.hpp)
//   monitor "val_loss", mode "min" | "max" | "auto" (default min), min_delta 0, verbose 1
// "Improved" is the SDK's Monitor (plugfit/monitor.hpp), Keras's test.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include <plugfit/sdk.hpp>

namespace {

using namespace plugfit;

class DynamicReloadCheckpoint final : public Callback {
 public:
  explicit DynamicReloadCheckpoint(Config& config)
      : uri_(config.require<std::string>("checkpoint")),
        checkpoint_(parse_checkpoint_uri(uri_)),
        monitor_("DynamicReloadCheckpoint", config.get<std::string>("monitor", "val_loss"),
                 config.get<std::string>("mode", "min"), config.get<double>("min_delta", 0.0)),
        verbose_(config.get<int>("verbose", 1)) {
    uri_ = uri_.substr(0, uri_.rfind('#'));  // the folder, as the user wrote it (the state key)
  }

  void on_train_begin(Logs&) override { monitor_.resolve(session()); }

  void on_epoch_end(int epoch, Logs& logs) override {
    const double* current = logs.find(monitor_.key());
    if (current == nullptr)
      throw InputError("DynamicReloadCheckpoint monitors \"" + monitor_.key() + "\", which is not in the logs");
    if (!monitor_.resolved()) monitor_.resolve(session());
    if (monitor_.improves(*current, best_)) {
      best_ = *current;
      return;
    }
    reload(epoch);
  }

  Json state() const override { return {{"best", best_ ? Json(*best_) : Json()}, {"reloads", reloads_}}; }
  void load_state(const Json& state) override {
    const Json best = state.is_object() ? state.value("best", Json()) : Json();
    best_ = best.is_number() ? std::optional<double>(best.get<double>()) : std::nullopt;
    reloads_ = state.is_object() ? state.value("reloads", 0) : 0;
  }
  std::string state_key() const override {
    return "DynamicReloadCheckpoint{" + uri_ + "," + monitor_.key() + "}";
  }

 private:
  void reload(int epoch) {
    auto backend = session().open_backend(uri_);
    // "#NAME" as given; else the index's best, else its latest, else the newest held.
    std::optional<std::string> name;
    if (!checkpoint_.name.empty()) {
      name = resolve_checkpoint_name(*backend, checkpoint_.name);
    } else {
      const CheckpointIndex index = CheckpointIndex::read(*backend);
      const auto held = backend->list();
      if (index.best && std::find(held.begin(), held.end(), index.best->name) != held.end()) name = index.best->name;
      else name = resolve_checkpoint_name(*backend, "latest");
    }
    if (!name) throw RuntimeFailure("DynamicReloadCheckpoint: " + backend->uri() + " holds no checkpoint");
    const CheckpointRecord record = backend->load(*name);
    RestoreParts parts;
    parts.optimizer = record.info.value("kind", "") == "full";
    session().restore(record, parts);
    ++reloads_;
    if (verbose_ > 0) {
      std::printf("\nEpoch %d: %s did not improve from %.5f; reloaded %s/%s\n", epoch + 1, monitor_.key().c_str(),
                  best_.value_or(monitor_.higher_is_better() ? -HUGE_VAL : HUGE_VAL), backend->uri().c_str(),
                  name->c_str());
      std::fflush(stdout);
    }
  }

  std::string uri_;
  CheckpointUri checkpoint_;  // for its "#NAME"
  Monitor monitor_;
  int verbose_;
  std::optional<double> best_;  // none yet: Keras's +-inf
  int reloads_ = 0;
};

void register_types(Registrar& registrar) { registrar.add_callback<DynamicReloadCheckpoint>("DynamicReloadCheckpoint"); }

}  // namespace

PLUGFIT_PLUGIN_DESCRIBED("dynamic_reload", "0.1.0",
                         "DynamicReloadCheckpoint: reload the best checkpoint when the monitored metric stops improving",
                         register_types)
