#include "tf_record.hpp"

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <set>

#include <plugfit/keras_config.hpp>

namespace plugfit_tf {

using namespace plugfit;
using tf_files::BundleVariable;
using tf_files::FormatError;
using tf_files::ObjectGraphNode;
using tf_files::TensorBundle;

namespace {

constexpr const char* kGraphKey = "_CHECKPOINTABLE_OBJECT_GRAPH";

// Python tuples as Keras's SavedModel JSON writes them: {"class_name": "__tuple__", "items": [...]}.
Json untuple(const Json& j) {
  if (j.is_object()) {
    if (j.size() == 2 && j.value("class_name", Json()) == "__tuple__" && j.contains("items") && j["items"].is_array())
      return untuple(j["items"]);
    Json out = Json::object();
    for (const auto& [k, v] : j.items()) out[k] = untuple(v);
    return out;
  }
  if (j.is_array()) {
    Json out = Json::array();
    for (const auto& v : j) out.push_back(untuple(v));
    return out;
  }
  return j;
}

// The child of a node by its local name, or -1.
int child(const std::vector<ObjectGraphNode>& graph, int node, const std::string& name) {
  for (const auto& c : graph[static_cast<std::size_t>(node)].children)
    if (c.local_name == name) return c.node_id;
  return -1;
}

// The checkpoint key of a variable node (its VARIABLE_VALUE attribute), or empty.
std::string variable_key(const std::vector<ObjectGraphNode>& graph, int node) {
  for (const auto& a : graph[static_cast<std::size_t>(node)].attributes)
    if (a.name == "VARIABLE_VALUE") return a.checkpoint_key;
  return "";
}

// plugfit's slot name for a TF optimizer slot, per optimizer class ("" when plugfit has none).
std::string plugfit_slot(const std::string& optimizer, const std::string& slot) {
  std::string o = optimizer;
  std::transform(o.begin(), o.end(), o.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (o == "adam" && (slot == "m" || slot == "v")) return slot;
  if (o == "rmsprop") {
    if (slot == "rms") return "velocity";
    if (slot == "momentum") return "momentum";
    if (slot == "mg") return "average_gradient";
  }
  if (o == "sgd" && slot == "momentum") return "momentum";
  return "";
}


struct KerasModel {
  Json model;         // plugfit's {"class_name": "Sequential", "config": {"layers": [...]}}
  Json input_shape;   // without the batch dimension, or null
  Json compile;       // or null
  Json keras = Json::object();  // keras_version, backend
  std::vector<std::string> weight_layer_names;  // the layers that have weights, in order (for names)
};

KerasModel model_from_metadata(const std::string& bytes, const std::string& path) {
  const auto nodes = tf_files::parse_saved_metadata(bytes, path);
  const tf_files::SavedMetadataNode* root = nullptr;
  for (const auto& n : nodes)
    if (n.node_path == "root") root = &n;
  if (root == nullptr) throw InputError(path + " has no node \"root\" (the Keras model)");
  const Json meta = Json::parse(root->metadata, nullptr, false);
  if (!meta.is_object()) throw InputError(path + ": the root node's metadata is not JSON");
  const std::string cls = meta.value("class_name", std::string());
  if (cls != "Sequential")
    throw InputError(path + " holds a Keras " + (cls.empty() ? "model of unknown class" : cls) +
                     " model; plugfit reads Sequential models only");
  KerasModel out;
  for (const char* key : {"keras_version", "backend"})
    if (meta.contains(key) && meta[key].is_string()) out.keras[key] = meta[key];
  const Json config = untuple(meta.value("config", Json::object()));
  const Json specs = config.is_object() ? config.value("layers", Json::array()) : Json::array();
  if (!specs.is_array() || specs.empty()) throw InputError(path + ": the Keras model has no layers");
  Json layers = Json::array();
  for (const auto& raw : specs) {
    Json spec = keras_layer_spec(raw);
    const std::string layer_class = spec.value("class_name", std::string());
    // tf.keras 2 writes BatchNormalization's axis as a list ([3]); plugfit's is the one integer.
    if (layer_class == "BatchNormalization" && spec.contains("config") && spec["config"].is_object() &&
        spec["config"].contains("axis")) {
      Json& axis = spec["config"]["axis"];
      if (axis.is_array() && axis.size() == 1 && axis[0].is_number_integer()) axis = Json(axis[0]);
    }
    layers.push_back(std::move(spec));
  }
  const std::string version = out.keras.value("keras_version", std::string());
  apply_keras_era(layers, version);
  const Json first = layers[0].value("config", Json::object());
  for (const char* key : {"batch_shape", "batch_input_shape"}) {
    if (!out.input_shape.is_null() || !first.contains(key) || !first[key].is_array() || first[key].empty()) continue;
    Json dims = Json::array();
    for (std::size_t i = 1; i < first[key].size(); ++i) {
      if (!first[key][i].is_number_unsigned() || first[key][i].get<std::uint64_t>() == 0)
        throw InputError(path + ": the model's input shape " + first[key].dump() + " is not fixed; plugfit needs every dimension but the batch");
      dims.push_back(first[key][i]);
    }
    out.input_shape = dims;
  }
  if (out.input_shape.is_null()) throw InputError(path + ": the Keras model declares no input shape");
  out.model = {{"class_name", "Sequential"}, {"config", {{"layers", layers}}}};
  out.compile = compile_config_from_keras(untuple(meta.value("training_config", Json())));
  // Each "root.layer_with_weights-N" node's name, for the tensors' names.
  std::map<int, std::string> named;
  const std::string prefix = "root.layer_with_weights-";
  for (const auto& n : nodes) {
    if (n.node_path.rfind(prefix, 0) != 0) continue;
    const std::string rest = n.node_path.substr(prefix.size());
    if (rest.empty() || rest.size() > 6 || !std::all_of(rest.begin(), rest.end(), ::isdigit)) continue;
    const Json m = Json::parse(n.metadata, nullptr, false);
    if (m.is_object() && m.contains("name") && m["name"].is_string()) named[std::stoi(rest)] = m["name"];
  }
  for (const auto& [i, name] : named) {
    if (static_cast<std::size_t>(i) != out.weight_layer_names.size()) break;
    out.weight_layer_names.push_back(name);
  }
  return out;
}

bool is_float_dtype(int dtype) {
  return dtype == tf_files::DT_FLOAT || dtype == tf_files::DT_HALF || dtype == tf_files::DT_BFLOAT16;
}

}  // namespace

CheckpointRecord tf_record(const TensorBundle& bundle, const std::optional<std::string>& metadata,
                           const std::string& metadata_path, const std::string& label) {
  const std::string index = bundle.index_path().string();
  const BundleVariable* graph_var = bundle.find(kGraphKey);
  if (graph_var == nullptr)
    throw InputError(index + " has no object graph (" + std::string(kGraphKey) +
                     "): a name-based TF1 checkpoint, which plugfit does not read");
  const auto graph = tf_files::parse_object_graph(bundle.read_string(*graph_var), index + "'s object graph");
  if (graph.empty()) throw InputError(index + "'s object graph has no nodes");

  std::optional<KerasModel> keras_model;
  if (metadata) keras_model = model_from_metadata(*metadata, metadata_path);

  // The layers with weights: root children "layer_with_weights-N".
  std::map<int, int> layer_nodes;  // N -> node
  for (const auto& c : graph[0].children) {
    const std::string p = "layer_with_weights-";
    if (c.local_name.rfind(p, 0) != 0) continue;
    const std::string rest = c.local_name.substr(p.size());
    if (rest.empty() || rest.size() > 6 || !std::all_of(rest.begin(), rest.end(), ::isdigit))
      throw InputError(index + "'s object graph has a child \"" + c.local_name + "\" of the root");
    layer_nodes[std::stoi(rest)] = c.node_id;
  }
  CheckpointRecord record;
  Json keras = Json::object();
  if (keras_model) keras = keras_model->keras;
  keras["weights_by_position"] = true;
  keras["file"] = label;
  keras["layers"] = Json::array();
  std::map<int, std::string> tensor_of_node;  // variable node -> record tensor name (for slots)
  std::vector<int> weight_nodes;              // in the record's order
  std::set<std::string> used;                 // checkpoint keys read into the record
  int expected = 0;
  for (const auto& [n, node] : layer_nodes) {
    if (n != expected++) throw InputError(index + "'s object graph lacks layer_with_weights-" + std::to_string(expected - 1));
    const std::string layer = keras_model && static_cast<std::size_t>(n) < keras_model->weight_layer_names.size()
                                  ? keras_model->weight_layer_names[static_cast<std::size_t>(n)]
                                  : "layer_with_weights-" + std::to_string(n);
    Json names = Json::array();
    for (const auto& c : graph[static_cast<std::size_t>(node)].children) {
      const std::string key = variable_key(graph, c.node_id);
      if (key.empty()) continue;  // not a variable (a tracked function, a random generator)
      if (tensor_of_node.count(c.node_id)) continue;  // listed twice ("variables" lists): once
      const BundleVariable* v = bundle.find(key);
      if (v == nullptr) throw InputError(index + " lacks the variable \"" + key + "\" its object graph names");
      if (!is_float_dtype(v->entry.dtype))
        throw InputError(index + ": variable \"" + key + "\" is " + tf_files::dtype_name(v->entry.dtype) +
                         "; plugfit reads float32, float16 and bfloat16 weights");
      const std::string name = "weights/" + layer + "/" + c.local_name;
      Shape shape;
      for (const auto d : v->entry.shape.dims) shape.push_back(static_cast<std::size_t>(d));
      record.tensors.push_back({name, shape, bundle.read_floats(*v)});
      names.push_back(name);
      tensor_of_node[c.node_id] = name;
      weight_nodes.push_back(c.node_id);
      used.insert(key);
    }
    keras["layers"].push_back({{"name", layer}, {"weights", names}});
  }

  // The optimizer: its step count, learning rate and slots.
  Json optimizer_info;
  std::string optimizer_reason;
  std::vector<NamedTensor> slot_tensors;
  const int opt = child(graph, 0, "optimizer");
  const std::string optimizer_class =
      keras_model && keras_model->compile.is_object() && keras_model->compile.contains("optimizer")
          ? keras_model->compile["optimizer"].value("class_name", std::string())
          : std::string("Adam");  // a weights checkpoint names none: TF's slot names tell (m, v: Adam)
  std::int64_t step = -1;
  if (opt < 0) {
    optimizer_reason = "not saved: the object graph has no optimizer";
  } else {
    const int iter = child(graph, opt, "iter");
    const std::string iter_key = iter >= 0 ? variable_key(graph, iter) : "";
    if (const BundleVariable* v = iter_key.empty() ? nullptr : bundle.find(iter_key)) {
      step = bundle.read_integer(*v);
      used.insert(iter_key);
    }
    double learning_rate = 0.001;
    if (keras_model && keras_model->compile.is_object())
      learning_rate = keras_model->compile.value("optimizer", Json::object()).value("config", Json::object()).value("learning_rate", 0.001);
    const int lr = child(graph, opt, "learning_rate");
    const std::string lr_key = lr >= 0 ? variable_key(graph, lr) : "";
    if (const BundleVariable* v = lr_key.empty() ? nullptr : bundle.find(lr_key); v && v->elements() == 1 && is_float_dtype(v->entry.dtype)) {
      learning_rate = bundle.read_floats(*v)[0];
      used.insert(lr_key);
    }
    // Slots per plugfit slot name, each in the weights' order.
    std::map<std::string, std::map<int, const ObjectGraphNode::Slot*>> slots;
    std::set<std::string> unknown;
    for (const auto& s : graph[static_cast<std::size_t>(opt)].slot_variables) {
      const std::string mine = plugfit_slot(optimizer_class, s.slot_name);
      if (mine.empty()) unknown.insert(s.slot_name);
      else slots[mine][s.original_variable_node_id] = &s;
    }
    if (step < 0) {
      optimizer_reason = "not read: the optimizer has no int64 \"iter\" step count";
    } else if (!unknown.empty()) {
      optimizer_reason = "not read: the " + optimizer_class + " slot \"" + *unknown.begin() + "\" has no plugfit equivalent";
    } else {
      for (const auto& [slot, by_var] : slots) {
        for (const int w : weight_nodes) {
          const auto it = by_var.find(w);
          if (it == by_var.end()) {
            optimizer_reason = "not read: the \"" + slot + "\" slot of " + tensor_of_node[w] + " is missing";
            break;
          }
          const std::string key = variable_key(graph, it->second->slot_variable_node_id);
          const BundleVariable* v = key.empty() ? nullptr : bundle.find(key);
          if (v == nullptr) throw InputError(index + " lacks the slot variable \"" + key + "\" its object graph names");
          if (!is_float_dtype(v->entry.dtype))
            throw InputError(index + ": variable \"" + key + "\" is " + tf_files::dtype_name(v->entry.dtype) +
                             "; plugfit reads float32, float16 and bfloat16 optimizer slots");
          const auto weight = std::find_if(record.tensors.begin(), record.tensors.end(),
                                           [&](const NamedTensor& t) { return t.name == tensor_of_node[w]; });
          Shape shape;
          for (const auto d : v->entry.shape.dims) shape.push_back(static_cast<std::size_t>(d));
          if (shape != weight->shape)
            throw InputError(index + ": the slot variable \"" + key + "\" has another shape than its weight");
          slot_tensors.push_back({"optimizer/" + slot + "/" + tensor_of_node[w].substr(8), shape, bundle.read_floats(*v)});
          used.insert(key);
        }
        if (!optimizer_reason.empty()) break;
      }
      if (slots.empty() && optimizer_reason.empty()) optimizer_reason = "not read: the optimizer has no slot variables";
    }
    if (step >= 0) optimizer_info = {{"iterations", step}, {"learning_rate", learning_rate}};
  }

  // Every variable's CRC is checked, the ones not used too (a damaged shard never loads).
  Json variables = Json::array();
  Json ignored = Json::array();
  for (const auto& v : bundle.variables()) {
    if (v.key != kGraphKey && !used.count(v.key)) {
      if (tf_files::dtype_size(v.entry.dtype) != 0) (void)bundle.read_bytes(v);
      ignored.push_back(v.key);
    }
    variables.push_back({{"key", v.key}, {"dtype", tf_files::dtype_name(v.entry.dtype)}, {"shape", v.entry.shape.dims}});
  }

  Json& info = record.info;
  info = {{"format", 1}, {"kind", "weights"}, {"epoch", 0}, {"metrics", Json::object()}, {"plugins", Json::object()}};
  if (keras_model) {
    info["model"] = keras_model->model;
    info["input_shape"] = keras_model->input_shape;
    if (!keras_model->compile.is_null()) info["compile"] = keras_model->compile;
  }
  const bool complete = optimizer_reason.empty() && !optimizer_info.is_null();
  if (!optimizer_info.is_null()) info["optimizer"] = optimizer_info;
  if (step >= 0)  // Keras keeps no epoch: the run goes on at epoch 0 with the optimizer's step count
    info["training"] = {{"epoch", 0}, {"batch", 0}, {"global_step", step}, {"seed", 0}, {"rng", {0, 0, 0, 1}}};
  if (complete && keras_model && info.contains("compile")) {
    info["kind"] = "full";
    info["callbacks"] = Json::object();
    for (auto& t : slot_tensors) record.tensors.push_back(std::move(t));
  } else if (!complete) {
    keras["optimizer_state"] = optimizer_reason;
  } else {
    keras["optimizer_state"] = "read, but a weights checkpoint has no architecture or compile settings to resume it with";
  }
  info["keras"] = std::move(keras);
  info["tf"] = {{"index", index}, {"variables", variables}, {"ignored", ignored}, {"object_graph_nodes", graph.size()}};
  if (step >= 0) info["tf"]["step"] = step;
  return record;
}

}  // namespace plugfit_tf
