#include "basic_layers.hpp"

#include <algorithm>

#include "keras_options.hpp"

namespace plugfit {

namespace {
Shape batch_shape_of(const Json& dims, bool has_batch, const char* key) {
  if (!dims.is_array()) throw InputError(std::string("\"") + key + "\" must be a list of dimensions, got " + dims.dump());
  Shape shape;
  for (std::size_t i = has_batch ? 1 : 0; i < dims.size(); ++i) {
    if (!dims[i].is_number_integer() || dims[i].get<long long>() <= 0)
      throw InputError(std::string("\"") + key + "\" must hold positive dimensions (None only for the batch), got " +
                       dims.dump());
    shape.push_back(dims[i].get<std::size_t>());
  }
  return shape;
}
}  // namespace

std::optional<Shape> declared_input_shape(const Json& c) {
  if (!c.is_object()) return std::nullopt;
  for (const char* key : {"batch_shape", "batch_input_shape"})
    if (c.contains(key) && !c[key].is_null()) return batch_shape_of(c[key], true, key);
  for (const char* key : {"input_shape", "shape"})
    if (c.contains(key) && !c[key].is_null()) return batch_shape_of(c[key], false, key);
  if (c.contains("input_dim") && c["input_dim"].is_number_integer() && c["input_dim"].get<long long>() > 0) return Shape{c["input_dim"].get<std::size_t>()};
  return std::nullopt;
}

InputLayer::InputLayer(Config& config) {
  auto shape = declared_input_shape(config.json());
  if (!shape) throw InputError("InputLayer needs \"shape\" (or \"batch_shape\")");
  shape_ = *shape;
  accept_keras_layer_options(config);
  config.accept({"shape", "sparse", "ragged", "optional"});
}

Shape InputLayer::build(const Shape& input_shape, BuildContext&) {
  if (input_shape != shape_)
    throw InputError("layer \"" + name() + "\" (InputLayer) declares shape " + shape_str(shape_) + " but receives " +
                     shape_str(input_shape));
  return shape_;
}

Json InputLayer::get_config() const {
  Json batch_shape = Json::array({nullptr});
  for (auto d : shape_) batch_shape.push_back(d);
  return {{"name", name()}, {"batch_shape", batch_shape}};
}

Activation::Activation(Config& config) : kind_(parse_activation(config.require<Json>("activation"), "Activation")) {
  accept_keras_layer_options(config);
}

Shape Activation::build(const Shape& input_shape, BuildContext&) {
  if (activation_is_rowwise(kind_) && input_shape.size() != 1)
    throw InputError("layer \"" + name() + "\" (Activation " + activation_name(kind_) + ") expects input of shape (None, classes), got " +
                     shape_str(input_shape));
  return input_shape;
}

const Tensor& Activation::forward(const Tensor& x, bool) {
  x_ = &x;
  y_.resize(x.shape());
  std::copy(x.begin(), x.end(), y_.begin());
  const std::size_t rows = x.shape()[0];
  activation_forward(kind_, y_.data(), rows, rows == 0 ? 0 : x.size() / rows);
  return y_;
}

const Tensor& Activation::backward(const Tensor& dy) {
  if (softmax_fused_) return dy;
  dx_.resize(dy.shape());
  const std::size_t rows = dy.shape()[0];
  activation_backward(kind_, x_->data(), y_.data(), dy.data(), dx_.data(), rows, rows == 0 ? 0 : dy.size() / rows);
  return dx_;
}

bool Activation::fuse_softmax_backward() {
  softmax_fused_ = kind_ == ActivationKind::softmax;
  return softmax_fused_;
}

Json Activation::get_config() const { return {{"name", name()}, {"activation", activation_name(kind_)}}; }

Dropout::Dropout(Config& config) : rate_(config.require<float>("rate")) {
  if (!(rate_ >= 0.f && rate_ < 1.f)) throw InputError("Dropout: \"rate\" must be in [0, 1), got " + config.raw("rate").dump());
  accept_keras_layer_options(config);
  reject_keras_extras(config, {"noise_shape"});
  if (config.has("seed"))
    throw InputError("Dropout: the option \"seed\" is not supported; the run's seed fixes dropout");
  config.accept({"seed"});
}

Shape Dropout::build(const Shape& input_shape, BuildContext& ctx) {
  samples_ = &ctx.sample_streams();
  return input_shape;
}

const Tensor& Dropout::forward(const Tensor& x, bool training) {
  applied_ = training && rate_ > 0.f;
  if (!applied_) return x;
  mask_.resize(x.shape());
  y_.resize(x.shape());
  const float keep_scale = 1.f / (1.f - rate_);
  float* m = mask_.data();
  float* y = y_.data();
  const float* in = x.data();
  const std::size_t rows = x.shape()[0], row_size = rows == 0 ? 0 : x.size() / rows;
  const SampleStreams::Batch draws = samples_->next_batch();
  for (std::size_t r = 0; r < rows; ++r) {
    Rng rng = draws.row(r);
    for (std::size_t i = r * row_size; i < (r + 1) * row_size; ++i) {
      m[i] = rng.uniform() >= rate_ ? keep_scale : 0.f;
      y[i] = in[i] * m[i];
    }
  }
  return y_;
}

const Tensor& Dropout::backward(const Tensor& dy) {
  if (!applied_) return dy;
  dx_.resize(dy.shape());
  const float* m = mask_.data();
  const float* d = dy.data();
  float* out = dx_.data();
  for (std::size_t i = 0; i < dy.size(); ++i) out[i] = d[i] * m[i];
  return dx_;
}

Json Dropout::get_config() const { return {{"name", name()}, {"rate", rate_}}; }

Flatten::Flatten(Config& config) {
  accept_keras_layer_options(config);
  const std::string order = config.get<std::string>("data_format", "channels_last");
  if (order != "channels_last") throw InputError("Flatten: only data_format \"channels_last\" is supported");
}

Shape Flatten::build(const Shape& input_shape, BuildContext&) {
  input_batch_shape_ = {0};
  input_batch_shape_.insert(input_batch_shape_.end(), input_shape.begin(), input_shape.end());
  features_ = shape_size(input_shape);
  return {features_};
}

const Tensor& Flatten::forward(const Tensor& x, bool) {
  y_.resize({x.shape()[0], features_});
  std::copy(x.data(), x.data() + x.size(), y_.data());
  return y_;
}

const Tensor& Flatten::backward(const Tensor& dy) {
  input_batch_shape_[0] = dy.shape()[0];  // a member: no allocation per batch
  dx_.resize(input_batch_shape_);
  std::copy(dy.data(), dy.data() + dy.size(), dx_.data());
  return dx_;
}

Json Flatten::get_config() const { return {{"name", name()}}; }

}  // namespace plugfit
