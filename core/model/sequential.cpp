#include "sequential.hpp"

#include <plugfit/keras_config.hpp>

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

std::string keras_snake_case(const std::string& class_name) {
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

namespace {

// A type name as a message shows it: bare when it is a plain identifier ("Dense"), else quoted
// and cut (json_excerpt), so that a hostile name cannot fill or garble the sentence.
std::string bare_or_quoted(const std::string& name) {
  const bool plain = !name.empty() && name.size() <= 60 && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '>' || c == '.';
  });
  return plain ? name : json_excerpt(Json(name));
}

// Keras's "trainable" layer option: absent or true trains the layer, false freezes it.
bool layer_trainable(const Json& layer_config, const std::string& name, const std::string& class_name) {
  if (!layer_config.is_object() || !layer_config.contains("trainable")) return true;
  const Json& flag = layer_config["trainable"];
  if (!flag.is_boolean())
    throw InputError("layer " + json_excerpt(Json(name)) + " (" + bare_or_quoted(class_name) + "): \"trainable\" must be true or false, got " +
                     json_excerpt(flag));
  return flag.get<bool>();
}

}  // namespace

Sequential::Sequential() : impl_(std::make_unique<Impl>()) {}
Sequential::~Sequential() = default;
Sequential::Sequential(Sequential&&) noexcept = default;
Sequential& Sequential::operator=(Sequential&&) noexcept = default;

const std::optional<Shape>& Sequential::declared_input_shape() const { return impl_->declared_input_shape_; }
bool Sequential::built() const { return impl_->built_; }
const Shape& Sequential::input_shape() const { return impl_->input_shape_; }
const Shape& Sequential::output_shape() const { return impl_->output_shape_; }
bool Sequential::compiled() const { return impl_->loss_ != nullptr; }
Loss& Sequential::loss() const { return *impl_->loss_; }
const std::string& Sequential::loss_name() const { return impl_->loss_name_; }
std::vector<std::unique_ptr<Metric>>& Sequential::metrics() { return impl_->metrics_; }
bool Sequential::softmax_fused() const { return impl_->softmax_fused_; }
Rng& Sequential::rng() { return impl_->rng_; }
std::size_t Sequential::num_params() const { return impl_->params_.size(); }
const std::string& Sequential::layer_class(std::size_t index) const { return impl_->class_names_.at(index); }
std::size_t Sequential::num_layers() const { return impl_->layers_.size(); }
Layer& Sequential::layer(std::size_t index) { return *impl_->layers_.at(index); }
const std::vector<Weight*>& Sequential::weights() const { return impl_->weights_; }
std::span<float> Sequential::parameters() { return impl_->params_; }
std::span<float> Sequential::gradients() { return impl_->grads_; }
std::size_t Sequential::num_trainable() const { return impl_->num_trainable_; }
Optimizer* Sequential::optimizer() { return impl_->optimizer_.get(); }

std::vector<const Weight*> Sequential::trainable_in_buffer_order() const {
  std::vector<const Weight*> out;
  for (const Weight* w : impl_->weights_)
    if (w->trainable) out.push_back(w);
  std::sort(out.begin(), out.end(), [](const Weight* a, const Weight* b) { return a->offset < b->offset; });
  return out;
}

std::unique_ptr<Sequential> Sequential::from_config(const Json& given, const Registry& registry) {
  // Keras's model.to_json() (it names its keras_version): normalised as a Keras file's config is.
  Json keras_form;
  if (is_keras_model_json(given) && given.value("class_name", Json()) == "Sequential") {
    keras_form = given;
    Json& inner = keras_form["config"];
    if (inner.is_array()) inner = Json{{"layers", inner}};  // Keras <= 2.2: the bare list of layers
    if (inner.is_object() && inner.contains("layers") && inner["layers"].is_array()) {
      for (auto& spec : inner["layers"]) spec = keras_layer_spec(spec);
      apply_keras_era(inner["layers"], given["keras_version"].get<std::string>());
    }
  }
  const Json& config = keras_form.is_null() ? given : keras_form;
  const Json* body = &config;
  if (config.is_object() && config.contains("class_name")) {
    if (config["class_name"] != "Sequential")
      throw InputError("only Sequential models are supported, got class_name " + json_excerpt(config["class_name"]));
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
      throw InputError(where + " needs a \"class_name\" string, got " + json_excerpt(spec));
    const std::string class_name = spec["class_name"].get<std::string>();
    const Json layer_config = spec.value("config", Json::object());
    // The options every Keras layer takes are the model's business (as in Keras's base Layer),
    // so a plugin's constructor sees only its own.
    Json own_config = layer_config;
    // Embedding's input_dim is its vocabulary, not Keras 2's input-shape shortcut.
    const TypeEntry* known = registry.find(TypeKind::layer, class_name);
    const bool embedding = known && known->name == "Embedding";
    if (own_config.is_object() && class_name != "InputLayer") {
      for (const char* key : {"name", "trainable", "input_shape", "batch_input_shape", "batch_shape", "input_dim"})
        if (!(embedding && std::string(key) == "input_dim")) own_config.erase(key);
      for (const char* key : kKerasPrecisionKeys) own_config.erase(key);
    }
    // The layer's name, as its config gives it or Keras would (dense, dense_1, ...); an unknown
    // class has none (creating it refuses it below).
    std::string name;
    if (layer_config.is_object() && layer_config.contains("name") && layer_config["name"].is_string()) {
      name = layer_config["name"].get<std::string>();
    } else if (registry.find(TypeKind::layer, class_name) != nullptr) {
      const std::string base = keras_snake_case(registry.resolve(TypeKind::layer, class_name).name);
      const int n = seen[base]++;
      name = n == 0 ? base : base + "_" + std::to_string(n);
    }
    std::unique_ptr<Layer> layer;
    try {
      layer = registry.create_layer(class_name, own_config);
    } catch (const InputError& e) {
      // A constructor names its class for direct callers ("Conv2D: ..."): said once here.
      std::string what = e.what();
      if (what.rfind(class_name + ": ", 0) == 0) what.erase(0, class_name.size() + 2);
      throw InputError((name.empty() ? where : "layer " + json_excerpt(Json(name))) + " (" +
                       bare_or_quoted(class_name) + "): " + what);
    }
    if (i == 0) {
      Json shape_keys = layer_config;
      if (embedding && shape_keys.is_object()) {  // Keras 2's input_length is the steps of the ids
        shape_keys.erase("input_dim");
        if (shape_keys.value("input_length", Json()).is_number_integer() && !shape_keys.contains("input_shape"))
          shape_keys["input_shape"] = Json::array({shape_keys["input_length"]});
      }
      model->impl_->declared_input_shape_ = plugfit::declared_input_shape(shape_keys);
    }
    if (auto* input = dynamic_cast<InputLayer*>(layer.get())) {
      if (i != 0) throw InputError(where + ": an InputLayer may only come first");
      model->impl_->declared_input_shape_ = input->shape();
    }
    if (names_taken[name]) throw InputError(where + ": the layer name " + json_excerpt(Json(name)) + " is used twice");
    names_taken[name] = true;
    layer->set_name(name);
    const TypeEntry& entry = registry.resolve(TypeKind::layer, class_name);
    check_keras_precision_options(layer_config, name, entry.name);
    model->impl_->trainable_.push_back(layer_trainable(layer_config, name, entry.name));
    model->impl_->class_names_.push_back(entry.name);
    model->impl_->origins_.push_back(entry.origin());
    model->impl_->layers_.push_back(std::move(layer));
  }
  return model;
}

void Sequential::build(const Shape& input_shape, std::uint64_t seed) {
  if (impl_->built_) throw RuntimeFailure("the model is already built");
  if (impl_->declared_input_shape_ && *impl_->declared_input_shape_ != input_shape)
    throw InputError("the model expects input of shape " + shape_str(*impl_->declared_input_shape_) +
                     " but the data has shape " + shape_str(input_shape));
  impl_->rng_.reseed(derive_seed(seed, 2));  // dropout stream
  checked_shape_size(input_shape, "the model's input");
  Shape shape = input_shape;
  impl_->input_shape_ = input_shape;
  impl_->layer_output_shapes_.clear();
  impl_->first_learning_layer_ = impl_->layers_.size();
  bool learns_before = false;  // a layer needs an input gradient only if something before it learns
  for (std::size_t i = 0; i < impl_->layers_.size(); ++i) {
    Layer& layer = *impl_->layers_[i];
    WeightCollector ctx(impl_->weight_store_, layer.name(), impl_->rng_, impl_->samples_, impl_->trainable_[i]);
    try {
      shape = layer.build(shape, ctx);
    } catch (const InputError&) {
      throw;
    } catch (...) {
      rethrow_from_layer(i, "build");
    }
    checked_shape_size(shape, "the output of the layer " + layer.name());
    layer.set_needs_input_gradient(learns_before);
    impl_->layer_params_.push_back(0);
    bool layer_learns = false;
    for (std::size_t w = impl_->weights_.size(); w < impl_->weight_store_.size(); ++w) {
      impl_->weights_.push_back(&impl_->weight_store_[w]);
      impl_->layer_params_.back() += impl_->weight_store_[w].size;
      layer_learns |= impl_->weight_store_[w].trainable && impl_->weight_store_[w].size > 0;
    }
    if (!learns_before && layer_learns) impl_->first_learning_layer_ = i;
    learns_before |= layer_learns;
    impl_->layer_output_shapes_.push_back(shape);
  }
  impl_->output_shape_ = shape;

  // Trainable weights first, so the optimizer steps over one prefix of the buffers.
  std::size_t total = 0;
  for (bool trainable : {true, false})
    for (Weight* w : impl_->weights_)
      if (w->trainable == trainable) {
        w->offset = total;
        total += w->size;
      }
  // The weights live in one flat buffer, a tensor like any other.
  if (total > max_tensor_elements())
    throw InputError("the model has " + std::to_string(total) + " parameters, more than the limit of " +
                     std::to_string(max_tensor_elements()) + " (PLUGFIT_MAX_TENSOR_ELEMENTS raises it)");
  impl_->num_trainable_ = 0;
  for (const Weight* w : impl_->weights_)
    if (w->trainable) impl_->num_trainable_ += w->size;
  impl_->params_.assign(total, 0.f);
  impl_->grads_.assign(total, 0.f);
  Rng init_rng(derive_seed(seed, 1));  // initial-weights stream, drawn in layer order
  for (Weight* w : impl_->weights_) {
    w->bind(impl_->params_.data() + w->offset, impl_->grads_.data() + w->offset);
    w->initializer.fill(w->value_data, w->shape, init_rng);
  }
  impl_->built_ = true;
  apply_pending_compile(*this);
}

void Sequential::compile(std::unique_ptr<Optimizer> optimizer, std::unique_ptr<Loss> loss, std::string loss_name,
                         std::vector<std::unique_ptr<Metric>> metrics) {
  if (!impl_->built_) throw RuntimeFailure("compile() needs a built model");
  impl_->optimizer_ = std::move(optimizer);
  std::vector<std::size_t> weight_sizes;  // the trainable prefix, in buffer order
  for (const Weight* w : trainable_in_buffer_order()) weight_sizes.push_back(w->size);
  impl_->optimizer_->build(weight_sizes);
  // Keras's scale_loss: the loss's gradient is scaled here and the optimizer unscales it.
  impl_->loss_ = impl_->optimizer_->loss_scale_factor() != 1.0 ? scale_loss_gradient(std::move(loss), impl_->optimizer_->loss_scale_factor())
                                                 : std::move(loss);
  impl_->loss_name_ = std::move(loss_name);
  impl_->metrics_ = std::move(metrics);
  impl_->softmax_fused_ = impl_->loss_->fuses_with_softmax() && impl_->layers_.back()->fuse_softmax_backward();
}

void Sequential::rethrow_from_layer(std::size_t i, const char* step) const {
  rethrow_as_failure("layer \"" + impl_->layers_[i]->name() + "\" (" + impl_->class_names_[i] +
                     (impl_->origins_[i].empty() ? "" : ", " + impl_->origins_[i]) + ") failed in " + step);
}

const Tensor& Sequential::forward(const Tensor& x, bool training) {
  const Tensor* a = &x;
  const Tensor* mask = nullptr;
  std::size_t mask_source = 0;  // the layer whose output_mask() is `mask`
  for (std::size_t i = 0; i < impl_->layers_.size(); ++i) {
    Layer& layer = *impl_->layers_[i];
    if (mask && layer.mask_support() == Layer::MaskSupport::none)
      throw InputError("layer \"" + layer.name() + "\" (" + impl_->class_names_[i] +
                       ") cannot take the mask that layer \"" + impl_->layers_[mask_source]->name() + "\" (" +
                       impl_->class_names_[mask_source] +
                       ") passes on; put a layer that consumes it (an RNN, GlobalAveragePooling1D) before it");
    layer.set_input_mask(mask);
    try {
      a = &layer.forward(*a, training);
    } catch (const InputError&) {
      throw;  // bad data (an Embedding's token id): the layer's sentence names it
    } catch (...) {
      rethrow_from_layer(i, "forward");
    }
    const Tensor* next = layer.output_mask();
    if (next != mask) mask_source = i;
    mask = next;
  }
  return *a;
}

void Sequential::backward(const Tensor& dy) {
  const Tensor* g = &dy;
  // Layers before the first one with weights learn nothing: no need to go further back.
  for (std::size_t i = impl_->layers_.size(); i-- > impl_->first_learning_layer_;) {
    try {
      g = &impl_->layers_[i]->backward(*g);
    } catch (...) {
      rethrow_from_layer(i, "backward");
    }
  }
}

Json Sequential::get_config() const {
  Json layers = Json::array();
  for (std::size_t i = 0; i < impl_->layers_.size(); ++i) {
    Json config = impl_->layers_[i]->get_config();
    // The host keeps each layer's name: get_config() holds only the layer's own options.
    if (!config.is_object()) config = Json::object();
    config["name"] = impl_->layers_[i]->name();
    if (!impl_->trainable_[i]) config["trainable"] = false;
    if (i == 0 && !dynamic_cast<const InputLayer*>(impl_->layers_[i].get()) && impl_->built_) {
      Json batch_shape = Json::array({nullptr});
      for (auto d : impl_->input_shape_) batch_shape.push_back(d);
      config["batch_input_shape"] = batch_shape;
    }
    layers.push_back({{"class_name", impl_->class_names_[i]}, {"config", config}});
  }
  return {{"class_name", "Sequential"}, {"config", {{"layers", layers}}}};
}

std::string Sequential::summary() const {
  std::string out;
  char line[200];
  std::snprintf(line, sizeof line, "%-34s %-20s %10s\n", "Layer (type)", "Output Shape", "Param #");
  out += line;
  for (std::size_t i = 0; i < impl_->layers_.size(); ++i) {
    const std::string label = impl_->layers_[i]->name() + " (" + impl_->class_names_[i] + ")";
    const std::string shape = impl_->built_ ? shape_str(impl_->layer_output_shapes_[i]) : "?";
    std::snprintf(line, sizeof line, "%-34s %-20s %10zu\n", label.c_str(), shape.c_str(),
                  impl_->built_ ? impl_->layer_params_[i] : std::size_t{0});
    out += line;
  }
  return out + "Total params: " + std::to_string(impl_->params_.size()) + "\n";
}

}  // namespace plugfit
