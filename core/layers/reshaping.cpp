#include "reshaping.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "keras_options.hpp"

namespace plugfit {

namespace {

std::string target_str(const std::vector<long long>& target) {
  std::string s = "(";
  for (std::size_t i = 0; i < target.size(); ++i) s += (i ? ", " : "") + std::to_string(target[i]);
  return s + (target.size() == 1 ? ",)" : ")");
}

// Copies the h x w x c block of one image into another image at (row, col) of it (or back).
void copy_block(const float* from, const ImageLayout& from_layout, std::size_t from_row, std::size_t from_col,
                float* to, const ImageLayout& to_layout, std::size_t to_row, std::size_t to_col, std::size_t rows,
                std::size_t cols) {
  for (std::size_t ch = 0; ch < from_layout.c; ++ch)
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t q = 0; q < cols; ++q)
        to[(to_row + r) * to_layout.h_stride + (to_col + q) * to_layout.w_stride + ch * to_layout.c_stride] =
            from[(from_row + r) * from_layout.h_stride + (from_col + q) * from_layout.w_stride +
                 ch * from_layout.c_stride];
}

}  // namespace

// Reshape

Reshape::Reshape(Config& config) {
  const std::string where = layer_label(config, "Reshape");
  const Json& target = config.raw("target_shape");
  if (!target.is_array() || target.empty())
    throw InputError(where + ": target_shape must be a list of dimensions, got " + target.dump());
  int unknown = 0;
  for (const Json& d : target) {
    if (!d.is_number_integer() || (d.get<long long>() <= 0 && d.get<long long>() != -1))
      throw InputError(where + ": target_shape must hold positive dimensions and at most one -1, got " + target.dump());
    unknown += d.get<long long>() == -1;
    target_.push_back(d.get<long long>());
  }
  if (unknown > 1)
    throw InputError(where + ": there must be at most one unknown dimension (-1) in target_shape, got " +
                     target.dump());
  accept_keras_layer_options(config);
}

Shape Reshape::build(const Shape& input_shape, BuildContext&) {
  const std::size_t size = shape_size(input_shape);
  std::size_t known = 1;
  for (long long d : target_)
    if (d != -1) known *= static_cast<std::size_t>(d);
  const bool has_unknown = std::find(target_.begin(), target_.end(), -1) != target_.end();
  if (has_unknown ? size % known != 0 : size != known)
    throw InputError(layer_label(name(), "Reshape") + ": the total size of the tensor must be unchanged, got input " +
                     shape_str(input_shape) + " (" + std::to_string(size) + " values) and target_shape " +
                     target_str(target_));
  Shape out;
  for (long long d : target_) out.push_back(d == -1 ? size / known : static_cast<std::size_t>(d));
  in_batch_shape_ = batch_shape_of(input_shape);
  out_batch_shape_ = batch_shape_of(out);
  return out;
}

const Tensor& Reshape::forward(const Tensor& x, bool) {
  out_batch_shape_[0] = x.shape()[0];
  y_.resize(out_batch_shape_);
  std::copy(x.data(), x.data() + x.size(), y_.data());
  return y_;
}

const Tensor& Reshape::backward(const Tensor& dy) {
  in_batch_shape_[0] = dy.shape()[0];
  dx_.resize(in_batch_shape_);
  std::copy(dy.data(), dy.data() + dy.size(), dx_.data());
  return dx_;
}

Json Reshape::get_config() const { return {{"name", name()}, {"target_shape", target_}}; }

// ZeroPadding2D

ZeroPadding2D::ZeroPadding2D(Config& config)
    : sides_(parse_sides(config.has("padding") ? config.raw("padding") : Json(1), layer_label(config, "ZeroPadding2D"),
                         "padding")),
      format_(parse_data_format(config, layer_label(config, "ZeroPadding2D"))) {
  accept_keras_layer_options(config);
}

Shape ZeroPadding2D::build(const Shape& input_shape, BuildContext&) {
  in_ = image_layout(input_shape, format_, layer_label(name(), "ZeroPadding2D"));
  out_ = image_layout(in_.h + sides_[0] + sides_[1], in_.w + sides_[2] + sides_[3], in_.c, format_);
  const Shape out = image_shape(out_.h, out_.w, out_.c, format_);
  in_batch_shape_ = batch_shape_of(input_shape);
  out_batch_shape_ = batch_shape_of(out);
  return out;
}

const Tensor& ZeroPadding2D::forward(const Tensor& x, bool) {
  const std::size_t batch = x.shape()[0];
  out_batch_shape_[0] = batch;
  y_.resize(out_batch_shape_);
  std::fill(y_.begin(), y_.end(), 0.f);
  for (std::size_t n = 0; n < batch; ++n)
    copy_block(x.data() + n * in_.size(), in_, 0, 0, y_.data() + n * out_.size(), out_, sides_[0], sides_[2], in_.h,
               in_.w);
  return y_;
}

const Tensor& ZeroPadding2D::backward(const Tensor& dy) {
  const std::size_t batch = dy.shape()[0];
  in_batch_shape_[0] = batch;
  dx_.resize(in_batch_shape_);
  for (std::size_t n = 0; n < batch; ++n)
    copy_block(dy.data() + n * out_.size(), out_, sides_[0], sides_[2], dx_.data() + n * in_.size(), in_, 0, 0, in_.h,
               in_.w);
  return dx_;
}

Json ZeroPadding2D::get_config() const {
  return {{"name", name()}, {"padding", sides_json(sides_)}, {"data_format", data_format_name(format_)}};
}

// Cropping2D

Cropping2D::Cropping2D(Config& config)
    : sides_(parse_sides(config.has("cropping") ? config.raw("cropping") : Json(0), layer_label(config, "Cropping2D"),
                         "cropping")),
      format_(parse_data_format(config, layer_label(config, "Cropping2D"))) {
  accept_keras_layer_options(config);
}

Shape Cropping2D::build(const Shape& input_shape, BuildContext&) {
  const std::string where = layer_label(name(), "Cropping2D");
  in_ = image_layout(input_shape, format_, where);
  if (sides_[0] + sides_[1] >= in_.h || sides_[2] + sides_[3] >= in_.w)
    throw InputError(where + ": cropping " + sides_json(sides_).dump() + " leaves nothing of its input " +
                     shape_str(input_shape));
  out_ = image_layout(in_.h - sides_[0] - sides_[1], in_.w - sides_[2] - sides_[3], in_.c, format_);
  const Shape out = image_shape(out_.h, out_.w, out_.c, format_);
  in_batch_shape_ = batch_shape_of(input_shape);
  out_batch_shape_ = batch_shape_of(out);
  return out;
}

const Tensor& Cropping2D::forward(const Tensor& x, bool) {
  const std::size_t batch = x.shape()[0];
  out_batch_shape_[0] = batch;
  y_.resize(out_batch_shape_);
  for (std::size_t n = 0; n < batch; ++n)
    copy_block(x.data() + n * in_.size(), in_, sides_[0], sides_[2], y_.data() + n * out_.size(), out_, 0, 0, out_.h,
               out_.w);
  return y_;
}

const Tensor& Cropping2D::backward(const Tensor& dy) {
  const std::size_t batch = dy.shape()[0];
  in_batch_shape_[0] = batch;
  dx_.resize(in_batch_shape_);
  std::fill(dx_.begin(), dx_.end(), 0.f);
  for (std::size_t n = 0; n < batch; ++n)
    copy_block(dy.data() + n * out_.size(), out_, 0, 0, dx_.data() + n * in_.size(), in_, sides_[0], sides_[2],
               out_.h, out_.w);
  return dx_;
}

Json Cropping2D::get_config() const {
  return {{"name", name()}, {"cropping", sides_json(sides_)}, {"data_format", data_format_name(format_)}};
}

// UpSampling2D

UpSampling2D::UpSampling2D(Config& config)
    : size_(parse_int_pair(config.has("size") ? config.raw("size") : Json(2), layer_label(config, "UpSampling2D"),
                           "size", 1)),
      format_(parse_data_format(config, layer_label(config, "UpSampling2D"))) {
  std::string interpolation = config.get<std::string>("interpolation", "nearest");
  // Keras lowercases it.
  std::transform(interpolation.begin(), interpolation.end(), interpolation.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (interpolation != "nearest" && interpolation != "bilinear")
    throw InputError(layer_label(config, "UpSampling2D") + ": interpolation must be \"nearest\" or \"bilinear\", got \"" +
                     interpolation + "\"");
  bilinear_ = interpolation == "bilinear";
  accept_keras_layer_options(config);
}

std::vector<UpSampling2D::Tap> UpSampling2D::taps(std::size_t in, std::size_t scale, bool bilinear) {
  std::vector<Tap> result(in * scale);
  for (std::size_t o = 0; o < result.size(); ++o) {
    if (!bilinear) {
      result[o] = {o / scale, o / scale, 0.f};
      continue;
    }
    const double source = std::clamp((static_cast<double>(o) + 0.5) / static_cast<double>(scale) - 0.5, 0.0,
                                     static_cast<double>(in - 1));
    const auto low = static_cast<std::size_t>(std::floor(source));
    result[o] = {low, std::min(low + 1, in - 1), static_cast<float>(source - static_cast<double>(low))};
  }
  return result;
}

Shape UpSampling2D::build(const Shape& input_shape, BuildContext&) {
  in_ = image_layout(input_shape, format_, layer_label(name(), "UpSampling2D"));
  out_ = image_layout(in_.h * size_[0], in_.w * size_[1], in_.c, format_);
  row_taps_ = taps(in_.h, size_[0], bilinear_);
  col_taps_ = taps(in_.w, size_[1], bilinear_);
  const Shape out = image_shape(out_.h, out_.w, out_.c, format_);
  in_batch_shape_ = batch_shape_of(input_shape);
  out_batch_shape_ = batch_shape_of(out);
  return out;
}

const Tensor& UpSampling2D::forward(const Tensor& x, bool) {
  const std::size_t batch = x.shape()[0];
  out_batch_shape_[0] = batch;
  y_.resize(out_batch_shape_);
  for (std::size_t n = 0; n < batch; ++n) {
    const float* xs = x.data() + n * in_.size();
    float* ys = y_.data() + n * out_.size();
    for (std::size_t oh = 0; oh < out_.h; ++oh) {
      const Tap& r = row_taps_[oh];
      for (std::size_t ow = 0; ow < out_.w; ++ow) {
        const Tap& q = col_taps_[ow];
        const float* top_left = xs + r.low * in_.h_stride + q.low * in_.w_stride;
        const float* top_right = xs + r.low * in_.h_stride + q.high * in_.w_stride;
        const float* bottom_left = xs + r.high * in_.h_stride + q.low * in_.w_stride;
        const float* bottom_right = xs + r.high * in_.h_stride + q.high * in_.w_stride;
        float* out = ys + oh * out_.h_stride + ow * out_.w_stride;
        for (std::size_t ch = 0; ch < in_.c; ++ch) {
          const std::size_t at = ch * in_.c_stride;
          const float top = top_left[at] + q.high_weight * (top_right[at] - top_left[at]);
          const float bottom = bottom_left[at] + q.high_weight * (bottom_right[at] - bottom_left[at]);
          out[ch * out_.c_stride] = top + r.high_weight * (bottom - top);
        }
      }
    }
  }
  return y_;
}

const Tensor& UpSampling2D::backward(const Tensor& dy) {
  const std::size_t batch = dy.shape()[0];
  in_batch_shape_[0] = batch;
  dx_.resize(in_batch_shape_);
  std::fill(dx_.begin(), dx_.end(), 0.f);
  for (std::size_t n = 0; n < batch; ++n) {
    const float* dys = dy.data() + n * out_.size();
    float* dxs = dx_.data() + n * in_.size();
    for (std::size_t oh = 0; oh < out_.h; ++oh) {
      const Tap& r = row_taps_[oh];
      for (std::size_t ow = 0; ow < out_.w; ++ow) {
        const Tap& q = col_taps_[ow];
        const float weights[4] = {(1.f - r.high_weight) * (1.f - q.high_weight), (1.f - r.high_weight) * q.high_weight,
                                  r.high_weight * (1.f - q.high_weight), r.high_weight * q.high_weight};
        const std::size_t at[4] = {r.low * in_.h_stride + q.low * in_.w_stride, r.low * in_.h_stride + q.high * in_.w_stride,
                                   r.high * in_.h_stride + q.low * in_.w_stride,
                                   r.high * in_.h_stride + q.high * in_.w_stride};
        const float* g = dys + oh * out_.h_stride + ow * out_.w_stride;
        for (int k = 0; k < 4; ++k) {
          if (weights[k] == 0.f) continue;
          for (std::size_t ch = 0; ch < in_.c; ++ch)
            dxs[at[k] + ch * in_.c_stride] += weights[k] * g[ch * out_.c_stride];
        }
      }
    }
  }
  return dx_;
}

Json UpSampling2D::get_config() const {
  return {{"name", name()},
          {"size", pair_json(size_)},
          {"data_format", data_format_name(format_)},
          {"interpolation", bilinear_ ? "bilinear" : "nearest"}};
}

// SpatialDropout2D

SpatialDropout2D::SpatialDropout2D(Config& config)
    : rate_(config.require<float>("rate")), format_(parse_data_format(config, layer_label(config, "SpatialDropout2D"))) {
  const std::string where = layer_label(config, "SpatialDropout2D");
  if (!(rate_ >= 0.f && rate_ < 1.f)) throw InputError(where + ": rate must be in [0, 1), got " + config.raw("rate").dump());
  if (config.has("seed"))
    throw InputError(where + ": the option \"seed\" is not supported; the run's seed fixes dropout");
  accept_keras_layer_options(config);
  reject_keras_extras(config, {"noise_shape"});
}

Shape SpatialDropout2D::build(const Shape& input_shape, BuildContext& ctx) {
  in_ = image_layout(input_shape, format_, layer_label(name(), "SpatialDropout2D"));
  samples_ = &ctx.sample_streams();
  in_batch_shape_ = batch_shape_of(input_shape);
  return input_shape;
}

void SpatialDropout2D::apply_mask(const float* in, float* out, std::size_t batch) const {
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t i = 0; i < in_.h * in_.w; ++i) {
      const std::size_t at = n * in_.size() + (i / in_.w) * in_.h_stride + (i % in_.w) * in_.w_stride;
      for (std::size_t ch = 0; ch < in_.c; ++ch)
        out[at + ch * in_.c_stride] = in[at + ch * in_.c_stride] * mask_[n * in_.c + ch];
    }
}

const Tensor& SpatialDropout2D::forward(const Tensor& x, bool training) {
  applied_ = training && rate_ > 0.f;
  if (!applied_) return x;
  const std::size_t batch = x.shape()[0];
  mask_.resize(batch * in_.c);
  const float keep_scale = 1.f / (1.f - rate_);
  const SampleStreams::Batch draws = samples_->next_batch();
  for (std::size_t n = 0; n < batch; ++n) {
    Rng rng = draws.row(n);
    for (std::size_t ch = 0; ch < in_.c; ++ch) mask_[n * in_.c + ch] = rng.uniform() >= rate_ ? keep_scale : 0.f;
  }
  in_batch_shape_[0] = batch;
  y_.resize(in_batch_shape_);
  apply_mask(x.data(), y_.data(), batch);
  return y_;
}

const Tensor& SpatialDropout2D::backward(const Tensor& dy) {
  if (!applied_) return dy;
  in_batch_shape_[0] = dy.shape()[0];
  dx_.resize(in_batch_shape_);
  apply_mask(dy.data(), dx_.data(), dy.shape()[0]);
  return dx_;
}

Json SpatialDropout2D::get_config() const {
  return {{"name", name()}, {"rate", rate_}, {"data_format", data_format_name(format_)}};
}

}  // namespace plugfit
