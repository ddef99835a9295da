#include "keras_config.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <regex>

namespace plugfit_hdf5 {

namespace {

using plugfit::Json;
using KJson = KerasJson;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Keras's naming.to_snake_case: "Dense" -> "dense", "InputLayer" -> "input_layer", "Conv2D" ->
// "conv2d", "LSTM" -> "lstm".
std::string snake_case(const std::string& name) {
  std::string s = std::regex_replace(name, std::regex(R"(\W+)"), "");
  s = std::regex_replace(s, std::regex("(.)([A-Z][a-z]+)"), "$1_$2");
  s = std::regex_replace(s, std::regex("([a-z])([A-Z])"), "$1_$2");
  return lower(s);
}

std::string bare_class(const std::string& cls) {
  const auto arrow = cls.find('>');
  return arrow == std::string::npos ? cls : cls.substr(arrow + 1);
}

std::string next_name(std::map<std::string, int>& seen, const std::string& base) {
  const int n = seen[base]++;
  return n == 0 ? base : base + "_" + std::to_string(n);
}

Json spec_config(const Json& spec) {
  return spec.is_object() && spec.contains("config") && spec["config"].is_object() ? spec["config"] : Json::object();
}
std::string spec_class(const Json& spec) {
  if (spec.is_string()) return spec.get<std::string>();
  return spec.is_object() ? spec.value("class_name", std::string()) : std::string();
}

KJson dtype_policy() {
  return {{"module", "keras"}, {"class_name", "DTypePolicy"}, {"config", {{"name", "float32"}}}, {"registered_name", nullptr}};
}

// plugfit's initializer (a name or {"class_name", "config"}) as Keras 3 serializes one.
KJson keras_initializer(const Json& spec) {
  static const std::map<std::string, std::string> classes = {
      {"glorot_uniform", "GlorotUniform"}, {"glorot_normal", "GlorotNormal"}, {"he_uniform", "HeUniform"},
      {"he_normal", "HeNormal"},           {"lecun_uniform", "LecunUniform"}, {"lecun_normal", "LecunNormal"},
      {"zeros", "Zeros"},                  {"ones", "Ones"},                  {"orthogonal", "Orthogonal"}};
  std::string cls = spec_class(spec);
  KJson config = KJson(spec_config(spec));
  if (const auto it = classes.find(cls); it != classes.end()) cls = it->second;
  if (cls != "Zeros" && cls != "Ones" && cls != "Constant" && !config.contains("seed")) config["seed"] = nullptr;
  return {{"module", "keras.initializers"}, {"class_name", cls}, {"config", config}, {"registered_name", nullptr}};
}

// Keras's name for a plugfit activation: the same unless Keras's function differs. plugfit's
// hard_sigmoid is Keras 3's relu6(x + 3) / 6; "hard_sigmoid_keras2" (Keras 2's 0.2x + 0.5) and
// "gelu_approximate" have no Keras 3 name and are kept as plugfit names them (Keras cannot
// load such a layer; plugfit reads it back).
KJson keras_activation(const Json& activation) {
  if (!activation.is_string()) return activation;
  return activation.get<std::string>() == "None" ? KJson("linear") : KJson(activation);
}

using Dims = std::optional<std::vector<KJson>>;  // a batch shape, [null, d1, ...]; nullopt when unknown

// Keras 3's full config of one layer, and the shape it outputs.
KJson keras_layer_config(const std::string& cls, Json config, const std::string& name, const Dims& input, Dims& output) {
  KJson out = {{"name", name}, {"trainable", config.value("trainable", true)}, {"dtype", dtype_policy()}};
  output = input;
  if (cls == "Dense") {
    const Json units = config.value("units", Json(1));
    out.update({{"units", units},
                {"activation", keras_activation(config.value("activation", Json("linear")))},
                {"use_bias", config.value("use_bias", true)},
                {"kernel_initializer", keras_initializer(config.value("kernel_initializer", Json("glorot_uniform")))},
                {"bias_initializer", keras_initializer(config.value("bias_initializer", Json("zeros")))},
                {"kernel_regularizer", nullptr},
                {"bias_regularizer", nullptr},
                {"kernel_constraint", nullptr},
                {"bias_constraint", nullptr}});
    if (output) output->back() = KJson(units);
  } else if (cls == "Dropout") {
    out.update({{"rate", config.value("rate", 0.0)}, {"seed", config.value("seed", Json())}, {"noise_shape", nullptr}});
  } else if (cls == "Flatten") {
    out["data_format"] = "channels_last";
    if (output) {
      long long size = 1;
      for (std::size_t i = 1; i < output->size(); ++i) size *= (*output)[i].is_number() ? (*output)[i].get<long long>() : 0;
      output = std::vector<KJson>{nullptr, size};
    }
  } else if (cls == "Activation") {
    out["activation"] = keras_activation(config.value("activation", Json("linear")));
  } else {
    // A plugin layer or one plugfit knows Keras lacks: its config as plugfit has it.
    for (const auto& [key, value] : config.items())
      if (key != "input_shape" && key != "batch_input_shape" && key != "batch_shape") out[key] = KJson(value);
    output.reset();
  }
  return out;
}

std::vector<KJson> batch_of(const Json& input_shape) {
  std::vector<KJson> dims{nullptr};
  if (input_shape.is_array())
    for (const auto& d : input_shape) dims.push_back(KJson(d));
  return dims;
}

// A loss or metric as Keras's compile_config holds what compile() was given: plugfit's
// {"class_name": "accuracy", "config": {}} was the string "accuracy"; objects stay objects.
Json as_given(const Json& spec) {
  if (spec.is_object() && spec.size() == 2 && spec.contains("class_name") && spec["class_name"].is_string() &&
      spec.contains("config") && spec["config"].is_object() && spec["config"].empty())
    return spec["class_name"];
  return spec;
}

}  // namespace

std::string python_json_text(const KJson& j) {
  if (j.is_object()) {
    std::string out = "{";
    for (auto it = j.begin(); it != j.end(); ++it)
      out += (it == j.begin() ? "" : ", ") + KJson(it.key()).dump(-1, ' ', true) + ": " + python_json_text(*it);
    return out + "}";
  }
  if (j.is_array()) {
    std::string out = "[";
    for (std::size_t i = 0; i < j.size(); ++i) out += (i == 0 ? "" : ", ") + python_json_text(j[i]);
    return out + "]";
  }
  return j.dump(-1, ' ', true);
}

std::string keras_version_for(KerasJsonStyle style) { return style == KerasJsonStyle::archive ? "3.10.0" : "3.8.0"; }

std::string keras_model_name(const Json& info) {
  const Json keras = info.value("keras", Json::object());
  return keras.is_object() && keras.contains("model_name") && keras["model_name"].is_string()
             ? keras["model_name"].get<std::string>()
             : "sequential";
}

std::vector<KerasLayerName> keras_layer_names(const Json& info) {
  std::vector<KerasLayerName> out;
  const Json model = info.value("model", Json::object());
  const Json layers = model.is_object() ? spec_config(model).value("layers", Json::array()) : Json::array();
  std::map<std::string, int> default_names;
  std::map<std::string, int> groups;
  for (const auto& spec : layers) {
    const std::string cls = spec_class(spec);
    if (cls == "InputLayer") continue;
    const Json config = spec_config(spec);
    const std::string base = snake_case(bare_class(cls));
    const std::string name = config.contains("name") && config["name"].is_string() ? config["name"].get<std::string>()
                                                                                    : next_name(default_names, base);
    out.push_back({name, cls, next_name(groups, base)});
  }
  return out;
}

KJson keras_model_config(const Json& info, KerasJsonStyle style) {
  const bool archive = style == KerasJsonStyle::archive;
  const Json model = info.value("model", Json::object());
  const Json specs = spec_config(model).value("layers", Json::array());
  const std::vector<KerasLayerName> names = keras_layer_names(info);
  Dims shape = batch_of(info.value("input_shape", Json::array()));
  const KJson build_shape = KJson(*shape);

  KJson input_config = {{"batch_shape", build_shape}, {"dtype", "float32"}, {"sparse", false}};
  if (archive) input_config["ragged"] = false;
  input_config["name"] = "input_layer";
  KJson layers = KJson::array();
  auto wrap = [&](const std::string& cls, KJson config, const std::string& module, const KJson& registered,
                  const Dims& built) {
    KJson layer = KJson::object();
    if (archive) layer["module"] = module;
    layer["class_name"] = cls;
    layer["config"] = std::move(config);
    if (archive) {
      layer["registered_name"] = registered;
      // Keras 3.10 builds Dropout when it is made (w16's config.json has no build_config for it).
      if (built && cls != "InputLayer" && cls != "Dropout") layer["build_config"] = {{"input_shape", *built}};
    }
    layers.push_back(std::move(layer));
  };
  wrap("InputLayer", input_config, "keras.layers", nullptr, std::nullopt);
  std::size_t index = 0;
  for (const auto& spec : specs) {
    const std::string cls = spec_class(spec);
    if (cls == "InputLayer") continue;
    Dims next;
    KJson config = keras_layer_config(cls, spec_config(spec), names[index++].name, shape, next);
    const bool plugin = cls.find('>') != std::string::npos;
    wrap(plugin ? cls.substr(cls.find('>') + 1) : cls, std::move(config), plugin ? "" : "keras.layers",
         plugin ? KJson(cls) : KJson(), shape);
    shape = next;
  }
  KJson body = {{"name", keras_model_name(info)}, {"trainable", true}, {"dtype", dtype_policy()},
               {"layers", layers}, {"build_input_shape", build_shape}};
  KJson out = KJson::object();
  if (archive) out["module"] = "keras";
  out["class_name"] = "Sequential";
  out["config"] = std::move(body);
  if (archive) {
    out["registered_name"] = nullptr;
    out["build_config"] = {{"input_shape", build_shape}};
    const KJson compile = keras_compile_config(info, style);
    if (!compile.is_null()) out["compile_config"] = compile;
  }
  return out;
}

std::optional<std::string> keras_optimizer_class(const Json& info) {
  const Json compile = info.value("compile", Json::object());
  if (!compile.is_object()) return std::nullopt;
  const std::string cls = lower(spec_class(compile.value("optimizer", Json("Adam"))));
  if (cls == "adam") return "Adam";
  if (cls == "sgd") return "SGD";
  if (cls == "rmsprop") return "RMSprop";
  return std::nullopt;
}

std::string keras_slot_name(const std::string& keras_class, const std::string& plugfit_slot) {
  if (keras_class == "Adam") {
    if (plugfit_slot == "m") return "momentum";
    if (plugfit_slot == "v") return "velocity";
    if (plugfit_slot == "v_hat") return "velocity_hat";
  }
  return plugfit_slot;  // SGD's momentum, RMSprop's velocity, momentum and average_gradient
}

std::vector<std::vector<std::string>> keras_slot_order(const std::string& keras_class, const Json& info) {
  const Json config = spec_config(info.value("compile", Json::object()).value("optimizer", Json()));
  if (keras_class == "Adam") {
    if (config.value("amsgrad", false)) return {{"m", "v"}, {"v_hat"}};
    return {{"m", "v"}};
  }
  if (keras_class == "SGD") {
    if (config.value("momentum", 0.0) > 0.0) return {{"momentum"}};
    return {};
  }
  std::vector<std::vector<std::string>> out{{"velocity"}};
  if (config.value("momentum", 0.0) > 0.0) out.push_back({"momentum"});
  if (config.value("centered", false)) out.push_back({"average_gradient"});
  return out;
}

KJson keras_compile_config(const Json& info, KerasJsonStyle style) {
  const bool archive = style == KerasJsonStyle::archive;
  const Json compile = info.value("compile", Json());
  if (!compile.is_object() || compile.empty()) return KJson();
  const Json opt_spec = compile.value("optimizer", Json("Adam"));
  const Json given = spec_config(opt_spec);
  const auto keras_class = keras_optimizer_class(info);
  std::string cls = keras_class ? *keras_class : spec_class(opt_spec);
  // Keras 3's base optimizer options in its order, plugfit's values where it has them (plugfit
  // takes the same names); options Keras lacks ("decay") stay in the plugfit group's info only.
  KJson config = {{"name", lower(cls)},
                  {"learning_rate", KJson(given.value("learning_rate", given.value("lr", Json(0.001))))}};
  const std::pair<const char*, Json> base[] = {{"weight_decay", Json()},
                                               {"clipnorm", Json()},
                                               {"global_clipnorm", Json()},
                                               {"clipvalue", Json()},
                                               {"use_ema", Json(false)},
                                               {"ema_momentum", Json(0.99)},
                                               {"ema_overwrite_frequency", Json()},
                                               {"loss_scale_factor", Json()},
                                               {"gradient_accumulation_steps", Json()}};
  for (const auto& [key, fallback] : base) config[key] = KJson(given.value(key, fallback));
  if (cls == "Adam") {
    config.update({{"beta_1", given.value("beta_1", 0.9)}, {"beta_2", given.value("beta_2", 0.999)},
                   {"epsilon", given.value("epsilon", 1e-7)}, {"amsgrad", given.value("amsgrad", false)}});
  } else if (cls == "SGD") {
    config.update({{"momentum", given.value("momentum", 0.0)}, {"nesterov", given.value("nesterov", false)}});
  } else if (cls == "RMSprop") {
    config.update({{"rho", given.value("rho", 0.9)}, {"momentum", given.value("momentum", 0.0)},
                   {"epsilon", given.value("epsilon", 1e-7)}, {"centered", given.value("centered", false)}});
  } else {
    config.update(KJson(given));  // an optimizer Keras lacks: its options as plugfit has them
  }
  KJson optimizer = KJson::object();
  if (archive) optimizer["module"] = keras_class ? "keras.optimizers" : "";
  optimizer["class_name"] = cls;
  optimizer["config"] = config;
  if (archive) optimizer["registered_name"] = keras_class ? KJson() : KJson("plugfit>" + cls);
  Json given_metrics = Json::array();
  for (const auto& m : compile.value("metrics", Json::array())) given_metrics.push_back(as_given(m));
  KJson metrics = KJson(given_metrics);
  KJson out = KJson::object();
  if (archive) out["optimizer"] = optimizer;
  out.update({{"loss", KJson(as_given(compile.value("loss", Json("sparse_categorical_crossentropy"))))},
              {"loss_weights", nullptr},
              {"metrics", metrics},
              {"weighted_metrics", nullptr},
              {"run_eagerly", false},
              {"steps_per_execution", 1},
              {"jit_compile", false}});
  if (!archive) out["optimizer_config"] = {{"class_name", cls}, {"config", config}};
  return out;
}

}  // namespace plugfit_hdf5
