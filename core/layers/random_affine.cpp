#include "random_affine.hpp"

#include <cmath>
#include <numbers>

#include "keras_options.hpp"
#include "spatial_options.hpp"

namespace plugfit {

namespace {

// A factor f (the range [-f, f]) or [lower, upper], each within [-limit, limit].
std::pair<double, double> factor_range(const Json& factor, const char* class_name, const char* key, double limit) {
  double lower, upper;
  if (factor.is_number()) {
    upper = std::abs(factor.get<double>());
    lower = -upper;
  } else if (factor.is_array() && factor.size() == 2 && factor[0].is_number() && factor[1].is_number()) {
    lower = factor[0].get<double>();
    upper = factor[1].get<double>();
  } else {
    throw InputError(std::string(class_name) + ": \"" + key + "\" must be a number or a [lower, upper] pair, got " + factor.dump());
  }
  if (!(lower <= upper && lower >= -limit && upper <= limit))
    throw InputError(std::string(class_name) + ": \"" + key + "\" must give lower <= upper within [" + std::to_string(int(-limit)) +
                     ", " + std::to_string(int(limit)) + "], got " + factor.dump());
  return {lower, upper};
}

double uniform_in(Rng& rng, double lower, double upper) { return lower + (upper - lower) * double(rng.uniform()); }

}  // namespace

RandomAffine::RandomAffine(Config& config, const char* class_name)
    : class_name_(class_name),
      fill_mode_name_(config.get<std::string>("fill_mode", "reflect")),
      interpolation_(config.get<std::string>("interpolation", "bilinear")),
      data_format_(parse_data_format(config, layer_label(config, class_name))),
      fill_value_(config.get<double>("fill_value", 0.0)) {
  const std::string cls = class_name;
  if (fill_mode_name_ == "reflect") fill_ = Fill::reflect;
  else if (fill_mode_name_ == "wrap") fill_ = Fill::wrap;
  else if (fill_mode_name_ == "nearest") fill_ = Fill::nearest;
  else if (fill_mode_name_ == "constant") fill_ = Fill::constant;
  else throw InputError(cls + ": \"fill_mode\" must be \"reflect\", \"wrap\", \"nearest\" or \"constant\", got \"" + fill_mode_name_ + "\"");
  if (interpolation_ != "bilinear" && interpolation_ != "nearest")
    throw InputError(cls + ": interpolation \"" + interpolation_ + "\" is not supported (use \"bilinear\" or \"nearest\")");
  bilinear_ = interpolation_ == "bilinear";
  if (config.has("seed"))
    throw InputError(cls + ": the option \"seed\" is not supported; the run's seed fixes the augmentation");
  config.accept({"seed"});
  accept_keras_layer_options(config);
}

Shape RandomAffine::build(const Shape& input_shape, BuildContext& ctx) {
  image_ = image_layout(input_shape, data_format_, layer_label(name(), class_name_));
  samples_ = &ctx.sample_streams();
  return input_shape;
}

long RandomAffine::fix(long i, long n) const {
  if (i >= 0 && i < n) return i;
  switch (fill_) {
    case Fill::constant: return -1;
    case Fill::nearest: return i < 0 ? 0 : n - 1;
    case Fill::wrap: return ((i % n) + n) % n;
    case Fill::reflect: {  // mirror 2i + 1 within 2n + 1 half-steps, then back to pixels
      const long s = 2 * n, m = ((2 * i + 1 + s) % (2 * s) + 2 * s) % (2 * s);
      return (std::abs(m - s) - 1) / 2;
    }
  }
  return -1;
}

void RandomAffine::taps(const Transform& t, std::size_t row, std::size_t col, std::array<long, 4>& at,
                        std::array<float, 4>& weight) const {
  const float x = t[0] * float(col) + t[1] * float(row) + t[2];
  const float y = t[3] * float(col) + t[4] * float(row) + t[5];
  const long h = long(image_.h), w = long(image_.w);
  auto offset = [&](long r, long c) {
    const long fr = fix(r, h), fc = fix(c, w);
    return fr < 0 || fc < 0 ? -1L : long(image_.at(std::size_t(fr), std::size_t(fc), 0));
  };
  if (!bilinear_) {
    at = {offset(long(std::nearbyint(y)), long(std::nearbyint(x))), -1, -1, -1};
    weight = {1.f, 0.f, 0.f, 0.f};
    return;
  }
  const float x0 = std::floor(x), y0 = std::floor(y), fx = x - x0, fy = y - y0;
  const long c0 = long(x0), r0 = long(y0);
  at = {offset(r0, c0), offset(r0, c0 + 1), offset(r0 + 1, c0), offset(r0 + 1, c0 + 1)};
  weight = {(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx};
}

const Tensor& RandomAffine::forward(const Tensor& x, bool training) {
  applied_ = training;
  if (!applied_) return x;
  const ImageLayout& g = image_;
  const std::size_t batch = x.size() / g.size();
  transforms_.resize(batch);
  const SampleStreams::Batch draws = samples_->next_batch();
  for (std::size_t n = 0; n < batch; ++n) {
    Rng rng = draws.row(n);
    transforms_[n] = draw(rng, float(g.h), float(g.w));
  }
  y_.resize(x.shape());
  // A channel's stride inside an image: taps point at channel 0.
  const std::size_t channel_stride = g.c_stride;
  std::array<long, 4> at;
  std::array<float, 4> weight;
  const float fill = float(fill_value_);
  for (std::size_t n = 0; n < batch; ++n) {
    const float* src = x.data() + n * g.size();
    float* dst = y_.data() + n * g.size();
    for (std::size_t r = 0; r < g.h; ++r)
      for (std::size_t c = 0; c < g.w; ++c) {
        taps(transforms_[n], r, c, at, weight);
        for (std::size_t ch = 0; ch < g.c; ++ch) {
          float v = 0.f;
          for (int k = 0; k < 4; ++k)
            if (weight[k] != 0.f) v += weight[k] * (at[k] < 0 ? fill : src[std::size_t(at[k]) + ch * channel_stride]);
          dst[g.at(r, c, ch)] = v;
        }
      }
  }
  return y_;
}

const Tensor& RandomAffine::backward(const Tensor& dy) {
  if (!applied_) return dy;
  const ImageLayout& g = image_;
  dx_.resize(dy.shape());
  std::fill(dx_.begin(), dx_.end(), 0.f);
  const std::size_t channel_stride = g.c_stride;
  std::array<long, 4> at;
  std::array<float, 4> weight;
  for (std::size_t n = 0; n < transforms_.size(); ++n) {
    const float* d = dy.data() + n * g.size();
    float* dx = dx_.data() + n * g.size();
    for (std::size_t r = 0; r < g.h; ++r)
      for (std::size_t c = 0; c < g.w; ++c) {
        taps(transforms_[n], r, c, at, weight);
        for (std::size_t ch = 0; ch < g.c; ++ch)
          for (int k = 0; k < 4; ++k)
            if (at[k] >= 0) dx[std::size_t(at[k]) + ch * channel_stride] += weight[k] * d[g.at(r, c, ch)];
      }
  }
  return dx_;
}

Json RandomAffine::common_config() const {
  return {{"name", name()},          {"fill_mode", fill_mode_name_}, {"interpolation", interpolation_},
          {"seed", nullptr},         {"fill_value", fill_value_},    {"data_format", data_format_name(data_format_)}};
}

RandomRotation::RandomRotation(Config& config)
    : RandomAffine(config, "RandomRotation"), factor_config_(config.require<Json>("factor")) {
  std::tie(lower_, upper_) = factor_range(factor_config_, "RandomRotation", "factor", 1.0);
}

RandomAffine::Transform RandomRotation::draw(Rng& rng, float height, float width) const {
  const double angle = uniform_in(rng, lower_, upper_) * 2.0 * std::numbers::pi;
  const float cos = float(std::cos(angle)), sin = float(std::sin(angle));
  // Rotates about the image's center: the center maps to itself.
  const float x_offset = ((width - 1) - (cos * (width - 1) - sin * (height - 1))) / 2;
  const float y_offset = ((height - 1) - (sin * (width - 1) + cos * (height - 1))) / 2;
  return {cos, -sin, x_offset, sin, cos, y_offset};
}

Json RandomRotation::get_config() const {
  Json config = common_config();
  config["factor"] = factor_config_;
  return config;
}

RandomZoom::RandomZoom(Config& config)
    : RandomAffine(config, "RandomZoom"), height_config_(config.require<Json>("height_factor")), width_config_(config.raw("width_factor")) {
  std::tie(height_lower_, height_upper_) = factor_range(height_config_, "RandomZoom", "height_factor", 1.0);
  if (!width_config_.is_null())
    std::tie(width_lower_, width_upper_) = factor_range(width_config_, "RandomZoom", "width_factor", 1.0);
}

RandomAffine::Transform RandomZoom::draw(Rng& rng, float height, float width) const {
  const float height_zoom = float(1.0 + uniform_in(rng, height_lower_, height_upper_));
  const float width_zoom = width_config_.is_null() ? height_zoom : float(1.0 + uniform_in(rng, width_lower_, width_upper_));
  // Zooms about the center.
  return {width_zoom, 0.f, (width - 1) / 2 * (1 - width_zoom), 0.f, height_zoom, (height - 1) / 2 * (1 - height_zoom)};
}

Json RandomZoom::get_config() const {
  Json config = common_config();
  config["height_factor"] = height_config_;
  config["width_factor"] = width_config_;
  return config;
}

RandomTranslation::RandomTranslation(Config& config)
    : RandomAffine(config, "RandomTranslation"),
      height_config_(config.require<Json>("height_factor")),
      width_config_(config.require<Json>("width_factor")) {
  std::tie(height_lower_, height_upper_) = factor_range(height_config_, "RandomTranslation", "height_factor", 1.0);
  std::tie(width_lower_, width_upper_) = factor_range(width_config_, "RandomTranslation", "width_factor", 1.0);
}

RandomAffine::Transform RandomTranslation::draw(Rng& rng, float height, float width) const {
  const float dy = float(uniform_in(rng, height_lower_, height_upper_)) * height;
  const float dx = float(uniform_in(rng, width_lower_, width_upper_)) * width;
  return {1.f, 0.f, -dx, 0.f, 1.f, -dy};
}

Json RandomTranslation::get_config() const {
  Json config = common_config();
  config["height_factor"] = height_config_;
  config["width_factor"] = width_config_;
  return config;
}

}  // namespace plugfit
