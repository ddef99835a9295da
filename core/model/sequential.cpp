#include "sequential.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include <plugfit/registry.hpp>

#include "../layers/basic_layers.hpp"
#include "../layers/build_context.hpp"
#include "../layers/keras_options.hpp"
#include "../losses/losses.hpp"
#include "../util/rethrow.hpp"

namespace plugfit {

namespace {

// "Dense" -> "dense", "acme>MyScale" -> "my_scale", as Keras names layers.
std::string snake_case(const std::string& class_name) {
  const auto pos = class_name.find('>');
  const std::string bare = pos == std::string::npos ? class_name : class_name.substr(pos + 1);
  std::string out;
  for (std::size_t i = 0; i < bare.size(); ++i) {
    const char c = bare[i];
    if (std::isupper(static_cast<unsigned char>(c))) {
      if (i > 0 && (std::islower(static_cast<unsigned char>(bare[i - 1])) ||
                    (i + 1 < bare.size() && std::islower(static_cast<unsigned char>(bare[i + 1])))))
        out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

// Keras's "trainable" layer option: absent or true trains the layer, false freezes it.
bool layer_trainable(const Json& layer_config, const std::string& name, const std::string& class_name) {
  if (!layer_config.is_object() || !layer_config.contains("trainable")) return true;
  const Json& flag = layer_config["trainable"];
  if (!flag.is_boolean())
    throw InputError("layer \"" + name + "\" (" + class_name + "): \"trainable\" must be true or false, got " +
                     flag.dump());
  return flag.get<bool>();
}

}  // namespace

std::vector<const Weight*> Sequential::trainable_in_buffer_order() const {
  std::vector<const Weight*> out;
  for (const Weight* w : weights_)
    if (w->trainable) out.push_back(w);
  std::sort(out.begin(), out.end(), [](const Weight* a, const Weight* b) { return a->offset < b->offset; });
  return out;
}

std::unique_ptr<Sequential> Sequential::from_config(const Json& config, const Registry& registry) {
  const Json* body = &config;
  if (config.is_object() && config.contains("class_name")) {
    if (config["class_name"] != "Sequential")
      throw InputError("only Sequential models are supported, got class_name " + config["class_name"].dump());
    if (!config.contains("config")) throw InputError("the model config has no \"config\" object");
    body = &config["config"];
  }
  if (!body->is_object() || !body->contains("layers") || !(*body)["layers"].is_array())
    throw InputError("the model config needs a \"layers\" list");
  const Json& specs = (*body)["layers"];
  if (specs.empty()) throw InputError("the model has no layers");

  std::unique_ptr<Sequential> model(new Sequential());
  std::map<std::string, int> seen;
  std::map<std::string, bool> names_taken;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const Json& spec = specs[i];
    const std::string where = "layer " + std::to_string(i);
    if (!spec.is_object() || !spec.contains("class_name") || !spec["class_name"].is_string())
      throw InputError(where + " needs a \"class_name\" string, got " + spec.dump());
    const std::string class_name = spec["class_name"].get<std::string>();
    const Json layer_config = spec.value("config", Json::object());
    // The options every Keras layer takes are the model's business (as in Keras's base Layer),
    // so a plugin's constructor sees only its own.
    Json own_config = layer_config;
    if (own_config.is_object() && class_name != "InputLayer") {
      for (const char* key : {"name", "trainable", "input_shape", "batch_input_shape", "batch_shape", "input_dim"})
        own_config.erase(key);
      for (const char* key : kKerasPrecisionKeys) own_config.erase(key);
    }
    std::unique_ptr<Layer> layer;
    try {
      layer = registry.create_layer(class_name, own_config);
    } catch (const InputError& e) {
      throw InputError(where + " (" + class_name + "): " + e.what());
    }
    if (i == 0) model->declared_input_shape_ = plugfit::declared_input_shape(layer_config);
    if (auto* input = dynamic_cast<InputLayer*>(layer.get())) {
      if (i != 0) throw InputError(where + ": an InputLayer may only come first");
      model->declared_input_shape_ = input->shape();
    }
    std::string name;
    if (layer_config.is_object() && layer_config.contains("name") && layer_config["name"].is_string()) {
      name = layer_config["name"].get<std::string>();
    } else {
      const std::string base = snake_case(registry.resolve(TypeKind::layer, class_name).name);
      const int n = seen[base]++;
      name = n == 0 ? base : base + "_" + std::to_string(n);
    }
    if (names_taken[name]) throw InputError(where + ": the layer name \"" + name + "\" is used twice");
    names_taken[name] = true;
    layer->set_name(name);
    const TypeEntry& entry = registry.resolve(TypeKind::layer, class_name);
    check_keras_precision_options(layer_config, name, entry.name);
    model->trainable_.push_back(layer_trainable(layer_config, name, entry.name));
    model->class_names_.push_back(entry.name);
    model->origins_.push_back(entry.origin());
    model->layers_.push_back(std::move(layer));
  }
  return model;
}

void Sequential::build(const Shape& input_shape, std::uint64_t seed) {
  if (built_) throw RuntimeFailure("the model is already built");
  if (declared_input_shape_ && *declared_input_shape_ != input_shape)
    throw InputError("the model expects input of shape " + shape_str(*declared_input_shape_) +
                     " but the data has shape " + shape_str(input_shape));
  rng_.reseed(derive_seed(seed, 2));  // dropout stream
  Shape shape = input_shape;
  input_shape_ = input_shape;
  layer_output_shapes_.clear();
  first_learning_layer_ = layers_.size();
  bool learns_before = false;  // a layer needs an input gradient only if something before it learns
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    Layer& layer = *layers_[i];
    WeightCollector ctx(weight_store_, layer.name(), rng_, trainable_[i]);
    try {
      shape = layer.build(shape, ctx);
    } catch (const InputError&) {
      throw;
    } catch (...) {
      rethrow_from_layer(i, "build");
    }
    layer.set_needs_input_gradient(learns_before);
    layer_params_.push_back(0);
    bool layer_learns = false;
    for (std::size_t w = weights_.size(); w < weight_store_.size(); ++w) {
      weights_.push_back(&weight_store_[w]);
      layer_params_.back() += weight_store_[w].size;
      layer_learns |= weight_store_[w].trainable && weight_store_[w].size > 0;
    }
    if (!learns_before && layer_learns) first_learning_layer_ = i;
    learns_before |= layer_learns;
    layer_output_shapes_.push_back(shape);
  }
  output_shape_ = shape;

  // Trainable weights first, so the optimizer steps over one prefix of the buffers.
  std::size_t total = 0;
  for (bool trainable : {true, false})
    for (Weight* w : weights_)
      if (w->trainable == trainable) {
        w->offset = total;
        total += w->size;
      }
  num_trainable_ = 0;
  for (const Weight* w : weights_)
    if (w->trainable) num_trainable_ += w->size;
  params_.assign(total, 0.f);
  grads_.assign(total, 0.f);
  Rng init_rng(derive_seed(seed, 1));  // initial-weights stream, drawn in layer order
  for (Weight* w : weights_) {
    w->bind(params_.data() + w->offset, grads_.data() + w->offset);
    w->initializer.fill(w->value_data, w->shape, init_rng);
  }
  built_ = true;
}

void Sequential::compile(std::unique_ptr<Optimizer> optimizer, std::unique_ptr<Loss> loss, std::string loss_name,
                         std::vector<std::unique_ptr<Metric>> metrics) {
  if (!built_) throw RuntimeFailure("compile() needs a built model");
  optimizer_ = std::move(optimizer);
  std::vector<std::size_t> weight_sizes;  // the trainable prefix, in buffer order
  for (const Weight* w : trainable_in_buffer_order()) weight_sizes.push_back(w->size);
  optimizer_->build(weight_sizes);
  // Keras's scale_loss: the loss's gradient is scaled here and the optimizer unscales it.
  loss_ = optimizer_->loss_scale_factor() != 1.0 ? scale_loss_gradient(std::move(loss), optimizer_->loss_scale_factor())
                                                 : std::move(loss);
  loss_name_ = std::move(loss_name);
  metrics_ = std::move(metrics);
  softmax_fused_ = loss_->fuses_with_softmax() && layers_.back()->fuse_softmax_backward();
}

void Sequential::rethrow_from_layer(std::size_t i, const char* step) const {
  rethrow_as_failure("layer \"" + layers_[i]->name() + "\" (" + class_names_[i] +
                     (origins_[i].empty() ? "" : ", " + origins_[i]) + ") failed in " + step);
}

const Tensor& Sequential::forward(const Tensor& x, bool training) {
  const Tensor* a = &x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    try {
      a = &layers_[i]->forward(*a, training);
    } catch (...) {
      rethrow_from_layer(i, "forward");
    }
  }
  return *a;
}

void Sequential::backward(const Tensor& dy) {
  const Tensor* g = &dy;
  // Layers before the first one with weights learn nothing: no need to go further back.
  for (std::size_t i = layers_.size(); i-- > first_learning_layer_;) {
    try {
      g = &layers_[i]->backward(*g);
    } catch (...) {
      rethrow_from_layer(i, "backward");
    }
  }
}

Json Sequential::get_config() const {
  Json layers = Json::array();
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    Json config = layers_[i]->get_config();
    if (!trainable_[i]) config["trainable"] = false;
    if (i == 0 && !dynamic_cast<const InputLayer*>(layers_[i].get()) && built_) {
      Json batch_shape = Json::array({nullptr});
      for (auto d : input_shape_) batch_shape.push_back(d);
      config["batch_input_shape"] = batch_shape;
    }
    layers.push_back({{"class_name", class_names_[i]}, {"config", config}});
  }
  return {{"class_name", "Sequential"}, {"config", {{"layers", layers}}}};
}

std::string Sequential::summary() const {
  std::string out;
  char line[200];
  std::snprintf(line, sizeof line, "%-34s %-20s %10s\n", "Layer (type)", "Output Shape", "Param #");
  out += line;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const std::string label = layers_[i]->name() + " (" + class_names_[i] + ")";
    const std::string shape = built_ ? shape_str(layer_output_shapes_[i]) : "?";
    std::snprintf(line, sizeof line, "%-34s %-20s %10zu\n", label.c_str(), shape.c_str(),
                  built_ ? layer_params_[i] : std::size_t{0});
    out += line;
  }
  return out + "Total params: " + std::to_string(params_.size()) + "\n";
}

}  // namespace plugfit
