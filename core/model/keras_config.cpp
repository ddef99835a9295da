#include <algorithm>
#include <cstdio>
#include <functional>
#include <iterator>

#include <plugfit/keras_config.hpp>

namespace plugfit {

namespace {

// A serialized activation as plugfit names it.
Json activation_name(const Json& activation) {
  if (!activation.is_object()) return activation;
  const std::string cls = activation.value("class_name", std::string());
  if (activation.contains("config") && activation["config"].is_string()) return activation["config"];
  if (!cls.empty() && (!activation.contains("config") || activation["config"].is_null())) return cls;
  const Json config = activation.value("config", Json());
  if (config.is_object()) {
    // Keras 3's partial-function form names the function in the config; tf.keras's in class_name.
    const Json function = config.value("name", Json(cls == "function" ? "" : cls));
    const Json approximate = config.value("approximate", Json(false));
    const std::size_t options = config.size() - config.count("name") - config.count("approximate");
    if (function == "gelu" && approximate.is_boolean() && options == 0)
      return approximate.get<bool>() ? "gelu_approximate" : "gelu";
  }
  return activation;  // as written, for the layer's own error to name
}

}  // namespace

std::string keras_bare_class_name(std::string name) {
  if (name.rfind("Custom>", 0) == 0) name.erase(0, 7);
  if (name.find('>') == std::string::npos && name.find('.') != std::string::npos) name = name.substr(name.rfind('.') + 1);
  return name;
}

Json keras_layer_spec(Json spec) {
  if (!spec.is_object()) return spec;
  if (spec.contains("class_name") && spec["class_name"].is_string())
    spec["class_name"] = keras_bare_class_name(spec["class_name"].get<std::string>());
  if (!spec.contains("config") || !spec["config"].is_object()) return spec;
  Json& config = spec["config"];
  static const std::pair<const char*, const char*> keras1_keys[] = {
      {"output_dim", "units"},           {"init", "kernel_initializer"},     {"W_regularizer", "kernel_regularizer"},
      {"b_regularizer", "bias_regularizer"}, {"W_constraint", "kernel_constraint"},
      {"b_constraint", "bias_constraint"}, {"bias", "use_bias"},             {"input_dtype", "dtype"}};
  const bool embedding = spec.value("class_name", std::string()) == "Embedding";  // its output_dim is its own
  for (const auto& [old_key, new_key] : keras1_keys)
    if (config.contains(old_key) && !config.contains(new_key) && !(embedding && std::string(old_key) == "output_dim")) {
      config[new_key] = config[old_key];
      config.erase(old_key);
    }
  if (spec.value("class_name", std::string()) == "Dropout" && config.contains("p") && !config.contains("rate")) {
    config["rate"] = config["p"];
    config.erase("p");
  }
  if (config.contains("activation")) config["activation"] = activation_name(config["activation"]);
  return spec;
}

void apply_keras_era(Json& layer_specs, const std::string& keras_version) {
  int major = 3;
  if (std::sscanf(keras_version.c_str(), "%d", &major) != 1 || major >= 3 || !layer_specs.is_array()) return;
  for (auto& spec : layer_specs) {
    if (!spec.is_object() || !spec.contains("config") || !spec["config"].is_object()) continue;
    Json& config = spec["config"];
    if (config.contains("activation") && config["activation"] == "hard_sigmoid") config["activation"] = "hard_sigmoid_keras2";
  }
}

bool is_keras_model_json(const Json& model_config) {
  return model_config.is_object() && model_config.contains("keras_version") && model_config["keras_version"].is_string();
}

namespace {

// A metric as plugfit names it: module prefixes dropped, MeanMetricWrapper as its function "fn"
// (Keras logs it under its name: "accuracy" for fn categorical_accuracy).
Json keras_metric_spec(const Json& metric) {
  if (!metric.is_object()) return metric;
  Json out = metric;
  if (out.contains("class_name") && out["class_name"].is_string())
    out["class_name"] = keras_bare_class_name(out["class_name"].get<std::string>());
  if (out.value("class_name", std::string()) == "MeanMetricWrapper") {
    const Json config = out.value("config", Json::object());
    if (config.is_object() && config.contains("fn") && config["fn"].is_string()) {
      const Json name = config.value("name", Json());
      if (!name.is_string()) return config["fn"];
      return Json{{"class_name", config["fn"]}, {"config", {{"name", name}}}};
    }
  }
  if (out.contains("config") && out["config"].is_object()) out["config"].erase("shared_object_id");
  out.erase("shared_object_id");
  return out;
}

}  // namespace

Json compile_config_from_keras(const Json& training) {
  if (!training.is_object() || !training.contains("loss") || training["loss"].is_null()) return Json();
  Json compile = {{"loss", training["loss"]}, {"metrics", Json::array()}};
  const Json optimizer = training.value("optimizer_config", Json());
  if (optimizer.is_object() && optimizer.contains("class_name")) {
    // plugfit's optimizers take an option they lack only when it is absent, and null means absent.
    Json config = optimizer.value("config", Json::object());
    for (auto it = config.begin(); it != config.end();) it = it->is_null() ? config.erase(it) : std::next(it);
    compile["optimizer"] = {{"class_name", keras_bare_class_name(optimizer.value("class_name", std::string()))},
                            {"config", config}};
  }
  // Keras 3 nests metrics per output; a Sequential model has one output.
  std::function<void(const Json&)> add = [&](const Json& m) {
    if (m.is_array()) {
      for (const auto& inner : m) add(inner);
    } else if (!m.is_null()) {
      compile["metrics"].push_back(keras_metric_spec(m));
    }
  };
  add(training.value("metrics", Json::array()));
  return compile;
}

}  // namespace plugfit
