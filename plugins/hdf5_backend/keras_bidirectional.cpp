#include "keras_bidirectional.hpp"

#include <plugfit/keras_config.hpp>

#include <algorithm>
#include <cctype>
#include <utility>

namespace plugfit_hdf5 {

namespace {

using plugfit::Json;
using plugfit::NamedTensor;

const std::string kBidirectional = "Bidirectional";

// "weights/bidirectional/forward_lstm/kernel" -> {"forward_lstm", "kernel"} below layer_name.
std::optional<std::pair<std::string, std::string>> inner_and_weight(const std::string& layer_name,
                                                                    const std::string& tensor) {
  const std::string prefix = "weights/" + layer_name + "/";
  if (tensor.rfind(prefix, 0) != 0) return std::nullopt;
  const std::string rest = tensor.substr(prefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string::npos || slash == 0 || rest.find('/', slash + 1) != std::string::npos) return std::nullopt;
  return std::make_pair(rest.substr(0, slash), rest.substr(slash + 1));
}

// Keras's cell of a recurrent layer by its gate count: the recurrent kernel is (units, gates * units).
std::string cell_name(const KerasLayerWeights& layer, const std::string& inner) {
  for (const NamedTensor* w : layer.weights) {
    const auto parts = inner_and_weight(layer.name, w->name);
    if (!parts || parts->first != inner || parts->second != "recurrent_kernel" || w->shape.size() != 2 ||
        w->shape[0] == 0)
      continue;
    const std::size_t gates = w->shape[1] / w->shape[0];
    return gates == 4 ? "lstm_cell" : gates == 3 ? "gru_cell" : "simple_rnn_cell";
  }
  return "cell";
}

// The inner layers in the record's order (the forward layer's weights come first).
std::vector<std::string> inner_layers(const KerasLayerWeights& layer) {
  std::vector<std::string> inner;
  for (const NamedTensor* w : layer.weights)
    if (const auto parts = inner_and_weight(layer.name, w->name))
      if (std::find(inner.begin(), inner.end(), parts->first) == inner.end()) inner.push_back(parts->first);
  return inner;
}

std::string without_prefix(const std::string& name, const std::string& prefix) {
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

Json spec_config(const Json& spec) {
  return spec.is_object() && spec.contains("config") && spec["config"].is_object() ? spec["config"] : Json::object();
}

// Keras's default name for a class: "LSTM" -> "lstm", "SimpleRNN" -> "simple_rnn".
std::string default_name(const std::string& cls) {
  if (cls == "SimpleRNN") return "simple_rnn";
  std::string out = cls;
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Handle create_named_vars(hid_t file, const std::string& path, const std::string& name) {
  Handle group = create_group(file, path);
  write_vlen_string_attr(group, "name", name, StringCset::utf8);
  return group;
}

}  // namespace

bool keras_bidirectional_config(const std::string& cls, const Json& config, KerasJson& out, const KerasDims& input,
                                KerasDims& output, KerasLayerConfigFn inner_config) {
  if (cls != kBidirectional) return false;
  const std::string merge = config.value("merge_mode", std::string("concat"));
  Json forward = plugfit::keras_layer_spec(config.value("layer", Json::object()));
  const std::string forward_class = forward.value("class_name", std::string());
  const Json forward_config = spec_config(forward);
  const std::string given = forward_config.contains("name") && forward_config["name"].is_string()
                                ? forward_config["name"].get<std::string>()
                                : default_name(forward_class);
  Json backward = config.contains("backward_layer") && !config["backward_layer"].is_null()
                      ? plugfit::keras_layer_spec(config["backward_layer"])
                      : Json();
  std::string backward_name;
  if (backward.is_null()) {  // plugfit's get_config writes it; a hand-written config may not
    backward = forward;
    backward["config"] = forward_config;
    backward["config"]["go_backwards"] = !forward_config.value("go_backwards", false);
    backward_name = "backward_" + without_prefix(given, "backward_");
  } else {
    const Json c = spec_config(backward);
    backward_name = c.contains("name") && c["name"].is_string() ? c["name"].get<std::string>()
                                                                 : default_name(backward.value("class_name", std::string()));
  }
  // serialize_keras_object of a built layer: its module, class, config, and the shape it was built with.
  auto serialized = [&](const Json& spec, const std::string& name) {
    const std::string inner_cls = spec.value("class_name", std::string());
    KerasDims inner_out;
    KerasJson s = KerasJson::object();
    s["module"] = "keras.layers";
    s["class_name"] = inner_cls;
    s["config"] = inner_config(inner_cls, spec_config(spec), name, input, inner_out);
    s["registered_name"] = nullptr;
    if (input) s["build_config"] = {{"input_shape", *input}};
    return s;
  };
  out["merge_mode"] = merge;
  out["layer"] = serialized(forward, "forward_" + without_prefix(given, "forward_"));
  out["backward_layer"] = serialized(backward, backward_name);
  // The merged output (batch, [steps,] units): concat's units are the two layers' summed.
  const long long forward_units = forward_config.value("units", 0LL);
  const long long backward_units = spec_config(backward).value("units", 0LL);
  if (input && input->size() == 3 && forward_units > 0) {
    std::vector<KerasJson> dims{nullptr};
    if (forward_config.value("return_sequences", false)) dims.push_back((*input)[1]);
    dims.push_back(merge == "concat" ? forward_units + backward_units : forward_units);
    output = dims;
  } else {
    output.reset();
  }
  return true;
}

std::optional<std::string> keras_bidirectional_weight_path(const KerasLayerWeights& layer, const NamedTensor& weight) {
  if (layer.class_name != kBidirectional) return std::nullopt;
  const auto parts = inner_and_weight(layer.name, weight.name);
  if (!parts) return std::nullopt;
  return parts->first + "/" + cell_name(layer, parts->first) + "/" + parts->second;
}

bool write_keras_bidirectional_weights(hid_t file, const KerasLayerWeights& layer,
                                       std::map<std::string, std::string>& datasets) {
  if (layer.class_name != kBidirectional) return false;
  const std::string root = "layers/" + layer.weights_group;
  create_named_vars(file, root + "/vars", layer.name);
  const std::vector<std::string> inner = inner_layers(layer);
  for (std::size_t k = 0; k < inner.size() && k < 2; ++k) {
    const std::string base = root + (k == 0 ? "/forward_layer" : "/backward_layer");
    create_named_vars(file, base + "/vars", inner[k]);
    const Handle vars = create_named_vars(file, base + "/cell/vars", cell_name(layer, inner[k]));
    std::size_t index = 0;
    for (const NamedTensor* w : layer.weights) {
      const auto parts = inner_and_weight(layer.name, w->name);
      if (!parts || parts->first != inner[k]) continue;
      write_floats(vars, std::to_string(index), w->shape, w->values);
      datasets[w->name] = "/" + base + "/cell/vars/" + std::to_string(index);
      ++index;
    }
  }
  return true;
}

void normalize_keras_bidirectional(Json& spec) {
  if (!spec.is_object() || spec.value("class_name", std::string()) != kBidirectional) return;
  if (!spec.contains("config") || !spec["config"].is_object()) return;
  for (const char* key : {"layer", "backward_layer"}) {
    Json& inner = spec["config"][key];
    if (inner.is_null()) {
      if (std::string(key) == "backward_layer") spec["config"].erase(key);
      continue;
    }
    inner = plugfit::keras_layer_spec(inner);
    if (inner.is_object() && inner.contains("config") && inner["config"].is_object())
      inner["config"].erase("zero_output_for_mask");
  }
}

std::optional<std::string> keras_bidirectional_h5_weight(const std::string& layer, const std::string& weight_path) {
  std::vector<std::string> parts;
  std::size_t start = 0, slash = 0;
  while ((slash = weight_path.find('/', start)) != std::string::npos) {
    parts.push_back(weight_path.substr(start, slash - start));
    start = slash + 1;
  }
  parts.push_back(weight_path.substr(start));
  for (std::size_t i = 1; i + 2 < parts.size(); ++i) {
    const bool inner = parts[i].rfind("forward_", 0) == 0 || parts[i].rfind("backward_", 0) == 0;
    if (!inner || parts[i - 1] != layer) continue;
    std::string last = parts.back();
    if (const auto colon = last.rfind(':'); colon != std::string::npos) last.resize(colon);  // TensorFlow's ":0"
    return parts[i] + "/" + last;
  }
  return std::nullopt;
}

void order_keras_bidirectional_weights(std::vector<NamedTensor>& tensors, Json& layer_weights,
                                       std::vector<bool>& trainable) {
  if (!layer_weights.is_array()) return;
  const std::size_t n = layer_weights.size();
  if (n == 0 || n > tensors.size() || n > trainable.size()) return;
  const std::size_t first = tensors.size() - n, first_flag = trainable.size() - n;
  // "weights/<layer>/forward_layer/cell/0": the component below the layer.
  auto side = [&](std::size_t i) {
    const std::string& name = tensors[first + i].name;
    const auto a = name.find('/', name.find('/') + 1);
    const auto b = a == std::string::npos ? a : name.find('/', a + 1);
    return b == std::string::npos ? std::string() : name.substr(a + 1, b - a - 1);
  };
  bool backward_seen = false;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string s = side(i);
    if (s != "forward_layer" && s != "backward_layer") return;  // not a Bidirectional's groups
    backward_seen |= s == "backward_layer";
  }
  if (!backward_seen) return;
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::stable_partition(order.begin(), order.end(), [&](std::size_t i) { return side(i) == "forward_layer"; });
  std::vector<NamedTensor> moved;
  std::vector<bool> flags;
  Json names = Json::array();
  for (std::size_t i : order) {
    moved.push_back(std::move(tensors[first + i]));
    flags.push_back(trainable[first_flag + i]);
    names.push_back(layer_weights[i]);
  }
  for (std::size_t i = 0; i < n; ++i) {
    tensors[first + i] = std::move(moved[i]);
    trainable[first_flag + i] = flags[i];
  }
  layer_weights = std::move(names);
}

}  // namespace plugfit_hdf5
