#include "keras_import.hpp"
#include "keras_bidirectional.hpp"

#include <plugfit/keras_config.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "keras_sequence.hpp"

namespace plugfit_hdf5 {

namespace {

using plugfit::CheckpointRecord;
using plugfit::InputError;
using plugfit::Json;
using plugfit::NamedTensor;

// Keras layer classes that plugfit's built-in layers read with the same config and weights.
const std::set<std::string>& plugfit_equivalents() {
  static const std::set<std::string> names = {
      "Activation",       "Dense",
      "Dropout",          "Flatten",
      "InputLayer",       "Conv2D",           "Bidirectional",
      "DepthwiseConv2D",  "SeparableConv2D",
      "Conv2DTranspose",  "MaxPooling2D",
      "AveragePooling2D", "GlobalAveragePooling2D",
      "GlobalMaxPooling2D", "BatchNormalization",
      "Reshape",          "ZeroPadding2D",
      "Cropping2D",       "UpSampling2D",
      "SpatialDropout2D", "Rescaling",
      "Normalization",    "Resizing",
      "RandomFlip",       "RandomRotation",
      "RandomZoom",       "RandomTranslation",
      "RandomContrast"};
  static const std::set<std::string> with_sequences = [] {
    std::set<std::string> all = names;
    all.insert(keras_sequence_classes().begin(), keras_sequence_classes().end());
    return all;
  }();
  return with_sequences;
}

// "sequential_2/dense_6/kernel" -> "kernel"; "dense_1/kernel:0" -> "kernel" (TensorFlow's
// ":0" output index is not part of a weight's name).
std::string strip_output_index(std::string name) {
  const auto colon = name.rfind(':');
  if (colon != std::string::npos && colon + 1 < name.size() &&
      std::all_of(name.begin() + static_cast<std::ptrdiff_t>(colon) + 1, name.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }))
    name.resize(colon);
  return name;
}
std::string last_component(const std::string& name) { return name.substr(name.rfind('/') + 1); }

Json parse_json_attr(hid_t obj, const std::string& name, const std::string& file_label) {
  const std::string text = read_string_attr(obj, name);
  try {
    return Json::parse(text);
  } catch (const std::exception&) {
    throw InputError(file_label + ": the attribute " + name + " is not JSON");
  }
}

// Keras's load_weights reads group[layer][weight_name] for each name in the attributes.
KerasWeights read_weights(hid_t group) {
  KerasWeights out;
  for (const auto& layer : read_string_list_attr(group, "layer_names")) {
    const Handle g = open_group(group, layer);
    Json entry = {{"name", layer}, {"weights", Json::array()}};
    const std::vector<std::string> names = has_attr(g, "weight_names") || has_attr(g, "weight_names0")
                                               ? read_string_list_attr(g, "weight_names")
                                               : std::vector<std::string>{};
    for (const auto& weight : names) {
      const std::string what = "the weight \"" + layer + "/" + weight + "\"";
      const Handle dataset = open_dataset(g, weight);
      NamedTensor t;
      t.name = "weights/" + layer + "/" + keras_bidirectional_h5_weight(layer, weight).value_or(strip_output_index(last_component(weight)));
      t.shape = dataset_shape(dataset);
      t.values = read_floats(dataset, t.shape, what);
      for (const auto& other : out.tensors)
        if (other.name == t.name) throw H5Failure("the layer \"" + layer + "\" has two weights named " + t.name);
      entry["weights"].push_back(t.name);
      out.tensors.push_back(std::move(t));
    }
    out.layers.push_back(std::move(entry));
  }
  return out;
}

// The shape dims declare; nothing when a dimension is not fixed, with the reason in unfixed and,
// when every such dimension is null (a sequence of any length: Keras builds the model when it
// first sees data), the batch shape in open.
std::optional<Shape> shape_from(const Json& dims, bool has_batch, const std::string& file_label, std::string& unfixed,
                                Json& open) {
  Shape shape;
  bool any_length = true;
  for (std::size_t i = has_batch ? 1 : 0; i < dims.size(); ++i) {
    if (!dims[i].is_number_integer() || dims[i].get<long long>() <= 0) {
      unfixed = file_label + ": the model's input shape " + dims.dump() + " has a dimension that is not fixed";
      any_length = any_length && dims[i].is_null();
      continue;
    }
    shape.push_back(dims[i].get<std::size_t>());
  }
  if (shape.size() + (has_batch ? 1 : 0) == dims.size()) return shape;
  if (any_length && open.is_null()) {
    open = Json::array();
    if (!has_batch) open.push_back(nullptr);
    for (const auto& d : dims) open.push_back(d);
  }
  return std::nullopt;
}

}  // namespace

std::pair<Json, std::optional<Shape>> keras_model_to_plugfit(const Json& config, const std::string& file_label) {
  const std::string class_name = config.value("class_name", std::string());
  if (class_name != "Sequential")
    throw InputError(file_label + " holds a Keras " + (class_name.empty() ? "model of unknown class" : class_name) +
                     " model; plugfit reads Sequential models only");
  const Json body = config.value("config", Json::object());
  // Keras up to 2.2 wrote a Sequential's config as the bare list of layers.
  const Json specs = body.is_array() ? body : body.value("layers", Json::array());
  if (specs.empty()) throw InputError(file_label + ": the Keras model has no layers");
  Json layers = Json::array();
  Json lacking = Json::array();
  for (std::size_t i = 0; i < specs.size(); ++i) {
    Json spec = plugfit::keras_layer_spec(specs[i]);
    normalize_keras_bidirectional(spec);
    const std::string cls = spec.value("class_name", std::string());
    // tf.keras 2 writes BatchNormalization's axis as a list ([3]); Keras 3's is the one integer.
    if (cls == "BatchNormalization" && spec.contains("config") && spec["config"].is_object() &&
        spec["config"].contains("axis")) {
      Json& axis = spec["config"]["axis"];
      if (axis.is_array() && axis.size() == 1 && axis[0].is_number_integer()) axis = Json(axis[0]);
    }
    if (spec.contains("config") && spec["config"].is_object()) {
      const Json name = spec["config"].value("name", Json());
      sequence_config_from_keras(cls, spec["config"],
                                 file_label + ": layer " + std::to_string(i) +
                                     (name.is_string() ? " \"" + name.get<std::string>() + "\"" : std::string()));
    }
    const Json registered = spec.value("registered_name", Json());
    if (registered.is_string() && registered.get<std::string>().find('>') != std::string::npos &&
        registered.get<std::string>() != cls) {
      spec["class_name"] = registered;  // Keras's "package>Name" is plugfit's "plugin>Type"
    } else if (plugfit_equivalents().count(cls) == 0) {
      // A Keras layer plugfit lacks (LSTM, Conv2D, ...): the file still opens (inspect lists it,
      // its config kept as Keras wrote it); building the model refuses it by name.
      const Json name = spec.value("config", Json::object()).value("name", Json(""));
      lacking.push_back({{"index", i}, {"name", name.is_string() ? name : Json("")}, {"class_name", cls}});
    }
    layers.push_back(std::move(spec));
  }
  // The input shape: the InputLayer's (or first layer's) batch shape, else the model's build shape.
  const Json first = layers[0].value("config", Json::object());
  std::optional<Shape> input;
  std::string unfixed;
  Json open;
  for (const char* key : {"batch_shape", "batch_input_shape"})
    if (!input && first.contains(key) && first[key].is_array()) input = shape_from(first[key], true, file_label, unfixed, open);
  if (!input && first.contains("input_shape") && first["input_shape"].is_array())
    input = shape_from(first["input_shape"], false, file_label, unfixed, open);
  // Embedding's input_dim is its vocabulary, not Keras 2's input-shape shortcut: its input_length is.
  const bool embedding = layers[0].value("class_name", std::string()) == "Embedding";
  const char* const length_key = embedding ? "input_length" : "input_dim";
  if (!input && first.contains(length_key) && first[length_key].is_number_integer())
    input = shape_from(Json::array({first[length_key]}), false, file_label, unfixed, open);
  if (!input && body.is_object() && body.contains("build_input_shape") && body["build_input_shape"].is_array())
    input = shape_from(body["build_input_shape"], true, file_label, unfixed, open);
  Json model = {{"class_name", "Sequential"}, {"config", {{"layers", layers}}}};
  if (!lacking.empty()) {
    model["keras_layers_plugfit_lacks"] = {{"file", file_label}, {"layers", lacking}};
    return {model, input};  // refused by name when built; inspect lists it whatever its input
  }
  if (!input && open.is_array()) {
    model["keras_input_batch_shape"] = open;  // built from the data's shape (predict, evaluate)
    return {model, input};
  }
  if (!input)
    throw InputError(unfixed.empty() ? file_label + ": the Keras model declares no input shape" : unfixed);
  return {model, input};
}


std::vector<std::string> positional_slots(const std::string& optimizer) {
  if (optimizer == "adam") return {"m", "v"};
  if (optimizer == "rmsprop") return {"velocity"};
  if (optimizer == "sgd") return {"momentum"};
  return {};
}

namespace {

// Keras's names for optimizer slots, per plugfit optimizer, as plugfit's slot names. Keras 3
// names a slot variable "<weight path with _>_<slot>", tf.keras 2 "<Opt>/<weight path>/<slot>:0".
std::map<std::string, std::string> slot_names(const std::string& optimizer) {
  if (optimizer == "adam") return {{"momentum", "m"}, {"velocity", "v"}, {"m", "m"}, {"v", "v"}};
  if (optimizer == "sgd") return {{"momentum", "momentum"}};
  if (optimizer == "rmsprop")
    return {{"velocity", "velocity"},
            {"rms", "velocity"},
            {"momentum", "momentum"},
            {"average_gradient", "average_gradient"},
            {"mg", "average_gradient"}};
  return {};
}

std::string keras_slot_of(const std::string& variable) {
  const std::string last = strip_output_index(last_component(variable));
  for (const char* slot : {"velocity_hat", "average_gradient", "momentum", "velocity", "vhat", "rms", "mg", "m", "v"}) {
    const std::string s = slot;
    if (last == s) return s;
    if (s.size() > 2 && last.size() > s.size() + 1 &&
        last.compare(last.size() - s.size() - 1, s.size() + 1, "_" + s) == 0)
      return s;
  }
  return "";
}

// Keras 2.0-2.2's "training/Adam/Variable_3:0", Keras 2.3's "accumulator_3:0" / "m_3:0": a
// variable known by its position only ("vhat" ones are Adam's placeholders).
bool is_anonymous(const std::string& variable) {
  const std::string last = strip_output_index(last_component(variable));
  if (last == "Variable") return true;
  const auto underscore = last.rfind('_');
  if (underscore == std::string::npos || underscore + 1 == last.size() ||
      !std::all_of(last.begin() + static_cast<std::ptrdiff_t>(underscore) + 1, last.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }))
    return false;
  const std::string stem = last.substr(0, underscore);
  return stem == "Variable" || stem == "accumulator" || stem == "moment" || stem == "m" || stem == "v" || stem == "vhat";
}

// tf.keras 2.11-2.15's "Adam/m/dense_3/kernel:0": the slot is the second component.
std::string slot_after_optimizer(const std::string& variable) {
  const auto first = variable.find('/');
  if (first == std::string::npos) return "";
  const auto second = variable.find('/', first + 1);
  if (second == std::string::npos) return "";
  return variable.substr(first + 1, second - first - 1);
}

// Keras 3 names DepthwiseConv2D's kernel "kernel" (tf.keras 2 and plugfit: "depthwise_kernel").
void name_depthwise_kernels(KerasParts& parts) {
  const Json body = parts.model_config.is_object() ? parts.model_config.value("config", Json::object()) : Json();
  const Json specs = body.is_object() ? body.value("layers", Json::array()) : body.is_array() ? body : Json::array();
  std::set<std::string> depthwise;
  for (const auto& spec : specs)
    if (spec.is_object() && spec.value("class_name", std::string()) == "DepthwiseConv2D") {
      const Json name = spec.value("config", Json::object()).value("name", Json());
      if (name.is_string()) depthwise.insert("weights/" + name.get<std::string>() + "/kernel");
    }
  if (depthwise.empty()) return;
  for (auto& t : parts.weights.tensors)
    if (depthwise.count(t.name) != 0) t.name = t.name.substr(0, t.name.size() - 6) + "depthwise_kernel";
  for (auto& layer : parts.weights.layers)
    for (auto& name : layer["weights"])
      if (depthwise.count(name.get<std::string>()) != 0)
        name = name.get<std::string>().substr(0, name.get<std::string>().size() - 6) + "depthwise_kernel";
}

// optimizer_weights/<name> for each name in its weight_names: the step count, the learning rate,
// and per plugfit slot one tensor per model weight, matched to the weights in order.
OptimizerState read_optimizer(hid_t file, const Json& compile, const std::vector<NamedTensor>& all_weights) {
  OptimizerState state;
  // Keras keeps slots for trainable weights only: BatchNormalization's moving statistics and
  // Normalization's adapted statistics have none.
  static const std::set<std::string> statistics = {"moving_mean", "moving_variance", "mean", "variance", "count"};
  std::vector<NamedTensor> weights;
  for (const auto& w : all_weights)
    if (statistics.count(last_component(w.name)) == 0) weights.push_back({w.name, w.shape, {}});
  const Handle group = open_group(file, "optimizer_weights");
  std::string optimizer = compile.value("optimizer", Json::object()).value("class_name", std::string());
  std::transform(optimizer.begin(), optimizer.end(), optimizer.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  const auto slots = slot_names(optimizer);
  if (slots.empty()) {
    state.reason =
        "plugfit does not read the state of a Keras " + (optimizer.empty() ? "unknown" : optimizer) + " optimizer";
    return state;
  }
  std::map<std::string, std::vector<NamedTensor>> by_slot;
  std::vector<NamedTensor> anonymous;
  for (const auto& name : read_string_list_attr(group, "weight_names")) {
    const Handle dataset = open_dataset(group, name);
    const Shape shape = dataset_shape(dataset);
    const std::string last = strip_output_index(last_component(name));
    const std::string what = "the optimizer weight \"" + name + "\"";
    if (shape.empty()) {
      if (last == "iteration" || last == "iterations" || last == "iter")
        state.iterations = read_scalar_int(dataset, what);
      else if (last == "learning_rate" || last == "lr")
        state.learning_rate = read_scalar_double(dataset, what);
      continue;  // other scalars are hyperparameters (beta_1, decay, ...) that the config holds too
    }
    if (is_anonymous(name)) {
      anonymous.push_back({name, shape, read_floats(dataset, shape, what)});
      continue;
    }
    auto slot = slots.find(keras_slot_of(name));
    if (slot == slots.end()) slot = slots.find(slot_after_optimizer(name));
    if (slot == slots.end()) {
      state.reason = "the optimizer weight \"" + name + "\" is no slot plugfit's " + optimizer + " has";
      return state;
    }
    NamedTensor t{"", shape, read_floats(dataset, shape, what)};
    by_slot[slot->second].push_back(std::move(t));
  }
  if (!anonymous.empty()) {
    if (!by_slot.empty()) {
      state.reason = "optimizer_weights mixes named slots with anonymous variables such as \"" + anonymous[0].name + "\"";
      return state;
    }
    const std::vector<std::string> order = positional_slots(optimizer);
    const std::size_t wanted = order.size() * weights.size();
    if (anonymous.size() < wanted) {
      state.reason = "optimizer_weights holds " + std::to_string(anonymous.size()) + " anonymous variables, fewer than the " +
                     std::to_string(wanted) + " a Keras " + optimizer + " keeps for " + std::to_string(weights.size()) + " weights";
      return state;
    }
    for (std::size_t i = wanted; i < anonymous.size(); ++i)
      if (anonymous[i].shape != Shape{1}) {
        state.reason = "the optimizer weight \"" + anonymous[i].name + "\" is beyond the " + std::to_string(wanted) +
                       " slots a Keras " + optimizer + " keeps (plugfit reads no amsgrad state)";
        return state;
      }
    for (std::size_t i = 0; i < wanted; ++i) by_slot[order[i / weights.size()]].push_back(std::move(anonymous[i]));
  }
  if (state.iterations < 0) {
    state.reason = "optimizer_weights holds no iteration count";
    return state;
  }
  for (auto& [slot, tensors] : by_slot) {
    if (tensors.size() != weights.size()) {
      state.reason = "optimizer_weights holds " + std::to_string(tensors.size()) + " \"" + slot + "\" slot(s) for " +
                     std::to_string(weights.size()) + " weights";
      return state;
    }
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      if (tensors[i].shape != weights[i].shape) {
        state.reason = "the \"" + slot + "\" slot " + std::to_string(i) + " has shape " +
                       plugfit::full_shape_str(tensors[i].shape) + " but the weight " + weights[i].name + " has " +
                       plugfit::full_shape_str(weights[i].shape);
        return state;
      }
      tensors[i].name = "optimizer/" + slot + "/" + weights[i].name.substr(std::string("weights/").size());
    }
  }
  for (auto& [slot, tensors] : by_slot)
    for (auto& t : tensors) state.tensors.push_back(std::move(t));
  state.complete = true;
  return state;
}

// Keras's version as (major, minor); (3, 0) when the file does not say (Keras 3's .weights.h5
// has no attributes). tf.keras 1.x wrote "2.2.4-tf": its optimizers are TensorFlow's (v2).
struct KerasEra {
  int major = 3, minor = 0;
  bool tf_keras = false;
  // Standalone Keras 1.x-2.3 (not tf.keras): its own optimizer updates and Keras 2's hard_sigmoid.
  bool standalone_keras2() const { return !tf_keras && (major < 2 || (major == 2 && minor < 4)); }
};
KerasEra keras_era(const Json& keras) {
  KerasEra era;
  const Json version = keras.value("keras_version", Json());
  if (!version.is_string()) return era;
  const std::string text = version.get<std::string>();
  int major = 0, minor = 0;
  if (std::sscanf(text.c_str(), "%d.%d", &major, &minor) != 2) return era;
  era.major = major;
  era.minor = minor;
  era.tf_keras = text.find("-tf") != std::string::npos;
  return era;
}

}  // namespace

bool is_keras_file(hid_t file) { return path_exists(file, "model_weights") || has_attr(file, "layer_names"); }

CheckpointRecord keras_record(const KerasParts& parts, const std::string& file_label) {
  CheckpointRecord record;
  Json& info = record.info;
  info = {{"format", 1}, {"kind", "weights"}, {"epoch", 0}, {"metrics", Json::object()}, {"plugins", Json::object()}};
  Json keras = parts.keras;
  keras["weights_by_position"] = true;
  keras["file"] = file_label;  // for the messages about the file that core gives later
  Json compile;
  if (!parts.model_config.is_null()) {
    auto [model, input_shape] = keras_model_to_plugfit(parts.model_config, file_label);
    const Json version = parts.keras.value("keras_version", Json(""));
    plugfit::apply_keras_era(model["config"]["layers"], version.is_string() ? version.get<std::string>() : "");
    if (model.contains("keras_input_batch_shape")) {
      keras["input_batch_shape"] = model["keras_input_batch_shape"];
      model.erase("keras_input_batch_shape");
    }
    if (model.contains("keras_layers_plugfit_lacks")) {
      keras["layers_plugfit_lacks"] = model["keras_layers_plugfit_lacks"];
      model.erase("keras_layers_plugfit_lacks");
    }
    info["model"] = std::move(model);
    if (input_shape) info["input_shape"] = *input_shape;
    if (!parts.training_config.is_null()) compile = plugfit::compile_config_from_keras(parts.training_config);
    // Keras <= 2.3's RMSprop divides by sqrt(a) + epsilon; plugfit's default is tf.keras's and
    // Keras 3's sqrt(a + epsilon).
    if (compile.is_object() && compile.contains("optimizer") && keras_era(parts.keras).standalone_keras2() &&
        compile["optimizer"].value("class_name", std::string()) == "RMSprop")
      compile["optimizer"]["config"]["epsilon_outside_sqrt"] = true;
    if (!compile.is_null()) info["compile"] = compile;
  }
  keras["layers"] = parts.weights.layers;
  record.tensors = parts.weights.tensors;
  const OptimizerState& state = parts.optimizer;
  if (state.complete) {
    const Json optimizer_config =
        compile.is_object() ? compile.value("optimizer", Json::object()).value("config", Json::object()) : Json::object();
    const double learning_rate =
        state.learning_rate.value_or(optimizer_config.value("learning_rate", optimizer_config.value("lr", 0.001)));
    info["kind"] = "full";
    info["optimizer"] = {{"iterations", state.iterations}, {"learning_rate", learning_rate}};
    // Keras keeps no epoch or generator state: resume at epoch 0 with the optimizer's step
    // count, and any non-zero generator state (xoshiro's all-zero state is invalid).
    info["training"] = {
        {"epoch", 0}, {"batch", 0}, {"global_step", state.iterations}, {"seed", 0}, {"rng", {0, 0, 0, 1}}};
    info["callbacks"] = Json::object();
    for (const auto& t : state.tensors) record.tensors.push_back(t);
  } else if (!state.reason.empty()) {
    keras["optimizer_state"] = state.reason;
  }
  info["keras"] = std::move(keras);
  return record;
}

CheckpointRecord import_keras(hid_t file, const std::string& file_label) {
  if (!is_keras_file(file)) {
    const bool keras3_weights = path_exists(file, "layers") || path_exists(file, "vars");
    throw InputError(file_label +
                     " is an HDF5 file but neither a plugfit checkpoint file (no /checkpoints group) nor " +
                     "a Keras .h5 file (no model_weights group, no layer_names attribute)" +
                     (keras3_weights ? "; it looks like a Keras 3 .weights.h5 file, which plugfit does not read" : ""));
  }
  KerasParts parts;
  for (const char* key : {"keras_version", "backend"})
    if (has_attr(file, key)) parts.keras[key] = read_string_attr(file, key);
  if (has_attr(file, "model_config")) {
    parts.model_config = parse_json_attr(file, "model_config", file_label);
    if (has_attr(file, "training_config")) parts.training_config = parse_json_attr(file, "training_config", file_label);
  }
  const bool nested = path_exists(file, "model_weights");
  parts.weights = read_weights(nested ? open_group(file, "model_weights") : open_group(file, "/"));
  name_depthwise_kernels(parts);
  const Json compile = parts.model_config.is_null() ? Json() : plugfit::compile_config_from_keras(parts.training_config);
  if (!compile.is_null() && path_exists(file, "optimizer_weights")) {
    parts.optimizer = read_optimizer(file, compile, parts.weights.tensors);
    if (!parts.optimizer.complete) parts.optimizer.reason = "not read: " + parts.optimizer.reason;
  } else if (!compile.is_null()) {
    parts.optimizer.reason = "not saved: the file has no optimizer_weights group";
  }
  return keras_record(parts, file_label);
}

}  // namespace plugfit_hdf5
