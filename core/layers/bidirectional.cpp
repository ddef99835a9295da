// Bidirectional: two recurrent layers driven through run_sequence()/backprop_sequence(), their
// outputs merged as Keras merges them.
#include "bidirectional.hpp"

#include <algorithm>
#include <functional>

#include <plugfit/keras_config.hpp>

#include "keras_options.hpp"
#include "recurrent.hpp"
#include "spatial_options.hpp"
#include "wrapped_layer.hpp"

namespace plugfit {

namespace {

const char* merge_name(Bidirectional::Merge merge) {
  switch (merge) {
    case Bidirectional::Merge::concat: return "concat";
    case Bidirectional::Merge::sum: return "sum";
    case Bidirectional::Merge::mul: return "mul";
    case Bidirectional::Merge::ave: return "ave";
  }
  return "concat";
}

Bidirectional::Merge parse_merge(Config& config, const std::string& at) {
  if (config.json().contains("merge_mode") && config.raw("merge_mode").is_null())
    throw InputError(at + "merge_mode null (the two outputs as a list) is not supported, since a Sequential model "
                          "passes one tensor on; use \"concat\", \"sum\", \"mul\" or \"ave\"");
  const std::string mode = config.get<std::string>("merge_mode", "concat");
  for (auto merge : {Bidirectional::Merge::concat, Bidirectional::Merge::sum, Bidirectional::Merge::mul,
                     Bidirectional::Merge::ave})
    if (mode == merge_name(merge)) return merge;
  throw InputError(at + "\"merge_mode\" must be \"concat\", \"sum\", \"mul\" or \"ave\", got \"" + mode + "\"");
}

// Python's str.removeprefix.
std::string without_prefix(const std::string& name, const std::string& prefix) {
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

Recurrent* as_recurrent(Layer& layer, const std::string& class_name, const std::string& at, const char* key) {
  auto* recurrent = dynamic_cast<Recurrent*>(&layer);
  if (recurrent == nullptr)
    throw InputError(at + "\"" + key + "\" must be a SimpleRNN, LSTM or GRU, got " + class_name);
  return recurrent;
}

}  // namespace

Bidirectional::Bidirectional(Config& config) {
  const std::string at = layer_label(config, "Bidirectional") + ": ";
  if (config.raw("layer").is_null())
    throw InputError(at + "needs \"layer\", the recurrent layer (SimpleRNN, LSTM or GRU) to run both ways");
  merge_ = parse_merge(config, at);
  Json spec = keras_layer_spec(config.raw("layer"));
  InnerLayer forward = make_inner_layer(config, spec, at, "layer");
  fwd_ = as_recurrent(*forward.layer, forward.class_name, at, "layer");
  const std::string given_name = forward.layer->name();
  forward.layer->set_name("forward_" + without_prefix(given_name, "forward_"));

  InnerLayer backward;
  if (!config.raw("backward_layer").is_null()) {
    backward = make_inner_layer(config, keras_layer_spec(config.raw("backward_layer")), at, "backward_layer");
  } else {
    // Keras recreates the layer from its config with go_backwards set (tf.keras 2: flipped).
    if (!spec["config"].is_object()) spec["config"] = Json::object();
    spec["config"]["go_backwards"] = !fwd_->go_backwards();
    backward = make_inner_layer(config, spec, at, "layer");
    backward.layer->set_name("backward_" + without_prefix(given_name, "backward_"));
  }
  bwd_ = as_recurrent(*backward.layer, backward.class_name, at, "backward_layer");
  if (fwd_->go_backwards() == bwd_->go_backwards())
    throw InputError(at + "the forward and backward layers must differ in go_backwards, both have " +
                     (fwd_->go_backwards() ? "true" : "false"));
  if (fwd_->return_sequences() != bwd_->return_sequences())
    throw InputError(at + "the forward and backward layers must agree on return_sequences");
  if (merge_ != Merge::concat && fwd_->units() != bwd_->units())
    throw InputError(at + "merge_mode \"" + merge_name(merge_) + "\" needs equal units, got " +
                     std::to_string(fwd_->units()) + " forward and " + std::to_string(bwd_->units()) + " backward");
  if (forward.layer->name() == backward.layer->name())
    throw InputError(at + "the forward and backward layers are both named \"" + forward.layer->name() +
                     "\"; their weights need different names");
  return_sequences_ = fwd_->return_sequences();
  forward_ = std::move(forward.layer);
  backward_ = std::move(backward.layer);
  forward_class_ = std::move(forward.class_name);
  backward_class_ = std::move(backward.class_name);
  forward_trainable_ = forward.trainable;
  backward_trainable_ = backward.trainable;
  reject_keras_extras(config, {"weights"});
  accept_keras_layer_options(config);
}

Bidirectional::~Bidirectional() = default;

std::string Bidirectional::label() const { return layer_label(name(), "Bidirectional"); }

Shape Bidirectional::build(const Shape& input_shape, BuildContext& ctx) {
  InnerBuildContext forward_ctx(ctx, forward_trainable_, forward_->name() + "/");
  InnerBuildContext backward_ctx(ctx, backward_trainable_, backward_->name() + "/");
  Shape out;
  try {
    out = forward_->build(input_shape, forward_ctx);
    backward_->build(input_shape, backward_ctx);
  } catch (const InputError& e) {
    throw InputError(label() + ": " + e.what());
  }
  steps_ = input_shape[0];
  uf_ = fwd_->units();
  ub_ = bwd_->units();
  out.back() = merge_ == Merge::concat ? uf_ + ub_ : uf_;
  return out;
}

const Tensor& Bidirectional::forward(const Tensor& x, bool training) {
  const Tensor* mask = input_mask();
  const Tensor& yf = fwd_->run_sequence(x, mask, training, fwd_->go_backwards());
  const Tensor& yb = bwd_->run_sequence(x, mask, training, bwd_->go_backwards());
  const std::size_t N = x.shape()[0], T = steps_;
  if (return_sequences_) {
    // Keras flips the backward output back to time order; masked steps output zeros.
    yf_.resize({N, T, uf_});
    yb_.resize({N, T, ub_});
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t t = 0; t < T; ++t) {
        const bool real = mask == nullptr || mask->data()[n * T + t] != 0.f;
        float* f = yf_.data() + (n * T + t) * uf_;
        float* b = yb_.data() + (n * T + t) * ub_;
        if (real) {
          std::copy_n(yf.data() + (n * T + t) * uf_, uf_, f);
          std::copy_n(yb.data() + (n * T + (T - 1 - t)) * ub_, ub_, b);
        } else {
          std::fill_n(f, uf_, 0.f);
          std::fill_n(b, ub_, 0.f);
        }
      }
  } else {
    yf_.resize({N, uf_});
    yb_.resize({N, ub_});
    std::copy_n(yf.data(), N * uf_, yf_.data());
    std::copy_n(yb.data(), N * ub_, yb_.data());
  }
  const std::size_t rows = return_sequences_ ? N * T : N;
  const std::size_t width = merge_ == Merge::concat ? uf_ + ub_ : uf_;
  if (return_sequences_) y_.resize({N, T, width});
  else y_.resize({N, width});
  for (std::size_t r = 0; r < rows; ++r) {
    const float* f = yf_.data() + r * uf_;
    const float* b = yb_.data() + r * ub_;
    float* out = y_.data() + r * width;
    switch (merge_) {
      case Merge::concat:
        std::copy_n(f, uf_, out);
        std::copy_n(b, ub_, out + uf_);
        break;
      case Merge::sum: for (std::size_t j = 0; j < uf_; ++j) out[j] = f[j] + b[j]; break;
      case Merge::mul: for (std::size_t j = 0; j < uf_; ++j) out[j] = f[j] * b[j]; break;
      case Merge::ave: for (std::size_t j = 0; j < uf_; ++j) out[j] = (f[j] + b[j]) / 2.f; break;
    }
  }
  return y_;
}

const Tensor& Bidirectional::backward(const Tensor& dy) {
  const Tensor* mask = input_mask();
  const std::size_t N = dy.shape()[0], T = steps_;
  const std::size_t width = merge_ == Merge::concat ? uf_ + ub_ : uf_;
  if (return_sequences_) {
    dyf_.resize({N, T, uf_});
    dyb_.resize({N, T, ub_});
  } else {
    dyf_.resize({N, uf_});
    dyb_.resize({N, ub_});
  }
  const std::size_t rows = return_sequences_ ? N * T : N;
  for (std::size_t r = 0; r < rows; ++r) {
    const std::size_t n = r / (return_sequences_ ? T : 1), t = return_sequences_ ? r % T : 0;
    // The backward layer's gradient goes to its processing order: time step t is its T-1-t.
    const std::size_t rb = return_sequences_ ? n * T + (T - 1 - t) : r;
    const float* d = dy.data() + r * width;
    const float* f = yf_.data() + r * uf_;
    const float* b = yb_.data() + r * ub_;
    float* gf = dyf_.data() + r * uf_;
    float* gb = dyb_.data() + rb * ub_;
    if (return_sequences_ && mask != nullptr && mask->data()[n * T + t] == 0.f) {  // a zeroed output
      std::fill_n(gf, uf_, 0.f);
      std::fill_n(gb, ub_, 0.f);
      continue;
    }
    switch (merge_) {
      case Merge::concat:
        std::copy_n(d, uf_, gf);
        std::copy_n(d + uf_, ub_, gb);
        break;
      case Merge::sum:
        std::copy_n(d, uf_, gf);
        std::copy_n(d, uf_, gb);
        break;
      case Merge::mul:
        for (std::size_t j = 0; j < uf_; ++j) gf[j] = d[j] * b[j], gb[j] = d[j] * f[j];
        break;
      case Merge::ave:
        for (std::size_t j = 0; j < uf_; ++j) gf[j] = gb[j] = d[j] / 2.f;
        break;
    }
  }
  fwd_->set_needs_input_gradient(needs_input_gradient());
  bwd_->set_needs_input_gradient(needs_input_gradient());
  const Tensor& dxf = fwd_->backprop_sequence(dyf_);
  if (needs_input_gradient()) {
    dx_.resize(dxf.shape());
    std::copy(dxf.begin(), dxf.end(), dx_.begin());
  }
  const Tensor& dxb = bwd_->backprop_sequence(dyb_);
  if (needs_input_gradient()) std::transform(dx_.begin(), dx_.end(), dxb.begin(), dx_.begin(), std::plus<float>());
  return dx_;
}

Json Bidirectional::inner_config(const Layer& layer, const std::string& class_name, bool trainable) const {
  Json config = layer.get_config();
  config["name"] = layer.name();
  if (!trainable) config["trainable"] = false;
  return {{"class_name", class_name}, {"config", config}};
}

Json Bidirectional::get_config() const {
  return {{"name", name()},
          {"merge_mode", merge_name(merge_)},
          {"layer", inner_config(*forward_, forward_class_, forward_trainable_)},
          {"backward_layer", inner_config(*backward_, backward_class_, backward_trainable_)}};
}

}  // namespace plugfit
