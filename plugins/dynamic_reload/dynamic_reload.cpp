// dynamic_reload: the seeds' DynamicReloadCheckpoint. At the end of every epoch it compares the
// monitored metric with the best seen; when it did not improve, it reloads the best checkpoint
// (weights and optimizer state) that a ModelCheckpoint wrote to `checkpoint`, so training goes
// on from the best point instead of drifting. Written against the SDK only.
//
//   checkpoint  the folder URI ModelCheckpoint writes to ("dir:ckpts"), optionally "#NAME"
//               to reload one checkpoint (default: the best the folder's index names, else the
//               latest)
//   monitor "val_loss", mode "min" | "max" (default min), min_delta 0, verbose 1
#include <cmath>
#include <cstdio>
#include <limits>

#include <plugfit/sdk.hpp>

namespace {

using namespace plugfit;

class DynamicReloadCheckpoint final : public Callback {
 public:
  explicit DynamicReloadCheckpoint(Config& config)
      : checkpoint_(config.require<std::string>("checkpoint")),
        monitor_(config.get<std::string>("monitor", "val_loss")),
        mode_(config.get<std::string>("mode", "min")),
        min_delta_(std::fabs(config.get<double>("min_delta", 0.0))),
        verbose_(config.get<int>("verbose", 1)) {
    if (mode_ != "min" && mode_ != "max")
      throw InputError("DynamicReloadCheckpoint: mode must be \"min\" or \"max\", got \"" + mode_ + "\"");
    if (const auto hash = checkpoint_.rfind('#'); hash != std::string::npos) {
      name_ = checkpoint_.substr(hash + 1);
      checkpoint_ = checkpoint_.substr(0, hash);
    }
  }

  void on_epoch_end(int epoch, Logs& logs) override {
    const double* current = logs.find(monitor_);
    if (current == nullptr)
      throw InputError("DynamicReloadCheckpoint monitors \"" + monitor_ + "\", which is not in the logs");
    if (improved(*current)) {
      best_ = *current;
      return;
    }
    reload(epoch);
  }

  Json state() const override {
    return {{"best", std::isfinite(best_) ? Json(best_) : Json()}, {"reloads", reloads_}};
  }
  void load_state(const Json& state) override {
    best_ = state.value("best", Json()).is_number() ? state["best"].get<double>() : initial_best();
    reloads_ = state.value("reloads", 0);
  }
  std::string state_key() const override { return "DynamicReloadCheckpoint{" + checkpoint_ + "," + monitor_ + "}"; }

 private:
  double initial_best() const {
    return mode_ == "min" ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  }
  bool improved(double current) const {
    return mode_ == "min" ? current < best_ - min_delta_ : current > best_ + min_delta_;
  }

  void reload(int epoch) {
    auto backend = session().open_backend(checkpoint_);
    std::string name = name_;
    if (name.empty()) {
      const Json index = backend->read_index();
      if (index.contains("best") && index["best"].is_object()) name = index["best"].value("name", "");
      if (name.empty() && index.contains("latest") && index["latest"].is_string()) name = index["latest"];
      if (name.empty()) {
        const auto names = backend->list();
        if (names.empty()) throw RuntimeFailure("DynamicReloadCheckpoint: " + backend->uri() + " holds no checkpoint");
        name = names.back();
      }
    }
    const CheckpointRecord record = backend->load(name);
    RestoreParts parts;
    parts.optimizer = record.info.value("kind", "") == "full";
    session().restore(record, parts);
    ++reloads_;
    if (verbose_ > 0) {
      std::printf("\nEpoch %d: %s did not improve from %.5f; reloaded %s/%s\n", epoch + 1, monitor_.c_str(), best_,
                  backend->uri().c_str(), name.c_str());
      std::fflush(stdout);
    }
  }

  std::string checkpoint_, name_, monitor_, mode_;
  double min_delta_;
  int verbose_;
  double best_ = initial_best();
  int reloads_ = 0;
};

void register_types(Registrar& registrar) { registrar.add_callback<DynamicReloadCheckpoint>("DynamicReloadCheckpoint"); }

}  // namespace

PLUGFIT_PLUGIN_DESCRIBED("dynamic_reload", "0.1.0",
                         "DynamicReloadCheckpoint: reload the best checkpoint when the monitored metric stops improving",
                         register_types)
