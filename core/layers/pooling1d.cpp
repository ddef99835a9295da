#include "pooling1d.hpp"

#include <algorithm>
#include <limits>

#include "keras_options.hpp"

namespace plugfit {

namespace {

std::size_t single_int_or(Config& config, const char* key, std::size_t fallback, const std::string& where) {
  Json v = config.has(key) ? config.raw(key) : Json();
  if (v.is_null()) return fallback;
  if (v.is_array() && v.size() == 1) v = v[0];
  if (!v.is_number_integer() || v.get<long long>() < 1)
    throw InputError(where + ": \"" + key + "\" must be a positive integer (or a list of one), got " + v.dump());
  return v.get<std::size_t>();
}

SequenceLayout sequence_layout(std::size_t steps, std::size_t channels, DataFormat format) {
  if (format == DataFormat::channels_first) return {steps, channels, 1, steps};
  return {steps, channels, channels, 1};
}

SequenceLayout sequence_of(const Shape& input_shape, DataFormat format, const std::string& where) {
  const bool first = format == DataFormat::channels_first;
  if (input_shape.size() != 2 || input_shape[0] == 0 || input_shape[1] == 0)
    throw InputError(where + " expects input of shape " + (first ? "(None, channels, steps)" : "(None, steps, channels)") +
                     ", got " + shape_str(input_shape));
  return first ? sequence_layout(input_shape[1], input_shape[0], format)
               : sequence_layout(input_shape[0], input_shape[1], format);
}

Shape sequence_shape(std::size_t steps, std::size_t channels, DataFormat format) {
  return format == DataFormat::channels_first ? Shape{channels, steps} : Shape{steps, channels};
}

}  // namespace

Pooling1D::Pooling1D(Config& config, PoolKind kind, const char* class_name) : kind_(kind), class_name_(class_name) {
  const std::string where = layer_label(config, class_name);
  pool_ = single_int_or(config, "pool_size", 2, where);
  stride_ = single_int_or(config, "strides", pool_, where);  // Keras: strides None means pool_size
  same_padding_ = parse_same_padding(config, where);
  format_ = parse_data_format(config, where);
  accept_keras_layer_options(config);
}

Shape Pooling1D::build(const Shape& input_shape, BuildContext&) {
  const std::string where = layer_label(name(), class_name_);
  in_ = sequence_of(input_shape, format_, where);
  if (!same_padding_ && pool_ > in_.steps)
    throw InputError(where + ": pool_size " + std::to_string(pool_) + " is longer than its input's " +
                     std::to_string(in_.steps) + " steps with padding \"valid\"; use padding \"same\" or a smaller pool");
  const WindowSteps w = window_steps(in_.steps, pool_, stride_, same_padding_);
  pad_before_ = w.pad_before;
  out_ = sequence_layout(w.out, in_.channels, format_);
  return sequence_shape(out_.steps, out_.channels, format_);
}

const Tensor& Pooling1D::forward(const Tensor& x, bool /*training*/) {
  const std::size_t batch = x.shape()[0], in_size = in_.steps * in_.channels, out_size = out_.steps * out_.channels;
  if (format_ == DataFormat::channels_first) y_.resize({batch, out_.channels, out_.steps});
  else y_.resize({batch, out_.steps, out_.channels});
  if (kind_ == PoolKind::max) argmax_.resize(batch * out_size);
  for (std::size_t n = 0; n < batch; ++n) {
    const float* in = x.data() + n * in_size;
    float* out = y_.data() + n * out_size;
    for (std::size_t o = 0; o < out_.steps; ++o) {
      const std::size_t start = o * stride_;  // in padded coordinates
      const std::size_t begin = start > pad_before_ ? start - pad_before_ : 0;
      const std::size_t end = std::min(start + pool_ - pad_before_, in_.steps);
      for (std::size_t c = 0; c < in_.channels; ++c) {
        const std::size_t at = out_.at(o, c);
        if (kind_ == PoolKind::max) {
          float best = -std::numeric_limits<float>::infinity();
          std::size_t arg = in_.at(begin, c);
          for (std::size_t t = begin; t < end; ++t)
            if (in[in_.at(t, c)] > best) best = in[in_.at(t, c)], arg = in_.at(t, c);
          out[at] = best;
          argmax_[n * out_size + at] = static_cast<std::uint32_t>(arg);
        } else {
          float sum = 0.f;
          for (std::size_t t = begin; t < end; ++t) sum += in[in_.at(t, c)];
          out[at] = sum / static_cast<float>(end - begin);
        }
      }
    }
  }
  return y_;
}

const Tensor& Pooling1D::backward(const Tensor& dy) {
  if (!needs_input_gradient()) return dx_;
  const std::size_t batch = dy.shape()[0], in_size = in_.steps * in_.channels, out_size = out_.steps * out_.channels;
  if (format_ == DataFormat::channels_first) dx_.resize({batch, in_.channels, in_.steps});
  else dx_.resize({batch, in_.steps, in_.channels});
  std::fill(dx_.begin(), dx_.end(), 0.f);
  for (std::size_t n = 0; n < batch; ++n) {
    const float* d = dy.data() + n * out_size;
    float* dx = dx_.data() + n * in_size;
    if (kind_ == PoolKind::max) {
      for (std::size_t i = 0; i < out_size; ++i) dx[argmax_[n * out_size + i]] += d[i];
      continue;
    }
    for (std::size_t o = 0; o < out_.steps; ++o) {
      const std::size_t start = o * stride_;
      const std::size_t begin = start > pad_before_ ? start - pad_before_ : 0;
      const std::size_t end = std::min(start + pool_ - pad_before_, in_.steps);
      const float share = 1.f / static_cast<float>(end - begin);
      for (std::size_t c = 0; c < in_.channels; ++c)
        for (std::size_t t = begin; t < end; ++t) dx[in_.at(t, c)] += d[out_.at(o, c)] * share;
    }
  }
  return dx_;
}

Json Pooling1D::get_config() const {
  return {{"name", name()},
          {"pool_size", Json::array({pool_})},
          {"strides", Json::array({stride_})},
          {"padding", same_padding_ ? "same" : "valid"},
          {"data_format", data_format_name(format_)}};
}

GlobalPooling1D::GlobalPooling1D(Config& config, PoolKind kind, const char* class_name)
    : kind_(kind),
      class_name_(class_name),
      keepdims_(config.get<bool>("keepdims", false)),
      format_(parse_data_format(config, layer_label(config, class_name))) {
  accept_keras_layer_options(config);
}

Shape GlobalPooling1D::build(const Shape& input_shape, BuildContext&) {
  in_ = sequence_of(input_shape, format_, layer_label(name(), class_name_));
  const std::size_t c = in_.channels;
  out_shape_ = !keepdims_ ? Shape{c} : format_ == DataFormat::channels_first ? Shape{c, 1} : Shape{1, c};
  return out_shape_;
}

const Tensor& GlobalPooling1D::forward(const Tensor& x, bool /*training*/) {
  const std::size_t batch = x.shape()[0], in_size = in_.steps * in_.channels, c = in_.channels;
  if (!keepdims_) y_.resize({batch, c});
  else if (format_ == DataFormat::channels_first) y_.resize({batch, c, std::size_t{1}});
  else y_.resize({batch, std::size_t{1}, c});
  const Tensor* mask = input_mask();
  if (kind_ == PoolKind::max) argmax_.resize(batch * c);
  else weights_.resize(batch * in_.steps);
  for (std::size_t n = 0; n < batch; ++n) {
    const float* in = x.data() + n * in_size;
    float* out = y_.data() + n * c;
    if (kind_ == PoolKind::max) {
      for (std::size_t ch = 0; ch < c; ++ch) {
        float best = -std::numeric_limits<float>::infinity();
        std::size_t arg = in_.at(0, ch);
        for (std::size_t t = 0; t < in_.steps; ++t)
          if (in[in_.at(t, ch)] > best) best = in[in_.at(t, ch)], arg = in_.at(t, ch);
        out[ch] = best;
        argmax_[n * c + ch] = static_cast<std::uint32_t>(arg);
      }
      continue;
    }
    // The weight of each step in the mean: 1 / (real steps), 0 for a masked step.
    float* w = weights_.data() + n * in_.steps;
    float real = 0.f;
    for (std::size_t t = 0; t < in_.steps; ++t) real += mask ? mask->data()[n * in_.steps + t] : 1.f;
    const float share = real > 0.f ? 1.f / real : 0.f;
    for (std::size_t t = 0; t < in_.steps; ++t) w[t] = (mask ? mask->data()[n * in_.steps + t] : 1.f) * share;
    std::fill_n(out, c, 0.f);
    for (std::size_t t = 0; t < in_.steps; ++t)
      for (std::size_t ch = 0; ch < c; ++ch) out[ch] += in[in_.at(t, ch)] * w[t];
  }
  return y_;
}

const Tensor& GlobalPooling1D::backward(const Tensor& dy) {
  if (!needs_input_gradient()) return dx_;
  const std::size_t batch = dy.shape()[0], in_size = in_.steps * in_.channels, c = in_.channels;
  if (format_ == DataFormat::channels_first) dx_.resize({batch, c, in_.steps});
  else dx_.resize({batch, in_.steps, c});
  if (kind_ == PoolKind::max) std::fill(dx_.begin(), dx_.end(), 0.f);
  for (std::size_t n = 0; n < batch; ++n) {
    const float* d = dy.data() + n * c;
    float* dx = dx_.data() + n * in_size;
    if (kind_ == PoolKind::max) {
      for (std::size_t ch = 0; ch < c; ++ch) dx[argmax_[n * c + ch]] += d[ch];
      continue;
    }
    const float* w = weights_.data() + n * in_.steps;
    for (std::size_t t = 0; t < in_.steps; ++t)
      for (std::size_t ch = 0; ch < c; ++ch) dx[in_.at(t, ch)] = d[ch] * w[t];
  }
  return dx_;
}

Json GlobalPooling1D::get_config() const {
  return {{"name", name()}, {"keepdims", keepdims_}, {"data_format", data_format_name(format_)}};
}

}  // namespace plugfit
