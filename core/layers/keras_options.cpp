#include "keras_options.hpp"

#include "spatial_options.hpp"

namespace plugfit {

void accept_keras_layer_options(Config& config) {
  config.accept({"name", "trainable", "dtype", "input_shape", "batch_input_shape", "batch_shape", "input_dim"});
}

namespace {

// The policy's name: "float32" for "float32" or {"class_name": "DTypePolicy", "config": {"name": "float32"}}.
std::string policy_name(const Json& dtype) {
  if (dtype.is_string()) return dtype.get<std::string>();
  if (dtype.is_object() && dtype.contains("config") && dtype["config"].is_object() &&
      dtype["config"].contains("name") && dtype["config"]["name"].is_string()) {
    const std::string cls = dtype.value("class_name", std::string());
    if (cls == "DTypePolicy" || cls == "FloatDTypePolicy" || cls == "Policy")
      return dtype["config"]["name"].get<std::string>();
  }
  return dtype.dump();
}

}  // namespace

void check_keras_precision_options(const Json& config, const std::string& layer, const std::string& class_name) {
  if (!config.is_object()) return;
  const std::string where = layer_label(layer, class_name) + ": ";
  if (config.contains("dtype") && !config["dtype"].is_null()) {
    const std::string name = policy_name(config["dtype"]);
    if (name != "float32")
      throw InputError(where + "dtype " + (config["dtype"].is_string() ? "\"" + name + "\"" : name) +
                       " is not supported; plugfit computes in float32");
  }
  for (const char* key : {"lora_rank", "quantization_config"})
    if (config.contains(key) && !config[key].is_null())
      throw InputError(where + key + " " + config[key].dump() + " is not supported; plugfit trains every weight in full");
  // lora_rank is null here, and without one Keras never reads lora_alpha either.
  if (config.contains("lora_alpha") && !config["lora_alpha"].is_null() && !config["lora_alpha"].is_number())
    throw InputError(where + "lora_alpha must be a number or null, got " + config["lora_alpha"].dump());
  if (config.contains("autocast") && !config["autocast"].is_boolean())
    throw InputError(where + "autocast must be true or false, got " + config["autocast"].dump());
}

void reject_keras_extras(Config& config, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    if (config.has(key))
      throw InputError(config.type_name() + ": the option \"" + key + "\" is not supported by plugfit (use null)");
    config.accept({key});
  }
}

}  // namespace plugfit
