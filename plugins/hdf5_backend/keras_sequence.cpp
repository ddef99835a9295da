#include "keras_sequence.hpp"

#include <map>

namespace plugfit_hdf5 {

using plugfit::InputError;
using plugfit::Json;

const std::vector<std::string>& keras_sequence_classes() {
  static const std::vector<std::string> names = {
      "SimpleRNN",          "LSTM",           "GRU",          "Embedding",
      "Masking",            "Conv1D",         "MaxPooling1D", "AveragePooling1D",
      "GlobalMaxPooling1D", "GlobalAveragePooling1D", "LayerNormalization", "RepeatVector",
      "TimeDistributed"};
  return names;
}

void sequence_config_from_keras(const std::string& class_name, Json& config, const std::string& where) {
  if (!config.is_object()) return;
  for (auto& [key, value] : config.items())
    if (key.ends_with("_initializer") && value.is_object() && value.value("class_name", std::string()) == "OrthogonalInitializer")
      value["class_name"] = "Orthogonal";
  if (class_name != "SimpleRNN" && class_name != "LSTM" && class_name != "GRU") return;
  if (!config.contains("zero_output_for_mask")) return;
  const Json flag = config["zero_output_for_mask"];
  if (flag == Json(true))
    throw InputError(where + " has zero_output_for_mask true, which plugfit's " + class_name +
                     " does not support (a masked step repeats the previous output, Keras's default)");
  if (flag.is_null() || flag == Json(false)) config.erase("zero_output_for_mask");
}

KerasNesting keras_nesting(const std::string& class_name, const Json& config) {
  // Keras 3's cells: LSTMCell, GRUCell and SimpleRNNCell, named after the layer's class.
  static const std::map<std::string, std::string> cells = {
      {"LSTM", "lstm_cell"}, {"GRU", "gru_cell"}, {"SimpleRNN", "simple_rnn_cell"}};
  if (const auto it = cells.find(class_name); it != cells.end()) return {"cell", it->second};
  if (class_name == "TimeDistributed") {
    const Json layer = config.is_object() ? config.value("layer", Json()) : Json();
    const Json inner = layer.is_object() ? layer.value("config", Json::object()) : Json::object();
    const Json name = inner.is_object() ? inner.value("name", Json()) : Json();
    if (name.is_string()) return {"layer", name.get<std::string>()};
  }
  return {};
}

}  // namespace plugfit_hdf5
