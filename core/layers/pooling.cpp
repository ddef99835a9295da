#include "pooling.hpp"

#include <algorithm>

#include "keras_options.hpp"
#include "util/parallel.hpp"

namespace plugfit {

Pooling2D::Pooling2D(Config& config, PoolKind kind, const char* class_name)
    : kind_(kind), class_name_(class_name) {
  const std::string where = layer_label(config, class_name);
  pool_ = int_pair_or(config, "pool_size", {2, 2}, where, 1);
  strides_ = int_pair_or(config, "strides", pool_, where, 1);  // Keras: strides None means pool_size
  same_padding_ = parse_same_padding(config, where);
  format_ = parse_data_format(config, where);
  accept_keras_layer_options(config);
}

Shape Pooling2D::build(const Shape& input_shape, BuildContext&) {
  const std::string where = layer_label(name(), class_name_);
  in_ = image_layout(input_shape, format_, where);
  std::array<std::size_t, 2> out{}, pad_before{};
  const std::array<std::size_t, 2> in{in_.h, in_.w};
  for (int d = 0; d < 2; ++d) {
    if (!same_padding_ && pool_[d] > in[d])
      throw InputError(where + ": pool_size " + full_shape_str({pool_[0], pool_[1]}) + " is larger than its input " +
                       shape_str(input_shape) + " with padding \"valid\"; use padding \"same\" or a smaller pool");
    const WindowSteps steps = window_steps(in[d], pool_[d], strides_[d], same_padding_);
    out[d] = steps.out;
    pad_before[d] = steps.pad_before;
  }
  pad_top_ = pad_before[0];
  pad_left_ = pad_before[1];
  out_ = image_layout(out[0], out[1], in_.c, format_);
  if (kind_ == PoolKind::average) {
    inverse_counts_.resize(out_.h * out_.w);
    for (std::size_t oh = 0; oh < out_.h; ++oh)
      for (std::size_t ow = 0; ow < out_.w; ++ow) {
        const Span r = rows_of(oh), c = cols_of(ow);
        inverse_counts_[oh * out_.w + ow] = 1.f / static_cast<float>((r.end - r.begin) * (c.end - c.begin));
      }
  }
  in_batch_shape_ = batch_shape_of(input_shape);
  const Shape out_shape = image_shape(out_.h, out_.w, out_.c, format_);
  out_batch_shape_ = batch_shape_of(out_shape);
  return out_shape;
}

Pooling2D::Span Pooling2D::rows_of(std::size_t out_row) const {
  const std::size_t start = out_row * strides_[0];  // in padded coordinates
  const std::size_t begin = start > pad_top_ ? start - pad_top_ : 0;
  return {begin, std::min(start + pool_[0] - pad_top_, in_.h)};
}

Pooling2D::Span Pooling2D::cols_of(std::size_t out_col) const {
  const std::size_t start = out_col * strides_[1];
  const std::size_t begin = start > pad_left_ ? start - pad_left_ : 0;
  return {begin, std::min(start + pool_[1] - pad_left_, in_.w)};
}

// The channels of one input position against (into) one output position. Branch-free, so that
// channels_last's unit stride vectorizes.
void Pooling2D::max_into(const float* x, float* y, std::uint32_t* args, std::uint32_t at) const {
  const std::size_t xs = in_.c_stride, ys = out_.c_stride;
  if (xs == 1 && ys == 1) {
    for (std::size_t ch = 0; ch < in_.c; ++ch) {
      const bool greater = x[ch] > y[ch];
      y[ch] = greater ? x[ch] : y[ch];
      args[ch] = greater ? at + static_cast<std::uint32_t>(ch) : args[ch];
    }
    return;
  }
  for (std::size_t ch = 0; ch < in_.c; ++ch) {
    const float v = x[ch * xs];
    if (v > y[ch * ys]) {
      y[ch * ys] = v;
      args[ch * ys] = at + static_cast<std::uint32_t>(ch * xs);
    }
  }
}

void Pooling2D::add_into(const float* x, float* y) const {
  const std::size_t xs = in_.c_stride, ys = out_.c_stride;
  if (xs == 1 && ys == 1) {
    for (std::size_t ch = 0; ch < in_.c; ++ch) y[ch] += x[ch];
    return;
  }
  for (std::size_t ch = 0; ch < in_.c; ++ch) y[ch * ys] += x[ch * xs];
}

const Tensor& Pooling2D::forward(const Tensor& x, bool) {
  const std::size_t batch = x.shape()[0];
  out_batch_shape_[0] = batch;
  y_.resize(out_batch_shape_);
  if (kind_ == PoolKind::max) argmax_.resize(batch * out_.size());
  // Samples split over the threads: each writes only its own outputs, so any thread count
  // gives the same bits.
  parallel_for(batch, [&](std::size_t begin, std::size_t end, int) {
    for (std::size_t n = begin; n < end; ++n) {
      const float* xs = x.data() + n * in_.size();
      float* ys = y_.data() + n * out_.size();
      std::uint32_t* args = kind_ == PoolKind::max ? argmax_.data() + n * out_.size() : nullptr;
      for (std::size_t oh = 0; oh < out_.h; ++oh)
        for (std::size_t ow = 0; ow < out_.w; ++ow) {
          const Span r = rows_of(oh), c = cols_of(ow);
          const std::size_t out_at = oh * out_.h_stride + ow * out_.w_stride;
          const std::size_t first = r.begin * in_.h_stride + c.begin * in_.w_stride;
          for (std::size_t ch = 0; ch < in_.c; ++ch) {
            ys[out_at + ch * out_.c_stride] = xs[first + ch * in_.c_stride];
            if (args) args[out_at + ch * out_.c_stride] = static_cast<std::uint32_t>(first + ch * in_.c_stride);
          }
          // Window positions in row-major order; a strict comparison keeps the first maximum.
          for (std::size_t ih = r.begin; ih < r.end; ++ih)
            for (std::size_t iw = c.begin; iw < c.end; ++iw) {
              const std::size_t at = ih * in_.h_stride + iw * in_.w_stride;
              if (at == first) continue;
              if (args)
                max_into(xs + at, ys + out_at, args + out_at, static_cast<std::uint32_t>(at));
              else
                add_into(xs + at, ys + out_at);
            }
          if (!args) {
            const float inverse = inverse_counts_[oh * out_.w + ow];
            for (std::size_t ch = 0; ch < in_.c; ++ch) ys[out_at + ch * out_.c_stride] *= inverse;
          }
        }
    }
  });
  return y_;
}

const Tensor& Pooling2D::backward(const Tensor& dy) {
  const std::size_t batch = dy.shape()[0];
  in_batch_shape_[0] = batch;
  dx_.resize(in_batch_shape_);
  parallel_for(batch, [&](std::size_t begin, std::size_t end, int) {
    std::fill(dx_.data() + begin * in_.size(), dx_.data() + end * in_.size(), 0.f);
    for (std::size_t n = begin; n < end; ++n) {
      const float* dys = dy.data() + n * out_.size();
      float* dxs = dx_.data() + n * in_.size();
      if (kind_ == PoolKind::max) {
        const std::uint32_t* args = argmax_.data() + n * out_.size();
        for (std::size_t i = 0; i < out_.size(); ++i) dxs[args[i]] += dys[i];
        continue;
      }
      for (std::size_t oh = 0; oh < out_.h; ++oh)
        for (std::size_t ow = 0; ow < out_.w; ++ow) {
          const Span r = rows_of(oh), c = cols_of(ow);
          const std::size_t out_at = oh * out_.h_stride + ow * out_.w_stride;
          const float inverse = inverse_counts_[oh * out_.w + ow];
          for (std::size_t ih = r.begin; ih < r.end; ++ih)
            for (std::size_t iw = c.begin; iw < c.end; ++iw) {
              const std::size_t at = ih * in_.h_stride + iw * in_.w_stride;
              for (std::size_t ch = 0; ch < in_.c; ++ch)
                dxs[at + ch * in_.c_stride] += dys[out_at + ch * out_.c_stride] * inverse;
            }
        }
    }
  });
  return dx_;
}

Json Pooling2D::get_config() const {
  return {{"name", name()},
          {"pool_size", pair_json(pool_)},
          {"padding", same_padding_ ? "same" : "valid"},
          {"strides", pair_json(strides_)},
          {"data_format", data_format_name(format_)}};
}

GlobalPooling2D::GlobalPooling2D(Config& config, PoolKind kind, const char* class_name)
    : kind_(kind), class_name_(class_name), keepdims_(config.get<bool>("keepdims", false)),
      format_(parse_data_format(config, layer_label(config, class_name))) {
  accept_keras_layer_options(config);
}

Shape GlobalPooling2D::build(const Shape& input_shape, BuildContext&) {
  in_ = image_layout(input_shape, format_, layer_label(name(), class_name_));
  const Shape out_shape = keepdims_ ? image_shape(1, 1, in_.c, format_) : Shape{in_.c};
  in_batch_shape_ = batch_shape_of(input_shape);
  out_batch_shape_ = batch_shape_of(out_shape);
  return out_shape;
}

const Tensor& GlobalPooling2D::forward(const Tensor& x, bool) {
  const std::size_t batch = x.shape()[0];
  out_batch_shape_[0] = batch;
  y_.resize(out_batch_shape_);
  if (kind_ == PoolKind::max) argmax_.resize(batch * in_.c);
  const float inverse = 1.f / static_cast<float>(in_.h * in_.w);
  for (std::size_t n = 0; n < batch; ++n) {
    const float* xs = x.data() + n * in_.size();
    float* ys = y_.data() + n * in_.c;
    std::uint32_t* args = kind_ == PoolKind::max ? argmax_.data() + n * in_.c : nullptr;
    for (std::size_t ch = 0; ch < in_.c; ++ch) {
      ys[ch] = xs[ch * in_.c_stride];
      if (args) args[ch] = static_cast<std::uint32_t>(ch * in_.c_stride);
    }
    for (std::size_t i = 1; i < in_.h * in_.w; ++i) {
      const std::size_t at = (i / in_.w) * in_.h_stride + (i % in_.w) * in_.w_stride;
      for (std::size_t ch = 0; ch < in_.c; ++ch) {
        const float v = xs[at + ch * in_.c_stride];
        if (!args) {
          ys[ch] += v;
        } else if (v > ys[ch]) {
          ys[ch] = v;
          args[ch] = static_cast<std::uint32_t>(at + ch * in_.c_stride);
        }
      }
    }
    if (!args)
      for (std::size_t ch = 0; ch < in_.c; ++ch) ys[ch] *= inverse;
  }
  return y_;
}

const Tensor& GlobalPooling2D::backward(const Tensor& dy) {
  const std::size_t batch = dy.shape()[0];
  in_batch_shape_[0] = batch;
  dx_.resize(in_batch_shape_);
  const float inverse = 1.f / static_cast<float>(in_.h * in_.w);
  if (kind_ == PoolKind::max) std::fill(dx_.begin(), dx_.end(), 0.f);
  for (std::size_t n = 0; n < batch; ++n) {
    const float* dys = dy.data() + n * in_.c;
    float* dxs = dx_.data() + n * in_.size();
    if (kind_ == PoolKind::max) {
      for (std::size_t ch = 0; ch < in_.c; ++ch) dxs[argmax_[n * in_.c + ch]] += dys[ch];
      continue;
    }
    for (std::size_t i = 0; i < in_.h * in_.w; ++i) {
      const std::size_t at = (i / in_.w) * in_.h_stride + (i % in_.w) * in_.w_stride;
      for (std::size_t ch = 0; ch < in_.c; ++ch) dxs[at + ch * in_.c_stride] = dys[ch] * inverse;
    }
  }
  return dx_;
}

Json GlobalPooling2D::get_config() const {
  return {{"name", name()}, {"data_format", data_format_name(format_)}, {"keepdims", keepdims_}};
}

}  // namespace plugfit
