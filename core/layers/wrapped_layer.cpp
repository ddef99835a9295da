#include "wrapped_layer.hpp"

#include <plugfit/registry.hpp>

#include "../model/sequential.hpp"
#include "keras_options.hpp"

namespace plugfit {

InnerLayer make_inner_layer(const Config& wrapper, const Json& spec, const std::string& at, const std::string& key) {
  if (!spec.is_object() || !spec.contains("class_name") || !spec["class_name"].is_string())
    throw InputError(at + "\"" + key + "\" must be {\"class_name\": ..., \"config\": {...}}, got " + spec.dump());
  if (!wrapper.registry()) throw InputError(at + "needs a registry to build its inner layer");
  const std::string class_name = spec["class_name"].get<std::string>();
  const Json inner_config = spec.value("config", Json::object());
  Json own = inner_config;
  if (own.is_object()) {
    for (const char* k : {"name", "trainable", "input_shape", "batch_input_shape", "batch_shape", "input_dim"})
      own.erase(k);
    for (const char* k : kKerasPrecisionKeys) own.erase(k);
  }
  InnerLayer inner;
  try {
    inner.layer = wrapper.registry()->create_layer(class_name, own);
  } catch (const InputError& e) {
    throw InputError(at + "its " + key + " (" + class_name + "): " + e.what());
  }
  inner.class_name = wrapper.registry()->resolve(TypeKind::layer, class_name).name;
  const bool named = inner_config.is_object() && inner_config.contains("name") && inner_config["name"].is_string();
  inner.layer->set_name(named ? inner_config["name"].get<std::string>() : keras_snake_case(inner.class_name));
  check_keras_precision_options(inner_config, inner.layer->name(), inner.class_name);
  inner.trainable = !(inner_config.is_object() && inner_config.value("trainable", Json(true)) == Json(false));
  return inner;
}

}  // namespace plugfit
