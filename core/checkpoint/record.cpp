#include "record.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <cctype>
#include <map>
#include <optional>
#include <set>

#include <plugfit/version.hpp>

#include "../metrics/metrics.hpp"
#include "../model/sequential.hpp"
#include "keras_record_checks.hpp"
#include "../plugin_loading/loader.hpp"

namespace plugfit {

namespace {

constexpr int kRecordFormat = 1;

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string class_name_of(const Json& spec) {
  return spec.is_string() ? spec.get<std::string>() : spec.value("class_name", std::string());
}
Json config_of(const Json& spec) { return spec.is_object() ? spec.value("config", Json::object()) : Json::object(); }

}  // namespace

void check_state_keys(const std::vector<Callback*>& callbacks) {
  std::set<std::string> keys;
  for (const Callback* cb : callbacks) {
    if (cb->state().empty()) continue;
    if (!keys.insert(cb->state_key()).second)
      throw InputError("two stateful callbacks share the state key \"" + cb->state_key() +
                       "\"; their states would overwrite each other in checkpoints (give them different options)");
  }
}

CheckpointRecord capture_record(Sequential& model, const Registry& registry, const Json& compile_config,
                                const TrainingPosition& position, const std::vector<Callback*>& callbacks,
                                const Logs& metrics, bool weights_only) {
  CheckpointRecord record;
  Json plugins = Json::object();
  for (std::size_t i = 0; i < model.num_layers(); ++i) {
    const TypeEntry* entry = registry.find(TypeKind::layer, model.layer_class(i));
    if (entry != nullptr && !entry->provider.empty()) plugins[entry->provider] = entry->provider_version;
  }
  Json& info = record.info;
  info = {{"format", kRecordFormat},
          {"kind", weights_only ? "weights" : "full"},
          {"plugfit_version", PLUGFIT_VERSION},
          {"sdk_abi", std::to_string(PLUGFIT_SDK_ABI_MAJOR) + "." + std::to_string(PLUGFIT_SDK_ABI_MINOR)},
          {"time", utc_now()},
          {"model", model.get_config()},
          {"plugins", plugins},
          {"input_shape", model.input_shape()},
          {"epoch", position.epoch},
          {"metrics", metrics.to_json()}};
  if (!compile_config.empty()) info["compile"] = compile_config;
  for (const Weight* w : model.weights())
    record.tensors.push_back({"weights/" + w->name, w->shape, std::vector<float>(w->value_data, w->value_data + w->size)});
  if (weights_only) return record;

  Optimizer* optimizer = model.optimizer();
  if (optimizer == nullptr) throw RuntimeFailure("a full checkpoint needs a compiled model");
  info["optimizer"] = {{"iterations", optimizer->iterations()}, {"learning_rate", optimizer->learning_rate()}};
  const auto& state = model.rng().state();
  info["training"] = {{"epoch", position.epoch},
                      {"batch", position.batch},
                      {"global_step", position.global_step},
                      {"seed", position.seed},
                      {"rng", {state[0], state[1], state[2], state[3]}}};
  Json callback_states = Json::object();
  for (const Callback* cb : callbacks) {
    Json s = cb->state();
    if (!s.empty()) callback_states[cb->state_key()] = std::move(s);
  }
  info["callbacks"] = callback_states;
  for (const auto& slot : optimizer->slots()) {
    for (const Weight* w : model.weights()) {
      if (!w->trainable) continue;  // slots cover the trainable prefix only
      const float* begin = slot.values->data() + w->offset;
      record.tensors.push_back({"optimizer/" + slot.name + "/" + w->name, w->shape, std::vector<float>(begin, begin + w->size)});
    }
  }
  return record;
}

namespace {

// Keras's load_weights for files without names that match (a Keras weights-only .h5): the
// record lists its layers with their weights in order, and they are matched to the model's
// layers that have weights, by position, with Keras's error texts.
void restore_weights_by_position(Sequential& model, const CheckpointRecord& record) {
  std::vector<std::pair<std::string, std::vector<std::string>>> saved;
  for (const auto& layer : record.info.at("keras").at("layers")) {
    std::vector<std::string> names = layer.value("weights", std::vector<std::string>{});
    if (!names.empty()) saved.emplace_back(layer.value("name", std::string()), std::move(names));
  }
  std::vector<std::pair<std::string, std::vector<Weight*>>> layers;
  std::vector<std::string> class_paths;  // Keras 3's name of each layer with weights in a .weights.h5
  std::map<std::string, int> class_counts;
  for (std::size_t i = 0; i < model.num_layers(); ++i) {
    std::string path;
    if (model.layer_class(i) != "InputLayer") {  // Keras's Sequential keeps no InputLayer
      const std::string base = keras_snake_case(model.layer_class(i));
      const int n = class_counts[base]++;
      path = n == 0 ? base : base + "_" + std::to_string(n);
    }
    std::vector<Weight*> own;
    for (Weight* w : model.weights())
      if (w->name.rfind(model.layer(i).name() + "/", 0) == 0) own.push_back(w);
    // Keras lists a layer's trainable weights, then its non-trainable ones.
    std::stable_partition(own.begin(), own.end(), [](const Weight* w) { return w->trainable; });
    if (!own.empty()) {
      layers.emplace_back(model.layer(i).name(), std::move(own));
      class_paths.push_back(path);
    }
  }
  // A Keras 3 .weights.h5 names its layers by class in model order: put them in the model's
  // order when every one is found so (otherwise by position, with Keras's messages below).
  if (record.info["keras"].value("layers_named_by_class", false) && saved.size() == class_paths.size()) {
    std::vector<std::pair<std::string, std::vector<std::string>>> ordered;
    for (const auto& path : class_paths) {
      const auto it = std::find_if(saved.begin(), saved.end(), [&](const auto& s) { return s.first == path; });
      if (it == saved.end()) break;
      ordered.push_back(*it);
    }
    if (ordered.size() == saved.size()) saved = std::move(ordered);
  }
  if (layers.size() != saved.size())
    throw InputError("Layer count mismatch when loading weights from file. Model expected " +
                     std::to_string(layers.size()) + " layers, found " + std::to_string(saved.size()) + " saved layers.");
  for (std::size_t k = 0; k < layers.size(); ++k) {
    const auto& [name, weights] = layers[k];
    const auto& [saved_name, saved_weights] = saved[k];
    if (weights.size() != saved_weights.size())
      throw InputError("Weight count mismatch for layer #" + std::to_string(k) + " (named " + name +
                       " in the current model, " + saved_name + " in the save file). Layer expects " +
                       std::to_string(weights.size()) + " weight(s). Received " + std::to_string(saved_weights.size()) +
                       " saved weight(s)");
    for (std::size_t j = 0; j < weights.size(); ++j) {
      const NamedTensor* t = record.find(saved_weights[j]);
      if (t == nullptr) throw CheckpointCorrupt("the file lists a weight \"" + saved_weights[j] + "\" it does not hold");
      if (t->shape != weights[j]->shape)
        throw InputError("the weight \"" + weights[j]->name + "\" has shape " + full_shape_str(weights[j]->shape) +
                         " in the model but the saved weight \"" + saved_weights[j] + "\" (layer #" + std::to_string(k) +
                         ", " + saved_name + ") has shape " + full_shape_str(t->shape));
    }
  }
  for (std::size_t k = 0; k < layers.size(); ++k)
    for (std::size_t j = 0; j < layers[k].second.size(); ++j) {
      const NamedTensor* t = record.find(saved[k].second[j]);
      std::copy(t->values.begin(), t->values.end(), layers[k].second[j]->value_data);
    }
}

// Whether a compile config's optimizer is RMSprop with Keras <= 2.3's update (epsilon outside
// the square root); nullopt when it is not RMSprop.
std::optional<bool> rmsprop_epsilon_outside_sqrt(const Json& compile_config) {
  if (!compile_config.is_object()) return std::nullopt;
  const Json spec = compile_config.value("optimizer", Json());
  if (!spec.is_string() && !spec.is_object()) return std::nullopt;
  std::string name = class_name_of(spec);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  if (name != "rmsprop") return std::nullopt;
  const Json config = spec.is_object() ? spec.value("config", Json::object()) : Json::object();
  const Json flag = config.is_object() ? config.value("epsilon_outside_sqrt", Json(false)) : Json(false);
  return flag.is_boolean() && flag.get<bool>();
}

}  // namespace


namespace {

void restore_weights_checked_for_inference(Sequential& model, const CheckpointRecord& record) {
  refuse_keras_layers_plugfit_lacks(record);
  if (record.info.contains("keras") && record.info["keras"].value("weights_by_position", false)) {
    restore_weights_by_position(model, record);
    return;
  }
  std::set<std::string> expected;
  for (const Weight* w : model.weights()) {
    const std::string key = "weights/" + w->name;
    expected.insert(key);
    const NamedTensor* t = record.find(key);
    if (t == nullptr) throw InputError("the checkpoint has no weight \"" + w->name + "\" for the model's layer");
    if (t->shape != w->shape)
      throw InputError("the weight \"" + w->name + "\" has shape " + full_shape_str(t->shape) +
                       " in the checkpoint but " + full_shape_str(w->shape) + " in the model");
  }
  for (const auto& t : record.tensors)
    if (t.name.rfind("weights/", 0) == 0 && expected.count(t.name) == 0)
      throw InputError("the checkpoint has a weight \"" + t.name.substr(8) + "\" that the model does not have");
  for (Weight* w : model.weights()) {
    const NamedTensor* t = record.find("weights/" + w->name);
    std::copy(t->values.begin(), t->values.end(), w->value_data);
  }
}

}  // namespace

void restore_weights(Sequential& model, const CheckpointRecord& record) {
  refuse_keras_regularizers(record);  // training goes on from these weights
  restore_weights_checked_for_inference(model, record);
}

void restore_optimizer(Sequential& model, const CheckpointRecord& record) {
  Optimizer* optimizer = model.optimizer();
  if (optimizer == nullptr) throw RuntimeFailure("restoring optimizer state needs a compiled model");
  if (record.info.value("kind", "") != "full") throw InputError("a weights-only checkpoint holds no optimizer state");
  const bool by_position = record.info.contains("keras") && record.info["keras"].value("weights_by_position", false);
  std::vector<const Weight*> trainable;  // slots cover the trainable prefix only
  for (const Weight* w : model.weights())
    if (w->trainable) trainable.push_back(w);
  for (auto& slot : optimizer->slots()) {
    // A Keras file names weights its own way: its slot tensors are matched to the model's
    // weights in order, as its weights are.
    std::vector<const NamedTensor*> saved;
    if (by_position) {
      for (const auto& t : record.tensors)
        if (t.name.rfind("optimizer/" + slot.name + "/", 0) == 0) saved.push_back(&t);
      if (saved.size() != trainable.size())
        throw InputError("the checkpoint holds " + std::to_string(saved.size()) + " \"" + slot.name +
                         "\" optimizer tensors for a model with " + std::to_string(trainable.size()) +
                         " trainable weights");
    }
    for (std::size_t i = 0; i < trainable.size(); ++i) {
      const Weight* w = trainable[i];
      const std::string key = by_position ? saved[i]->name : "optimizer/" + slot.name + "/" + w->name;
      const NamedTensor* t = record.find(key);
      if (t == nullptr) throw InputError("the checkpoint has no optimizer state \"" + key + "\"");
      if (t->shape != w->shape)
        throw InputError("the optimizer state \"" + key + "\" has shape " + full_shape_str(t->shape) +
                         " in the checkpoint but " + full_shape_str(w->shape) + " in the model");
      std::copy(t->values.begin(), t->values.end(), slot.values->data() + w->offset);
    }
  }
  // RMSprop's slot means one thing under each era's update: resuming it under the other would
  // silently change the training, so the run must name the record's form.
  const auto saved_form = rmsprop_epsilon_outside_sqrt(record.info.value("compile", Json::object()));
  const auto run_form = rmsprop_epsilon_outside_sqrt(model.compile_config());
  if (saved_form && run_form && *saved_form != *run_form)
    throw InputError((is_keras_record(record) ? keras_file_of(record) + ": " : std::string()) +
                     "the checkpoint's RMSprop state was built with " +
                     (*saved_form ? "Keras <= 2.3's update (epsilon outside the square root)"
                                  : "the update with epsilon inside the square root") +
                     "; set \"epsilon_outside_sqrt\": " + (*saved_form ? "true" : "false") +
                     " in the run's RMSprop config to resume it");
  const Json& state = record.info.at("optimizer");
  optimizer->set_iterations(state.at("iterations").get<std::int64_t>());
  optimizer->set_learning_rate(state.at("learning_rate").get<double>());
}

void restore_callbacks(const std::vector<Callback*>& callbacks, const CheckpointRecord& record) {
  const Json states = record.info.value("callbacks", Json::object());
  for (Callback* cb : callbacks) {
    auto it = states.find(cb->state_key());
    if (it != states.end()) cb->load_state(*it);
  }
}

TrainingPosition restore_position(Sequential& model, const CheckpointRecord& record) {
  const Json& t = record.info.at("training");
  TrainingPosition position{t.at("epoch").get<int>(), t.at("batch").get<std::int64_t>(),
                            t.at("global_step").get<std::int64_t>(), t.at("seed").get<std::uint64_t>()};
  Rng::State state{};
  for (std::size_t i = 0; i < 4; ++i) state[i] = t.at("rng").at(i).get<std::uint64_t>();
  model.rng().set_state(state);
  return position;
}

void compile_from_config(Sequential& model, const Json& compile_config, const Registry& registry) {
  const Json optimizer_spec = compile_config.value("optimizer", Json("Adam"));
  const Json loss_spec = compile_config.value("loss", Json("sparse_categorical_crossentropy"));
  const std::string loss_name = class_name_of(loss_spec);
  std::vector<std::unique_ptr<Metric>> metrics;
  for (const auto& spec : compile_config.value("metrics", Json::array())) {
    const std::string requested = class_name_of(spec);
    const Json config = config_of(spec);
    auto metric = registry.create_metric(requested, config);
    // The log key is the config's "name" when given (Keras's AUC(curve="PR", name="pr_auc")).
    const std::string key = config.contains("name") && config["name"].is_string() ? config["name"].get<std::string>() : requested;
    metric->set_name(key == "acc" ? "accuracy" : key);
    metrics.push_back(std::move(metric));
  }
  model.compile(registry.create_optimizer(class_name_of(optimizer_spec), config_of(optimizer_spec)),
                registry.create_loss(loss_name, config_of(loss_spec)), loss_name, std::move(metrics));
}

namespace {

// info with the open lengths of a Keras file's input shape set from the data's sample shape.
Json with_data_input_shape(Json info, const Shape* sample_shape, const std::string& file) {
  const Json keras = info.value("keras", Json::object());
  const Json open = keras.is_object() ? keras.value("input_batch_shape", Json()) : Json();
  if (info.contains("input_shape") || !open.is_array() || open.empty()) return info;
  if (sample_shape == nullptr)
    throw InputError(file + ": the model's input shape " + open.dump() +
                     " leaves a length open; plugfit builds such a model for the data given to predict or evaluate");
  const Shape& sample = *sample_shape;
  bool fits = sample.size() + 1 == open.size();
  for (std::size_t i = 1; fits && i < open.size(); ++i)
    fits = open[i].is_null() || (open[i].is_number_integer() && open[i].get<long long>() == static_cast<long long>(sample[i - 1]));
  if (!fits)
    throw InputError(file + ": the data's samples have shape " + shape_str(sample) + ", which the model's input shape " +
                     open.dump() + " does not take");
  Json batch = Json::array({nullptr});
  for (const std::size_t d : sample) batch.push_back(d);
  info["input_shape"] = sample;
  Json& layers = info["model"]["config"]["layers"];
  if (layers.is_array() && !layers.empty() && layers[0].contains("config") && layers[0]["config"].is_object())
    for (const char* key : {"batch_shape", "batch_input_shape"})
      if (layers[0]["config"].contains(key)) layers[0]["config"][key] = batch;
  return info;
}

}  // namespace

std::unique_ptr<Sequential> model_from_record(const CheckpointRecord& record, const Registry& registry,
                                              PluginLoader& loader, const Shape* sample_shape) {
  refuse_keras_layers_plugfit_lacks(record);  // before any word about what a model it cannot build ignores
  // A file Keras saved may name training-only options plugfit cannot use: said once, then left out.
  std::vector<std::string> ignored;
  const Json info = is_keras_record(record) && record.info.contains("model")
                        ? with_data_input_shape(keras_inference_info(record.info, registry, ignored), sample_shape,
                                                keras_file_of(record))
                        : record.info;
  if (!ignored.empty()) {
    std::string list;
    for (const auto& item : ignored) list += (list.empty() ? "" : ", ") + item;
    std::fprintf(stderr, "plugfit: warning: %s: ignoring training-only settings plugfit cannot use: %s\n",
                 keras_file_of(record).c_str(), list.c_str());
  }
  if (!info.contains("model")) {
    if (info.value("kind", "") == "weights")
      throw InputError("the checkpoint holds weights without a model architecture (a Keras save_weights file?); "
                       "load it into a model with \"load_weights\" in a run file");
    throw CheckpointCorrupt("the checkpoint holds no model config");
  }
  const Json plugins = info.value("plugins", Json::object());
  for (auto it = plugins.begin(); it != plugins.end(); ++it) {
    if (loader.is_loaded(it.key())) continue;
    try {
      loader.load(it.key());
    } catch (const PluginError& e) {
      std::string types;
      for (const auto& layer : info.at("model").at("config").at("layers")) {
        const std::string name = layer.value("class_name", std::string());
        if (plugin_of(name) == it.key()) types += (types.empty() ? "" : ", ") + name;
      }
      throw PluginError("the checkpoint's model uses " + types + " from plugin " + it.key() + " " +
                        it.value().get<std::string>() + ", which cannot be loaded: " + e.what());
    }
  }
  refuse_keras_layers_plugfit_lacks(record);
  loader.load_plugins_named_in(info["model"]);
  auto model = Sequential::from_config(info["model"], registry);
  model->build(info.at("input_shape").get<Shape>(), 0);
  restore_weights_checked_for_inference(*model, record);
  if (info.contains("compile")) compile_from_config(*model, info["compile"], registry);
  // An optimizer left out above has no state to restore (predict and evaluate never step).
  const bool optimizer_kept = info.value("compile", Json::object()).contains("optimizer") ||
                              !record.info.value("compile", Json::object()).contains("optimizer");
  if (info.value("kind", "") == "full" && info.contains("compile") && optimizer_kept) restore_optimizer(*model, record);
  return model;
}

}  // namespace plugfit
