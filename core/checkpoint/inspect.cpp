#include "inspect.hpp"

#include <plugfit/checkpoint_index.hpp>

namespace plugfit {

Json describe_checkpoints(const CheckpointBackend& backend) {
  const Json index = CheckpointIndex::read(backend).to_json();  // a wrong-shaped index reads as empty
  Json out = {{"uri", backend.uri()}, {"latest", index.value("latest", Json())}, {"best", index.value("best", Json())},
              {"checkpoints", Json::array()}};
  for (const auto& name : backend.list()) {
    Json entry = {{"name", name}};
    try {
      const CheckpointRecord record = backend.load(name);
      const Json& info = record.info;
      Json types = Json::array();
      for (const auto& layer : info.value("model", Json::object()).value("config", Json::object()).value("layers", Json::array()))
        types.push_back(layer.value("class_name", ""));
      entry.update({{"status", "ok"},
                    {"kind", info.value("kind", "")},
                    {"epoch", info.value("epoch", 0)},
                    {"global_step", info.value("training", Json::object()).value("global_step", 0)},
                    {"time", info.value("time", "")},
                    {"metrics", info.value("metrics", Json::object())},
                    {"layer_types", types},
                    {"plugins", info.value("plugins", Json::object())},
                    {"tensors", record.tensors.size()},
                    {"bytes", record.tensor_bytes()}});
      Json weights = Json::array();
      for (const auto& t : record.tensors)
        if (t.name.rfind("weights/", 0) == 0) weights.push_back({{"name", t.name.substr(8)}, {"shape", t.shape}});
      entry["weights"] = std::move(weights);
      // A file Keras saved: what was read of it, for a file plugfit cannot (yet) build a model of too.
      const Json keras = info.value("keras", Json());
      if (keras.is_object()) {
        Json summary = Json::object();
        for (const char* key : {"keras_version", "backend", "optimizer_state", "layers_plugfit_lacks"})
          if (keras.contains(key)) summary[key] = keras[key];
        const Json optimizer = info.value("optimizer", Json());
        if (optimizer.is_object() && optimizer.contains("iterations")) summary["optimizer_iterations"] = optimizer["iterations"];
        entry["keras"] = std::move(summary);
      }
      // A TensorFlow checkpoint (the tf: backend): its variables, index and step count.
      const Json tf = info.value("tf", Json());
      if (tf.is_object()) {
        Json summary = Json::object();
        for (const char* key : {"index", "variables", "step"})
          if (tf.contains(key)) summary[key] = tf[key];
        entry["tf"] = std::move(summary);
      }
    } catch (const CheckpointCorrupt& e) {
      entry.update({{"status", "corrupt"}, {"error", e.what()}});
    }
    out["checkpoints"].push_back(entry);
  }
  return out;
}

}  // namespace plugfit
