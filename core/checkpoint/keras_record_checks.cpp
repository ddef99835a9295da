#include "keras_record_checks.hpp"

#include "../layers/keras_options.hpp"

namespace plugfit {

namespace {

std::string class_name_of(const Json& spec) {
  return spec.is_string() ? spec.get<std::string>() : spec.value("class_name", std::string());
}
Json config_of(const Json& spec) { return spec.is_object() ? spec.value("config", Json::object()) : Json::object(); }

std::string layer_label(std::size_t index, const Json& layer) {
  const Json config = layer.value("config", Json::object());
  const Json name = config.is_object() ? config.value("name", Json()) : Json();
  return "layer " + std::to_string(index) + (name.is_string() ? " \"" + name.get<std::string>() + "\"" : "");
}
constexpr const char* kTrainingTerms[] = {"kernel_regularizer", "bias_regularizer", "activity_regularizer",
                                          "kernel_constraint", "bias_constraint"};

}  // namespace


// A Keras file's layer that plugfit lacks: refused, by its file, position and Keras class.
void refuse_keras_layers_plugfit_lacks(const CheckpointRecord& record) {
  const Json keras = record.info.value("keras", Json::object());
  const Json lacks = keras.is_object() ? keras.value("layers_plugfit_lacks", Json()) : Json();
  if (!lacks.is_object() || !lacks.contains("layers") || !lacks["layers"].is_array() || lacks["layers"].empty()) return;
  const Json& first = lacks["layers"][0];
  const Json file = lacks.value("file", Json("the checkpoint"));
  const Json index = first.value("index", Json(0)), name = first.value("name", Json("")),
             cls = first.value("class_name", Json("?"));
  throw InputError((file.is_string() ? file.get<std::string>() : std::string("the checkpoint")) + ": layer " +
                   (index.is_number_integer() ? std::to_string(index.get<long long>()) : std::string("?")) +
                   (name.is_string() && !name.get<std::string>().empty() ? " \"" + name.get<std::string>() + "\"" : "") +
                   " is a Keras " + (cls.is_string() ? cls.get<std::string>() : std::string("?")) +
                   ", which plugfit does not have yet");
}

bool is_keras_record(const CheckpointRecord& record) {
  return record.info.contains("keras") && record.info["keras"].is_object();
}
std::string keras_file_of(const CheckpointRecord& record) {
  const Json file = record.info["keras"].value("file", Json());
  return file.is_string() ? file.get<std::string>() : "the Keras file";
}
// A Keras file's model trained with a regularizer or constraint plugfit cannot apply: training
// from its weights without it would change the training unseen, so it is refused.
void refuse_keras_regularizers(const CheckpointRecord& record) {
  if (!is_keras_record(record)) return;
  const Json layers = record.info.value("model", Json::object()).value("config", Json::object()).value("layers", Json::array());
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Json config = layers[i].value("config", Json::object());
    if (!config.is_object()) continue;
    for (const char* key : kTrainingTerms)
      if (config.contains(key) && !config[key].is_null())
        throw InputError(keras_file_of(record) + ": " + layer_label(i, layers[i]) + " has a " + key + " (" +
                         config[key].dump() + "), which plugfit cannot apply; training from its weights would drop it");
  }
}

// What of a Keras file's model and compile config predict, evaluate and inspect need: options
// that only training reads (regularizers, constraints, initializers plugfit cannot map, a dtype
// policy other than float32, an optimizer or metric plugfit lacks or refuses, a loss it lacks)
// are left out, each named in `ignored`.
Json keras_inference_info(const Json& info, const Registry& registry, std::vector<std::string>& ignored) {
  Json out = info;
  Json& layers = out["model"]["config"]["layers"];
  for (std::size_t i = 0; layers.is_array() && i < layers.size(); ++i) {
    if (!layers[i].contains("config") || !layers[i]["config"].is_object()) continue;
    Json& config = layers[i]["config"];
    const std::string where = layer_label(i, layers[i]) + " ";
    for (auto it = config.begin(); it != config.end();) {
      const std::string key = it.key();
      bool drop = false;
      if (!it->is_null() && (key.size() > 12 && (key.ends_with("_regularizer") || key.ends_with("_constraint")))) {
        drop = true;
      } else if (key.ends_with("_initializer") && !it->is_null()) {
        try {
          (void)Initializer::from_json(*it);
        } catch (const InputError&) {
          drop = true;
        }
      } else if (key == "dtype" && !it->is_null()) {
        try {
          check_keras_precision_options(Json{{"dtype", *it}}, "", "");
        } catch (const InputError&) {
          drop = true;
        }
      }
      if (drop) {
        const Json& v = *it;
        const Json cls = v.is_object() ? v.value("class_name", Json()) : Json();
        const Json policy = key == "dtype" && v.is_object() ? v.value("config", Json::object()).value("name", Json()) : Json();
        ignored.push_back(where + key + " " +
                          (policy.is_string() ? policy.get<std::string>() : cls.is_string() ? cls.get<std::string>() : v.dump()));
        it = config.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (!out.contains("compile") || !out["compile"].is_object()) return out;
  Json& compile = out["compile"];
  const Json loss = compile.value("loss", Json());
  if ((loss.is_string() || loss.is_object()) && registry.find(TypeKind::loss, class_name_of(loss)) == nullptr) {
    ignored.push_back("the loss \"" + class_name_of(loss) + "\" and the rest of the compile config (plugfit lacks the loss)");
    out.erase("compile");
    return out;
  }
  if (compile.contains("optimizer")) {
    const Json spec = compile["optimizer"];
    const std::string name = (spec.is_string() || spec.is_object()) ? class_name_of(spec) : spec.dump();
    try {
      if (registry.find(TypeKind::optimizer, name) == nullptr) throw InputError("plugfit lacks it");
      (void)registry.create_optimizer(name, config_of(spec));
    } catch (const InputError& e) {
      ignored.push_back("the optimizer " + name + " (" + e.what() + ")");
      compile.erase("optimizer");
    }
  }
  if (compile.contains("metrics") && compile["metrics"].is_array()) {
    Json kept = Json::array();
    for (const auto& m : compile["metrics"]) {
      const std::string name = (m.is_string() || m.is_object()) ? class_name_of(m) : m.dump();
      if (registry.find(TypeKind::metric, name) != nullptr)
        kept.push_back(m);
      else
        ignored.push_back("the metric \"" + name + "\"");
    }
    compile["metrics"] = kept;
  }
  return out;
}


}  // namespace plugfit
