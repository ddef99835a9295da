// The typed factories of plugfit/callbacks.hpp: options structs to the registered types'
// Config-based constructors, so both check the same way.
#include <plugfit/callbacks.hpp>

#include <plugfit/registry.hpp>

#include "../builtins/builtins.hpp"

namespace plugfit::callbacks {

namespace {

// Through the registry, so that a callback made here is the one a run file makes.
std::shared_ptr<Callback> make(const char* type, const Json& json) {
  static const Registry* const builtins = [] {
    auto* registry = new Registry();  // lives for the process, as the built-in types do
    register_builtins(*registry);
    return registry;
  }();
  return builtins->create_callback(type, json);
}

}  // namespace

std::shared_ptr<Callback> EarlyStopping(const EarlyStoppingOptions& o) {
  Json json = {{"monitor", o.monitor},   {"min_delta", o.min_delta},
               {"patience", o.patience}, {"verbose", o.verbose},
               {"mode", o.mode},         {"restore_best_weights", o.restore_best_weights},
               {"start_from_epoch", o.start_from_epoch}};
  if (o.baseline) json["baseline"] = *o.baseline;
  return make("EarlyStopping", json);
}

std::shared_ptr<Callback> ModelCheckpoint(const ModelCheckpointOptions& o) {
  if (o.save_freq < 0)
    throw InputError("ModelCheckpoint: \"save_freq\" must be 0 (every epoch) or a positive number of batches");
  Json json = {{"filepath", o.filepath},
               {"monitor", o.monitor},
               {"verbose", o.verbose},
               {"save_best_only", o.save_best_only},
               {"save_weights_only", o.save_weights_only},
               {"mode", o.mode},
               {"save_freq", o.save_freq == 0 ? Json("epoch") : Json(o.save_freq)},
               {"save_last", o.save_last},
               {"async", o.async}};
  if (o.initial_value_threshold) json["initial_value_threshold"] = *o.initial_value_threshold;
  if (o.save_top_k) json["save_top_k"] = *o.save_top_k;
  return make("ModelCheckpoint", json);
}

}  // namespace plugfit::callbacks
