#include "preprocessing.hpp"

#include <algorithm>
#include <cmath>

#include "keras_options.hpp"
#include "spatial_options.hpp"

namespace plugfit {

namespace {

std::string where(const std::string& layer, const char* class_name) { return layer_label(layer, class_name) + ": "; }

// Keras's random layers take "seed", which plugfit refuses: the run's seed fixes them.
void refuse_seed(Config& config, const char* class_name) {
  if (config.has("seed"))
    throw InputError(std::string(class_name) + ": the option \"seed\" is not supported; the run's seed fixes the augmentation");
  config.accept({"seed"});
}

std::size_t batch_of(const Tensor& x, const ImageLayout& g) { return g.size() == 0 ? 0 : x.size() / g.size(); }

}  // namespace

// ---------------------------------------------------------------------------------- Rescaling

Rescaling::Rescaling(Config& config) : scale_(config.require<double>("scale")), offset_(config.get<double>("offset", 0.0)) {
  accept_keras_layer_options(config);
}

Shape Rescaling::build(const Shape& input_shape, BuildContext&) { return input_shape; }

const Tensor& Rescaling::forward(const Tensor& x, bool) {
  y_.resize(x.shape());
  const float scale = float(scale_), offset = float(offset_);
  for (std::size_t i = 0; i < x.size(); ++i) y_.data()[i] = x.data()[i] * scale + offset;
  return y_;
}

const Tensor& Rescaling::backward(const Tensor& dy) {
  dx_.resize(dy.shape());
  const float scale = float(scale_);
  for (std::size_t i = 0; i < dy.size(); ++i) dx_.data()[i] = dy.data()[i] * scale;
  return dx_;
}

Json Rescaling::get_config() const { return {{"name", name()}, {"scale", scale_}, {"offset", offset_}}; }

// ------------------------------------------------------------------------------ Normalization

namespace {
// Flattens a number or nested lists of numbers, recording the nesting's shape.
void flatten_values(const Json& v, Shape& shape, std::size_t depth, std::vector<float>& out, const char* key) {
  if (v.is_number()) {
    if (depth != shape.size()) throw InputError(std::string("Normalization: \"") + key + "\" must be a number or evenly nested lists of numbers");
    out.push_back(v.get<float>());
    return;
  }
  if (!v.is_array() || v.empty())
    throw InputError(std::string("Normalization: \"") + key + "\" must be a number or nested lists of numbers, got " + v.dump());
  if (depth == shape.size()) shape.push_back(v.size());
  else if (shape[depth] != v.size())
    throw InputError(std::string("Normalization: \"") + key + "\" must be evenly nested lists of numbers, got " + v.dump());
  for (const Json& e : v) flatten_values(e, shape, depth + 1, out, key);
}
}  // namespace

Normalization::Normalization(Config& config)
    : axis_config_(config.has("axis") ? config.raw("axis") : (config.json().contains("axis") ? Json(nullptr) : Json(-1))),
      mean_config_(config.raw("mean")),
      variance_config_(config.raw("variance")),
      invert_(config.get<bool>("invert", false)) {
  config.accept({"axis"});
  if (!axis_config_.is_null() && !axis_config_.is_number_integer() &&
      !(axis_config_.is_array() && std::all_of(axis_config_.begin(), axis_config_.end(), [](const Json& a) { return a.is_number_integer(); })))
    throw InputError("Normalization: \"axis\" must be an integer, a list of integers or null, got " + axis_config_.dump());
  if (mean_config_.is_null() != variance_config_.is_null())
    throw InputError("Normalization: give both \"mean\" and \"variance\", or neither");
  if (!mean_config_.is_null()) {
    Shape mean_shape, variance_shape;
    flatten_values(mean_config_, mean_shape, 0, given_mean_, "mean");
    flatten_values(variance_config_, variance_shape, 0, given_variance_, "variance");
    if (mean_shape != variance_shape)
      throw InputError("Normalization: \"mean\" has shape " + full_shape_str(mean_shape) + " but \"variance\" " +
                       full_shape_str(variance_shape));
    for (float v : given_variance_)
      if (!(v >= 0.f)) throw InputError("Normalization: \"variance\" must hold non-negative numbers, got " + variance_config_.dump());
  }
  accept_keras_layer_options(config);
}

Shape Normalization::build(const Shape& input_shape, BuildContext& ctx) {
  const int rank = int(input_shape.size()) + 1;
  std::vector<int> keep;
  const Json axes = axis_config_.is_null() ? Json::array() : axis_config_.is_array() ? axis_config_ : Json::array({axis_config_});
  for (const Json& a : axes) {
    const int given = a.get<int>();
    const int axis = given < 0 ? given + rank : given;
    if (axis <= 0 || axis >= rank)
      throw InputError(where(name(), "Normalization") + "axis " + std::to_string(given) +
                       (axis == 0 ? " is the batch axis" : " is outside the input's rank " + std::to_string(rank)) +
                       " for input " + shape_str(input_shape));
    if (std::find(keep.begin(), keep.end(), axis) == keep.end()) keep.push_back(axis);
  }
  std::sort(keep.begin(), keep.end());
  Shape kept;
  for (int axis : keep) kept.push_back(input_shape[std::size_t(axis - 1)]);
  const std::size_t params = shape_size(kept);
  if (!given_mean_.empty() && given_mean_.size() != 1 && given_mean_.size() != params)
    throw InputError(where(name(), "Normalization") + "\"mean\" holds " + std::to_string(given_mean_.size()) +
                     " values but the kept axes have shape " + full_shape_str(kept));
  // Each position of a sample maps to the row-major index of its kept coordinates.
  const std::size_t sample = shape_size(input_shape);
  param_of_.assign(sample, 0);
  for (std::size_t p = 0; p < sample; ++p) {
    std::size_t rest = p, index = 0, stride = 1;
    for (std::size_t d = input_shape.size(); d-- > 0;) {
      const std::size_t coord = rest % input_shape[d];
      rest /= input_shape[d];
      if (std::find(keep.begin(), keep.end(), int(d + 1)) != keep.end()) {
        index += coord * stride;
        stride *= input_shape[d];
      }
    }
    param_of_[p] = index;
  }
  if (given_mean_.empty()) {
    mean_ = &ctx.add_weight("mean", kept, Initializer("zeros"), false);
    variance_ = &ctx.add_weight("variance", kept, Initializer("ones"), false);
    ctx.add_weight("count", {}, Initializer("zeros"), false);  // Keras keeps it for old files; unused
  } else if (given_mean_.size() == 1) {
    given_mean_.assign(params, given_mean_[0]);
    given_variance_.assign(params, given_variance_[0]);
  }
  denominator_.assign(params, 1.f);
  return input_shape;
}

const Tensor& Normalization::forward(const Tensor& x, bool) {
  const float* mean = mean_ != nullptr ? mean_->value_data : given_mean_.data();
  const float* variance = variance_ != nullptr ? variance_->value_data : given_variance_.data();
  for (std::size_t k = 0; k < denominator_.size(); ++k) denominator_[k] = std::max(std::sqrt(variance[k]), 1e-7f);
  y_.resize(x.shape());
  const std::size_t sample = param_of_.size();
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t k = param_of_[i % sample];
    y_.data()[i] = invert_ ? mean[k] + x.data()[i] * denominator_[k] : (x.data()[i] - mean[k]) / denominator_[k];
  }
  return y_;
}

const Tensor& Normalization::backward(const Tensor& dy) {
  dx_.resize(dy.shape());
  const std::size_t sample = param_of_.size();
  for (std::size_t i = 0; i < dy.size(); ++i) {
    const float d = denominator_[param_of_[i % sample]];
    dx_.data()[i] = invert_ ? dy.data()[i] * d : dy.data()[i] / d;
  }
  return dx_;
}

Json Normalization::get_config() const {
  return {{"name", name()}, {"axis", axis_config_}, {"mean", mean_config_}, {"variance", variance_config_}, {"invert", invert_}};
}

// ----------------------------------------------------------------------------------- Resizing

Resizing::Resizing(Config& config)
    : height_(config.require<std::size_t>("height")),
      width_(config.require<std::size_t>("width")),
      interpolation_(config.get<std::string>("interpolation", "bilinear")),
      crop_to_aspect_ratio_(config.get<bool>("crop_to_aspect_ratio", false)),
      data_format_(parse_data_format(config, layer_label(config, "Resizing"))) {
  if (height_ == 0 || width_ == 0) throw InputError("Resizing: \"height\" and \"width\" must be positive integers");
  if (interpolation_ != "bilinear" && interpolation_ != "nearest")
    throw InputError("Resizing: interpolation \"" + interpolation_ + "\" is not supported (use \"bilinear\" or \"nearest\")");
  if (config.get<bool>("pad_to_aspect_ratio", false))
    throw InputError("Resizing: the option \"pad_to_aspect_ratio\" is not supported by plugfit (use false)");
  if (config.get<bool>("antialias", false))
    throw InputError("Resizing: the option \"antialias\" is not supported by plugfit (use false)");
  // fill_mode and fill_value only pad, which pad_to_aspect_ratio false never does.
  config.accept({"fill_mode", "fill_value"});
  accept_keras_layer_options(config);
}

namespace {
// Source indices and weights along one axis of n_out outputs from a window [start, start + n_in).
void axis_weights(std::size_t n_in, std::size_t start, std::size_t window, std::size_t n_out, bool bilinear,
                  std::vector<std::size_t>& i0, std::vector<std::size_t>& i1, std::vector<float>& w1) {
  (void)n_in;
  i0.assign(n_out, 0);
  i1.assign(n_out, 0);
  w1.assign(n_out, 0.f);
  const double scale = double(window) / double(n_out);
  for (std::size_t o = 0; o < n_out; ++o) {
    if (bilinear) {
      const double in = (double(o) + 0.5) * scale - 0.5;  // half-pixel centers
      const double low = std::floor(in);
      i0[o] = start + std::size_t(std::max(low, 0.0));
      i1[o] = start + std::size_t(std::min(std::ceil(in), double(window - 1)));
      i1[o] = std::max(i1[o], i0[o]);
      w1[o] = float(in - low);
      if (in < 0) w1[o] = 0.f;
    } else {
      i0[o] = i1[o] = start + std::min(std::size_t(std::floor((double(o) + 0.5) * scale)), window - 1);
    }
  }
}
}  // namespace

Shape Resizing::build(const Shape& input_shape, BuildContext&) {
  in_ = image_layout(input_shape, data_format_, layer_label(name(), "Resizing"));
  out_ = image_layout(height_, width_, in_.c, data_format_);
  std::size_t crop_h = in_.h, crop_w = in_.w;
  if (crop_to_aspect_ratio_) {  // Keras's integer arithmetic for the centered window
    crop_h = std::min(in_.h, std::size_t(double(in_.w * height_) / double(width_)));
    crop_w = std::min(in_.w, std::size_t(double(in_.h * width_) / double(height_)));
  }
  const bool bilinear = interpolation_ == "bilinear";
  axis_weights(in_.h, (in_.h - crop_h) / 2, crop_h, height_, bilinear, row0_, row1_, row_weight_);
  axis_weights(in_.w, (in_.w - crop_w) / 2, crop_w, width_, bilinear, col0_, col1_, col_weight_);
  const Shape in_shape = input_shape, out_shape = image_shape(out_.h, out_.w, out_.c, data_format_);
  std::copy(in_shape.begin(), in_shape.end(), in_dims_.begin());
  std::copy(out_shape.begin(), out_shape.end(), out_dims_.begin());
  return out_shape;
}

const Tensor& Resizing::forward(const Tensor& x, bool) {
  const std::size_t batch = batch_of(x, in_);
  y_.resize(std::array<std::size_t, 4>{batch, out_dims_[0], out_dims_[1], out_dims_[2]});
  for (std::size_t n = 0; n < batch; ++n) {
    const float* in = x.data() + n * in_.size();
    float* out = y_.data() + n * out_.size();
    for (std::size_t r = 0; r < height_; ++r)
      for (std::size_t c = 0; c < width_; ++c)
        for (std::size_t ch = 0; ch < in_.c; ++ch) {
          const float wr = row_weight_[r], wc = col_weight_[c];
          const float top = in[in_.at(row0_[r], col0_[c], ch)] * (1 - wc) + in[in_.at(row0_[r], col1_[c], ch)] * wc;
          const float bottom = in[in_.at(row1_[r], col0_[c], ch)] * (1 - wc) + in[in_.at(row1_[r], col1_[c], ch)] * wc;
          out[out_.at(r, c, ch)] = top * (1 - wr) + bottom * wr;
        }
  }
  return y_;
}

const Tensor& Resizing::backward(const Tensor& dy) {
  const std::size_t batch = batch_of(dy, out_);
  dx_.resize(std::array<std::size_t, 4>{batch, in_dims_[0], in_dims_[1], in_dims_[2]});
  std::fill(dx_.begin(), dx_.end(), 0.f);
  for (std::size_t n = 0; n < batch; ++n) {
    const float* d = dy.data() + n * out_.size();
    float* g = dx_.data() + n * in_.size();
    for (std::size_t r = 0; r < height_; ++r)
      for (std::size_t c = 0; c < width_; ++c)
        for (std::size_t ch = 0; ch < in_.c; ++ch) {
          const float wr = row_weight_[r], wc = col_weight_[c], v = d[out_.at(r, c, ch)];
          g[in_.at(row0_[r], col0_[c], ch)] += v * (1 - wr) * (1 - wc);
          g[in_.at(row0_[r], col1_[c], ch)] += v * (1 - wr) * wc;
          g[in_.at(row1_[r], col0_[c], ch)] += v * wr * (1 - wc);
          g[in_.at(row1_[r], col1_[c], ch)] += v * wr * wc;
        }
  }
  return dx_;
}

Json Resizing::get_config() const {
  return {{"name", name()},
          {"height", height_},
          {"width", width_},
          {"interpolation", interpolation_},
          {"crop_to_aspect_ratio", crop_to_aspect_ratio_},
          {"pad_to_aspect_ratio", false},
          {"fill_mode", "constant"},
          {"fill_value", 0.0},
          {"antialias", false},
          {"data_format", data_format_name(data_format_)}};
}

// --------------------------------------------------------------------------------- RandomFlip

RandomFlip::RandomFlip(Config& config)
    : mode_(config.get<std::string>("mode", "horizontal_and_vertical")), data_format_(parse_data_format(config, layer_label(config, "RandomFlip"))) {
  horizontal_ = mode_ == "horizontal" || mode_ == "horizontal_and_vertical";
  vertical_ = mode_ == "vertical" || mode_ == "horizontal_and_vertical";
  if (!horizontal_ && !vertical_)
    throw InputError("RandomFlip: \"mode\" must be \"horizontal\", \"vertical\" or \"horizontal_and_vertical\", got \"" + mode_ + "\"");
  refuse_seed(config, "RandomFlip");
  accept_keras_layer_options(config);
}

Shape RandomFlip::build(const Shape& input_shape, BuildContext& ctx) {
  image_ = image_layout(input_shape, data_format_, layer_label(name(), "RandomFlip"));
  samples_ = &ctx.sample_streams();
  return input_shape;
}

const Tensor& RandomFlip::apply(const Tensor& in, Tensor& out) const {
  out.resize(in.shape());
  const ImageLayout& g = image_;
  for (std::size_t n = 0; n < flip_rows_.size(); ++n) {
    const float* src = in.data() + n * g.size();
    float* dst = out.data() + n * g.size();
    for (std::size_t r = 0; r < g.h; ++r)
      for (std::size_t c = 0; c < g.w; ++c) {
        const std::size_t sr = flip_rows_[n] ? g.h - 1 - r : r, sc = flip_cols_[n] ? g.w - 1 - c : c;
        for (std::size_t ch = 0; ch < g.c; ++ch) dst[g.at(r, c, ch)] = src[g.at(sr, sc, ch)];
      }
  }
  return out;
}

const Tensor& RandomFlip::forward(const Tensor& x, bool training) {
  applied_ = training;
  if (!applied_) return x;
  const std::size_t batch = batch_of(x, image_);
  flip_rows_.resize(batch);
  flip_cols_.resize(batch);
  const SampleStreams::Batch draws = samples_->next_batch();
  for (std::size_t n = 0; n < batch; ++n) {  // horizontal then vertical, as Keras draws them
    Rng rng = draws.row(n);
    flip_cols_[n] = horizontal_ && rng.uniform() < 0.5f;
    flip_rows_[n] = vertical_ && rng.uniform() < 0.5f;
  }
  return apply(x, y_);
}

const Tensor& RandomFlip::backward(const Tensor& dy) {
  if (!applied_) return dy;
  return apply(dy, dx_);  // a flip is its own inverse and adjoint
}

Json RandomFlip::get_config() const {
  return {{"name", name()}, {"mode", mode_}, {"seed", nullptr}, {"data_format", data_format_name(data_format_)}};
}

// ----------------------------------------------------------------------------- RandomContrast

RandomContrast::RandomContrast(Config& config) : factor_config_(config.require<Json>("factor")), data_format_(parse_data_format(config, layer_label(config, "RandomContrast"))) {
  if (factor_config_.is_number()) {
    lower_ = upper_ = factor_config_.get<double>();
  } else if (factor_config_.is_array() && factor_config_.size() == 2 && factor_config_[0].is_number() && factor_config_[1].is_number()) {
    lower_ = factor_config_[0].get<double>();
    upper_ = factor_config_[1].get<double>();
  } else {
    throw InputError("RandomContrast: \"factor\" must be a number or a [lower, upper] pair, got " + factor_config_.dump());
  }
  if (!(lower_ >= 0.0 && lower_ <= 1.0 && upper_ >= 0.0 && upper_ <= 1.0))
    throw InputError("RandomContrast: \"factor\" must lie in [0, 1], got " + factor_config_.dump());
  if (config.has("value_range")) {
    const Json range = config.raw("value_range");
    if (!range.is_array() || range.size() != 2 || !range[0].is_number() || !range[1].is_number() ||
        !(range[0].get<double>() < range[1].get<double>()))
      throw InputError("RandomContrast: \"value_range\" must be a [low, high] pair with low < high, got " + range.dump());
    value_min_ = range[0].get<double>();
    value_max_ = range[1].get<double>();
  }
  refuse_seed(config, "RandomContrast");
  accept_keras_layer_options(config);
}

Shape RandomContrast::build(const Shape& input_shape, BuildContext& ctx) {
  image_ = image_layout(input_shape, data_format_, layer_label(name(), "RandomContrast"));
  samples_ = &ctx.sample_streams();
  return input_shape;
}

const Tensor& RandomContrast::forward(const Tensor& x, bool training) {
  applied_ = training;
  if (!applied_) return x;
  const ImageLayout& g = image_;
  const std::size_t batch = batch_of(x, g);
  factors_.resize(batch);
  y_.resize(x.shape());
  const float low = float(value_min_), high = float(value_max_);
  const SampleStreams::Batch draws = samples_->next_batch();
  for (std::size_t n = 0; n < batch; ++n) {
    const float f = float((1.0 - lower_) + (lower_ + upper_) * double(draws.row(n).uniform()));
    factors_[n] = f;
    const float* src = x.data() + n * g.size();
    float* dst = y_.data() + n * g.size();
    for (std::size_t ch = 0; ch < g.c; ++ch) {
      double sum = 0.0;
      for (std::size_t r = 0; r < g.h; ++r)
        for (std::size_t c = 0; c < g.w; ++c) sum += src[g.at(r, c, ch)];
      const float mean = float(sum / double(g.h * g.w));
      for (std::size_t r = 0; r < g.h; ++r)
        for (std::size_t c = 0; c < g.w; ++c) {
          const std::size_t i = g.at(r, c, ch);
          dst[i] = std::clamp((src[i] - mean) * f + mean, low, high);
        }
    }
  }
  return y_;
}

const Tensor& RandomContrast::backward(const Tensor& dy) {
  if (!applied_) return dy;
  // y = clip(f x + (1 - f) mean): inside the range dy/dx_j = f [i == j] + (1 - f) / (H W).
  const ImageLayout& g = image_;
  dx_.resize(dy.shape());
  const float low = float(value_min_), high = float(value_max_);
  const double pixels = double(g.h * g.w);
  for (std::size_t n = 0; n < factors_.size(); ++n) {
    const float f = factors_[n];
    const float* d = dy.data() + n * g.size();
    const float* out = y_.data() + n * g.size();
    float* dx = dx_.data() + n * g.size();
    for (std::size_t ch = 0; ch < g.c; ++ch) {
      double passed = 0.0;  // the sum of dy over outputs the clip let through
      for (std::size_t r = 0; r < g.h; ++r)
        for (std::size_t c = 0; c < g.w; ++c) {
          const std::size_t i = g.at(r, c, ch);
          if (out[i] > low && out[i] < high) passed += d[i];
        }
      const float shared = float((1.0 - f) * passed / pixels);
      for (std::size_t r = 0; r < g.h; ++r)
        for (std::size_t c = 0; c < g.w; ++c) {
          const std::size_t i = g.at(r, c, ch);
          dx[i] = (out[i] > low && out[i] < high ? f * d[i] : 0.f) + shared;
        }
    }
  }
  return dx_;
}

Json RandomContrast::get_config() const {
  return {{"name", name()}, {"factor", factor_config_}, {"value_range", {value_min_, value_max_}}, {"seed", nullptr},
          {"data_format", data_format_name(data_format_)}};
}

}  // namespace plugfit
