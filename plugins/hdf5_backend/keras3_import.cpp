#include "keras3_import.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <map>
#include <regex>

#include <plugfit/keras_config.hpp>

#include "keras_bidirectional.hpp"
#include "plugfit_extras.hpp"
#include "zip_reader.hpp"

namespace plugfit_hdf5 {

namespace {

using plugfit::CheckpointRecord;
using plugfit::InputError;
using plugfit::Json;
using plugfit::NamedTensor;
namespace fs = std::filesystem;

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() < 10 &&
         std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

// "dense" < "dense_1" < "dense_2" < "dense_10": Keras's automatic names in creation order.
bool keras_name_order(const std::string& a, const std::string& b) {
  const auto split = [](const std::string& s) -> std::pair<std::string, long> {
    const auto u = s.rfind('_');
    if (u != std::string::npos && all_digits(s.substr(u + 1))) return {s.substr(0, u), std::stol(s.substr(u + 1))};
    return {s, -1};
  };
  return split(a) < split(b);
}

// The datasets of a vars group "0", "1", ... in numeric order; anything else there is damage.
std::vector<std::string> numbered_vars(hid_t vars, const std::string& where) {
  std::vector<std::string> names = link_names(vars);
  for (const auto& n : names)
    if (!all_digits(n)) throw H5Failure(where + " holds \"" + n + "\", not a numbered variable");
  std::sort(names.begin(), names.end(),
            [](const std::string& a, const std::string& b) { return std::stol(a) < std::stol(b); });
  for (std::size_t i = 0; i < names.size(); ++i)
    if (std::stol(names[i]) != static_cast<long>(i))
      throw H5Failure(where + " lacks the variable " + std::to_string(i));
  return names;
}

// Keras's names for a layer's own variables in the order Keras creates them, where plugfit knows
// the layer type (config: the layer's, for the variables its options leave out); empty when
// count is not what the class and config make.
std::vector<std::string> known_weight_names(const std::string& class_name, const Json& config, std::size_t count) {
  std::vector<std::string> names;
  const bool bias = !config.is_object() || config.value("use_bias", true);
  if (class_name == "Dense" || class_name == "Conv2D" || class_name == "Conv2DTranspose") {
    names = {"kernel"};
    if (bias) names.push_back("bias");
  } else if (class_name == "DepthwiseConv2D") {
    names = {"depthwise_kernel"};
    if (bias) names.push_back("bias");
  } else if (class_name == "SeparableConv2D") {
    names = {"depthwise_kernel", "pointwise_kernel"};
    if (bias) names.push_back("bias");
  } else if (class_name == "BatchNormalization") {
    const bool object = config.is_object();
    if (!object || config.value("scale", true)) names.push_back("gamma");
    if (!object || config.value("center", true)) names.push_back("beta");
    names.insert(names.end(), {"moving_mean", "moving_variance"});
  } else if (class_name == "Normalization") {
    names = {"mean", "variance", "count"};
  }
  if (names.size() != count) return {};
  return names;
}

// Whether Keras trains a variable: BatchNormalization's moving statistics and Normalization's
// adapted ones are updated outside the optimizer and have no slots.
bool trained_variable(const std::string& class_name, const std::string& keras_name) {
  if (class_name == "Normalization") return false;
  return keras_name != "moving_mean" && keras_name != "moving_variance";
}

struct LayerSpec {
  std::string name;        // the model's name for the layer (its weights' tensor names)
  std::string class_name;  // empty when the file comes without a model
  bool trainable = true;
  Json config;        // the layer's Keras config (null without a model)
  std::string group;  // where Keras 3 saved it: layers/<snake_case class>[_<n>], or layers/<name>
};

// Keras's naming.to_snake_case: "BatchNormalization" -> "batch_normalization", "LSTM" -> "lstm".
std::string snake_case(const std::string& name) {
  static const std::regex word("(.)([A-Z][a-z]+)");
  static const std::regex joint("([a-z])([A-Z])");
  std::string out = std::regex_replace(std::regex_replace(name, word, "$1_$2"), joint, "$1_$2");
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// A layer's variables depth first: its own vars, then each child group in name order (the
// attribute order Keras's saving_lib walks).
void read_layer_group(hid_t group, const LayerSpec& layer, const std::string& sub_path, KerasWeights& out,
                      Json& weight_list, std::vector<bool>& trainable, const std::string& where) {
  if (path_exists(group, "vars")) {
    const Handle vars = open_group(group, "vars");
    const auto names = numbered_vars(vars, where + "/vars");
    const auto keras_names = sub_path.empty() ? known_weight_names(layer.class_name, layer.config, names.size())
                                              : std::vector<std::string>{};
    for (std::size_t i = 0; i < names.size(); ++i) {
      const Handle dataset = open_dataset(vars, names[i]);
      NamedTensor t;
      t.name = "weights/" + layer.name + "/" + sub_path + (keras_names.empty() ? names[i] : keras_names[i]);
      t.shape = dataset_shape(dataset);
      t.values = read_floats(dataset, t.shape, "the variable " + where + "/vars/" + names[i]);
      weight_list.push_back(t.name);
      out.tensors.push_back(std::move(t));
      trainable.push_back(layer.trainable &&
                          (keras_names.empty() ? layer.class_name != "BatchNormalization" || i < 2
                                               : trained_variable(layer.class_name, keras_names[i])));
    }
  }
  for (const auto& child : link_names(group)) {
    if (child == "vars") continue;
    const Handle inner = open_group(group, child);
    read_layer_group(inner, layer, sub_path + child + "/", out, weight_list, trainable, where + "/" + child);
  }
}

std::vector<LayerSpec> layers_of(hid_t file, const Json& model_config) {
  std::vector<LayerSpec> layers;
  if (model_config.is_null()) {
    std::vector<std::string> names =
        path_exists(file, "layers") ? link_names(open_group(file, "layers")) : std::vector<std::string>{};
    std::sort(names.begin(), names.end(), keras_name_order);
    for (auto& n : names) layers.push_back({n, "", true, Json(), "layers/" + n});
    return layers;
  }
  const Json body = model_config.value("config", Json::object());
  const Json specs = body.is_object() ? body.value("layers", Json::array()) : Json::array();
  // Keras 3.x's saving_lib names a container's layers by class, counting repeats (dense,
  // dense_1, ...); the first Keras 3 releases used the layer's own name.
  std::map<std::string, int> used;
  for (const auto& spec : specs) {
    if (!spec.is_object()) continue;
    const std::string cls = spec.value("class_name", std::string());
    const Json config = spec.value("config", Json::object());
    if (cls == "InputLayer" || !config.is_object()) continue;  // no variables; Keras's layers list skips it
    const Json name = config.value("name", spec.value("name", Json()));
    if (!name.is_string()) continue;
    const Json trainable = config.value("trainable", Json(true));
    std::string group = snake_case(cls);
    if (const auto [it, fresh] = used.emplace(group, 0); !fresh) group += "_" + std::to_string(++it->second);
    if (!path_exists(file, "layers/" + group)) group = name.get<std::string>();
    layers.push_back(
        {name.get<std::string>(), cls, !trainable.is_boolean() || trainable.get<bool>(), config, "layers/" + group});
  }
  return layers;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// optimizer/vars: 0 iterations, 1 learning rate, then per trainable weight its slots in turn.
OptimizerState read_optimizer_vars(hid_t file, const std::string& optimizer, const std::vector<NamedTensor>& weights,
                                   const std::vector<bool>& trainable) {
  OptimizerState state;
  const Handle vars = open_group(file, "optimizer/vars");
  const auto names = numbered_vars(vars, "optimizer/vars");
  const std::vector<std::string> slots = positional_slots(optimizer);
  if (slots.empty()) {
    state.reason = "not read: plugfit does not read the state of a Keras " +
                   (optimizer.empty() ? "unknown" : optimizer) + " optimizer";
    return state;
  }
  std::vector<std::size_t> trained;
  for (std::size_t i = 0; i < weights.size(); ++i)
    if (trainable[i]) trained.push_back(i);
  // A learning rate that is a variable is variable 1; a schedule's is computed from the step.
  const bool has_rate = names.size() > 1 && dataset_shape(open_dataset(vars, "1")).empty();
  const std::size_t first = has_rate ? 2 : 1;
  const std::size_t wanted = first + slots.size() * trained.size();
  if (names.size() != wanted) {
    state.reason = "not read: optimizer/vars holds " + std::to_string(names.size()) + " variables, not the " +
                   std::to_string(wanted) + " a Keras " + optimizer + " keeps for " + std::to_string(trained.size()) +
                   " trainable weights";
    return state;
  }
  state.iterations = read_scalar_int(open_dataset(vars, "0"), "the optimizer's iteration count (optimizer/vars/0)");
  if (has_rate)
    state.learning_rate =
        read_scalar_double(open_dataset(vars, "1"), "the optimizer's learning rate (optimizer/vars/1)");
  for (std::size_t w = 0; w < trained.size(); ++w)
    for (std::size_t s = 0; s < slots.size(); ++s) {
      const std::string name = std::to_string(first + w * slots.size() + s);
      const NamedTensor& weight = weights[trained[w]];
      const Handle dataset = open_dataset(vars, name);
      NamedTensor t{"optimizer/" + slots[s] + "/" + weight.name.substr(std::string("weights/").size()),
                    dataset_shape(dataset),
                    {}};
      if (t.shape != weight.shape) {
        state.reason = "not read: optimizer/vars/" + name + " has shape " + plugfit::full_shape_str(t.shape) +
                       " but the weight " + weight.name + " it belongs to has " + plugfit::full_shape_str(weight.shape);
        state.tensors.clear();
        return state;
      }
      t.values = read_floats(dataset, t.shape, "the optimizer variable optimizer/vars/" + name);
      state.tensors.push_back(std::move(t));
    }
  state.complete = true;
  return state;
}

// Every Keras tensor a node consumes: Keras 3's {"args", "kwargs"} with __keras_tensor__ objects
// (keras_history [layer, node, index]), or Keras 2's [[layer, node, index, kwargs], ...].
void inbound_layers(const Json& node, std::vector<std::string>& out) {
  if (node.is_object()) {
    if (node.value("class_name", std::string()) == "__keras_tensor__") {
      const Json history = node.value("config", Json::object()).value("keras_history", Json());
      if (history.is_array() && !history.empty() && history[0].is_string())
        out.push_back(history[0].get<std::string>());
      return;
    }
    for (const auto& [key, value] : node.items()) inbound_layers(value, out);
  } else if (node.is_array()) {
    if (node.size() >= 3 && node[0].is_string() && node[1].is_number_integer()) {
      out.push_back(node[0].get<std::string>());
      return;
    }
    for (const auto& item : node) inbound_layers(item, out);
  }
}

}  // namespace

bool is_keras3_weights_file(hid_t file) { return path_exists(file, "layers") || path_exists(file, "vars"); }

Json functional_chain_as_sequential(const Json& config, const std::string& file_label) {
  const std::string cls = config.is_object() ? config.value("class_name", std::string()) : std::string();
  if (cls != "Functional" && cls != "Model") return config;
  const Json body = config.value("config", Json::object());
  const Json specs = body.is_object() ? body.value("layers", Json::array()) : Json::array();
  if (!specs.is_array() || specs.empty()) throw InputError(file_label + ": the Keras Functional model has no layers");
  Json layers = Json::array();
  std::string previous;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const Json& spec = specs[i];
    if (!spec.is_object())
      throw InputError(file_label + ": the Keras model's layer " + std::to_string(i) + " is not an object");
    const std::string name = spec.value("name", spec.value("config", Json::object()).value("name", std::string()));
    const Json nodes = spec.value("inbound_nodes", Json::array());
    const std::string where = file_label + ": the Keras Functional model's layer \"" + name + "\"";
    if (i == 0) {
      if (spec.value("class_name", std::string()) != "InputLayer" || !nodes.empty())
        throw InputError(where +
                         " is not its one InputLayer; plugfit reads Functional models that are one chain of layers");
    } else {
      if (!nodes.is_array() || nodes.size() != 1)
        throw InputError(where + " is called " + std::to_string(nodes.is_array() ? nodes.size() : 0) +
                         " times; plugfit reads Functional models that are one chain of layers (each used once)");
      std::vector<std::string> sources;
      inbound_layers(nodes[0], sources);
      if (sources.size() != 1 || sources[0] != previous)
        throw InputError(where + " takes " + std::to_string(sources.size()) + " input(s)" +
                         (sources.size() == 1 ? " from \"" + sources[0] + "\", not from the layer before it" : "") +
                         "; plugfit reads Functional models that are one chain of layers");
    }
    Json plain = {{"class_name", spec.value("class_name", Json())}, {"config", spec.value("config", Json::object())}};
    for (const char* key : {"module", "registered_name", "build_config"})
      if (spec.contains(key)) plain[key] = spec[key];
    layers.push_back(std::move(plain));
    previous = name;
  }
  std::vector<std::string> outputs;
  inbound_layers(body.value("output_layers", Json::array()), outputs);
  if (outputs.size() != 1 || outputs[0] != previous)
    throw InputError(file_label + ": the Keras Functional model has " + std::to_string(outputs.size()) +
                     " output(s), not the one output of its last layer \"" + previous +
                     "\"; plugfit reads Functional models that are one chain of layers");
  Json out = config;
  out["class_name"] = "Sequential";
  out["config"] = {{"name", body.value("name", Json("sequential"))}, {"layers", layers}};
  return out;
}

KerasParts read_keras3_weights(hid_t file, const Json& model_config, const Json& training_config,
                               const std::string& file_label) {
  KerasParts parts;
  parts.model_config = model_config;
  parts.training_config = training_config;
  // Without a config its groups are known by their names only, which Keras 3's saving_lib gives
  // by class in model order (conv2d, dense, dense_1, ...): Keras's load_weights matches them to
  // the model by those names (restore_weights), not by the order the names sort in.
  if (model_config.is_null()) parts.keras["layers_named_by_class"] = true;
  std::vector<bool> trainable;
  for (const LayerSpec& layer : layers_of(file, model_config)) {
    const std::string& path = layer.group;
    Json entry = {{"name", layer.name}, {"weights", Json::array()}};
    if (!path_exists(file, path)) {
      // Keras writes a group for every layer, with or without variables.
      throw InputError(file_label + " holds no weights for the model's layer \"" + layer.name + "\" (no group " + path +
                       ")");
    }
    read_layer_group(open_group(file, path), layer, "", parts.weights, entry["weights"], trainable, path);
    order_keras_bidirectional_weights(parts.weights.tensors, entry["weights"], trainable);
    parts.weights.layers.push_back(std::move(entry));
  }
  std::string optimizer;
  const Json compile = model_config.is_null() ? Json() : plugfit::compile_config_from_keras(training_config);
  if (compile.is_object()) optimizer = compile.value("optimizer", Json::object()).value("class_name", std::string());
  const bool has_state = path_exists(file, "optimizer/vars");
  if (optimizer.empty() && has_state) {
    const Handle vars = open_group(file, "optimizer/vars");
    if (has_attr(vars, "name")) optimizer = read_string_attr(vars, "name");
  }
  optimizer = lower(optimizer);
  if (!optimizer.empty()) parts.keras["optimizer"] = optimizer;
  const Json rate =
      compile.is_object()
          ? compile.value("optimizer", Json::object()).value("config", Json::object()).value("learning_rate", Json())
          : Json();
  if (has_state && rate.is_object()) {
    parts.optimizer.reason = "not read: the learning rate is a " +
                             rate.value("class_name", std::string("learning-rate")) +
                             " schedule, which plugfit does not resume";
  } else if (has_state) {
    parts.optimizer = read_optimizer_vars(file, optimizer, parts.weights.tensors, trainable);
  } else if (!compile.is_null()) {
    parts.optimizer.reason = "not saved: the file has no optimizer/vars group";
  }
  return parts;
}

StoredCheckpoint read_keras3_archive(const fs::path& path, const std::string& file_label) {
  const ZipArchive archive(path);
  for (const char* member : {"config.json", "model.weights.h5"})
    if (!archive.contains(member))
      throw InputError(file_label + " is a zip archive but not a Keras archive (it has no " + member + ")");
  // The weights file is opened where it lies in memory (HDF5's core driver over a copy of it).
  std::vector<char> image = archive.read("model.weights.h5");
  const Handle fapl = file_access();
  if (H5Pset_fapl_core(fapl, 1 << 16, false) < 0) fail("cannot set HDF5's in-memory driver");
  if (H5Pset_file_image(fapl, image.data(), image.size()) < 0) fail("cannot hand HDF5 the model.weights.h5 image");
  image = {};
  Handle file;
  try {
    file = Handle(H5Fopen("model.weights.h5", H5F_ACC_RDONLY, fapl), H5Fclose, "HDF5 cannot open it");
  } catch (const H5Failure& e) {
    throw InputError(file_label + ": its model.weights.h5 is not a readable HDF5 file (" + e.what() + ")");
  }
  // An archive plugfit wrote: its /plugfit group holds the record bit for bit.
  if (has_plugfit_group(file)) return read_plugfit_group(file, file_label);

  const auto parse = [&](const std::string& member) {
    const std::vector<char> bytes = archive.read(member);
    try {
      return Json::parse(bytes.begin(), bytes.end());
    } catch (const std::exception&) {
      throw InputError(file_label + ": its " + member + " is not JSON");
    }
  };
  const Json config = parse("config.json");
  if (!config.is_object()) throw InputError(file_label + ": its config.json is not a JSON object");
  const Json model_config = functional_chain_as_sequential(config, file_label);
  // Keras 3's compile_config in the shape of the legacy training_config compile_config_from_keras reads.
  Json training = config.value("compile_config", Json());
  if (training.is_object() && training.contains("optimizer") && !training.contains("optimizer_config"))
    training["optimizer_config"] = training["optimizer"];
  KerasParts parts = read_keras3_weights(file, model_config, training.is_object() ? training : Json(),
                                         file_label + " (model.weights.h5)");
  if (archive.contains("metadata.json")) {
    const Json metadata = parse("metadata.json");
    if (metadata.is_object() && metadata.contains("keras_version") && metadata["keras_version"].is_string())
      parts.keras["keras_version"] = metadata["keras_version"];
  }
  StoredCheckpoint out;
  out.name = kKerasCheckpointName;
  out.record = keras_record(parts, file_label);
  return out;
}

bool belongs_to_plugfit_store(const fs::path& path) {
  std::error_code ec;
  // FILE of a store has its sidecar beside it; the store's other checkpoints live in the sidecar.
  if (fs::exists(path.string() + ".checkpoints", ec)) return true;
  const std::string folder = path.parent_path().filename().string();
  const std::string suffix = ".checkpoints";
  return folder.size() > suffix.size() && folder.compare(folder.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace plugfit_hdf5
