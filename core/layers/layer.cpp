// Key functions of the SDK's layer and model interfaces, and the initializers.
#include <plugfit/layer.hpp>
#include <plugfit/model.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

namespace plugfit {

Layer::~Layer() = default;
BuildContext::~BuildContext() = default;
Model::~Model() = default;

Weight* Model::find_weight(const std::string& name) const {
  for (Weight* w : weights())
    if (w->name == name) return w;
  return nullptr;
}

namespace {

// Keras's class names for the snake_case names.
const std::map<std::string, std::string>& initializer_aliases() {
  static const std::map<std::string, std::string> aliases = {
      {"GlorotUniform", "glorot_uniform"}, {"GlorotNormal", "glorot_normal"},
      {"HeNormal", "he_normal"},           {"HeUniform", "he_uniform"},
      {"LecunNormal", "lecun_normal"},     {"LecunUniform", "lecun_uniform"},
      {"Zeros", "zeros"},                  {"Ones", "ones"},
      {"Constant", "constant"},            {"RandomNormal", "random_normal"},
      {"RandomUniform", "random_uniform"}, {"VarianceScaling", "variance_scaling"},
      {"Orthogonal", "orthogonal"},
  };
  return aliases;
}

std::string known_initializers() {
  std::string out;
  for (const auto& [camel, snake] : initializer_aliases()) out += (out.empty() ? "" : ", ") + snake;
  return out;
}

std::pair<double, double> fans(const Shape& shape) {
  if (shape.empty()) return {1.0, 1.0};
  if (shape.size() == 1) return {double(shape[0]), double(shape[0])};
  if (shape.size() == 2) return {double(shape[0]), double(shape[1])};
  double receptive = 1.0;
  for (std::size_t i = 0; i + 2 < shape.size(); ++i) receptive *= double(shape[i]);
  return {double(shape[shape.size() - 2]) * receptive, double(shape.back()) * receptive};
}

// Keras's truncated normal: draws beyond two standard deviations are redrawn; the stddev is
// corrected so that the truncated distribution has the requested variance.
double truncated_normal(Rng& rng, double stddev) {
  double z;
  do z = rng.normal();
  while (std::fabs(z) >= 2.0);
  return z * stddev / 0.87962566103423978;
}

// Keras's Orthogonal: a normal (max(r, c), min(r, c)) matrix for r = prod(shape[:-1]) rows and
// c = shape[-1] columns, Q of its QR with Q's columns multiplied by sign(diag(R)), transposed when
// r < c. Q with a positive diag(R) is what Gram-Schmidt gives, so this orthonormalizes the
// columns directly (modified Gram-Schmidt, in double).
void fill_orthogonal(float* values, const Shape& shape, double gain, Rng& rng) {
  const std::size_t n = shape_size(shape);
  if (n == 0) return;
  const std::size_t cols = shape.empty() ? 1 : shape.back();
  const std::size_t rows = n / cols;
  const std::size_t m = std::max(rows, cols), k = std::min(rows, cols);
  std::vector<double> a(m * k);  // row major (m, k)
  for (double& v : a) v = rng.normal();
  for (std::size_t j = 0; j < k; ++j) {
    for (std::size_t p = 0; p < j; ++p) {
      double dot = 0.0;
      for (std::size_t i = 0; i < m; ++i) dot += a[i * k + p] * a[i * k + j];
      for (std::size_t i = 0; i < m; ++i) a[i * k + j] -= dot * a[i * k + p];
    }
    double norm = 0.0;
    for (std::size_t i = 0; i < m; ++i) norm += a[i * k + j] * a[i * k + j];
    norm = std::sqrt(norm);
    for (std::size_t i = 0; i < m; ++i) a[i * k + j] = norm > 0.0 ? a[i * k + j] / norm : 0.0;
  }
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c)
      values[r * cols + c] = static_cast<float>(gain * (rows >= cols ? a[r * k + c] : a[c * k + r]));
}

}  // namespace

Initializer Initializer::from_json(const Json& spec) {
  Initializer init;
  Json config = Json::object();
  if (spec.is_string()) {
    init.name_ = spec.get<std::string>();
  } else if (spec.is_object() && spec.contains("class_name") && spec["class_name"].is_string()) {
    init.name_ = spec["class_name"].get<std::string>();
    if (spec.contains("config") && spec["config"].is_object()) config = spec["config"];
  } else {
    throw InputError("an initializer must be a name such as \"glorot_uniform\" or {\"class_name\": ..., "
                     "\"config\": {...}}, got " + spec.dump());
  }
  if (auto it = initializer_aliases().find(init.name_); it != initializer_aliases().end()) init.name_ = it->second;
  bool known = false;
  for (const auto& [camel, snake] : initializer_aliases()) known |= snake == init.name_;
  if (!known) throw InputError("unknown initializer \"" + init.name_ + "\" (known: " + known_initializers() + ")");
  init.value_ = config.value("value", 0.0);
  init.stddev_ = config.value("stddev", 0.05);
  init.minval_ = config.value("minval", -0.05);
  init.maxval_ = config.value("maxval", 0.05);
  init.gain_ = config.value("gain", 1.0);
  if (init.name_ == "variance_scaling") {
    init.scale_ = config.value("scale", 1.0);
    init.mode_ = config.value("mode", std::string("fan_in"));
    init.distribution_ = config.value("distribution", std::string("truncated_normal"));
    // Keras 2.0-2.2 wrote "normal" for what Keras 2.3 onwards names "truncated_normal".
    if (init.distribution_ == "normal") init.distribution_ = "truncated_normal";
    if (!(init.scale_ > 0.0)) throw InputError("VarianceScaling: \"scale\" must be positive, got " + config["scale"].dump());
    if (init.mode_ != "fan_in" && init.mode_ != "fan_out" && init.mode_ != "fan_avg")
      throw InputError("VarianceScaling: \"mode\" must be fan_in, fan_out or fan_avg, got \"" + init.mode_ + "\"");
    if (init.distribution_ != "truncated_normal" && init.distribution_ != "untruncated_normal" &&
        init.distribution_ != "uniform")
      throw InputError("VarianceScaling: \"distribution\" must be truncated_normal, untruncated_normal or uniform, "
                       "got \"" + init.distribution_ + "\"");
  }
  return init;
}

Json Initializer::to_json() const {
  if (name_ == "constant") return {{"class_name", "Constant"}, {"config", {{"value", value_}}}};
  if (name_ == "random_normal") return {{"class_name", "RandomNormal"}, {"config", {{"stddev", stddev_}}}};
  if (name_ == "random_uniform")
    return {{"class_name", "RandomUniform"}, {"config", {{"minval", minval_}, {"maxval", maxval_}}}};
  if (name_ == "orthogonal") return {{"class_name", "Orthogonal"}, {"config", {{"gain", gain_}}}};
  if (name_ == "variance_scaling")
    return {{"class_name", "VarianceScaling"},
            {"config", {{"scale", scale_}, {"mode", mode_}, {"distribution", distribution_}}}};
  return name_;
}

Initializer Initializer::with_unit_forget_bias(std::size_t units) const {
  Initializer init = *this;
  init.forget_bias_units_ = units;
  return init;
}

void Initializer::fill(float* values, const Shape& shape, Rng& rng) const {
  if (forget_bias_units_ > 0) {  // keras/src/layers/rnn/lstm.py: init(u), ones(u), init(2u)
    const std::size_t u = forget_bias_units_;
    Initializer plain = *this;
    plain.forget_bias_units_ = 0;
    plain.fill(values, {u}, rng);
    std::fill(values + u, values + 2 * u, 1.f);
    plain.fill(values + 2 * u, {2 * u}, rng);
    return;
  }
  const std::size_t n = shape_size(shape);
  const auto [fan_in, fan_out] = fans(shape);
  auto uniform = [&](double lo, double hi) {
    for (std::size_t i = 0; i < n; ++i) values[i] = static_cast<float>(lo + (hi - lo) * rng.uniform());
  };
  auto truncated = [&](double stddev) {
    for (std::size_t i = 0; i < n; ++i) values[i] = static_cast<float>(truncated_normal(rng, stddev));
  };
  if (name_ == "zeros" || name_ == "ones" || name_ == "constant") {
    const float v = name_ == "zeros" ? 0.f : name_ == "ones" ? 1.f : static_cast<float>(value_);
    std::fill(values, values + n, v);
  } else if (name_ == "glorot_uniform") {
    const double limit = std::sqrt(6.0 / (fan_in + fan_out));
    uniform(-limit, limit);
  } else if (name_ == "glorot_normal") {
    truncated(std::sqrt(2.0 / (fan_in + fan_out)));
  } else if (name_ == "he_normal") {
    truncated(std::sqrt(2.0 / fan_in));
  } else if (name_ == "he_uniform") {
    const double limit = std::sqrt(6.0 / fan_in);
    uniform(-limit, limit);
  } else if (name_ == "lecun_normal") {
    truncated(std::sqrt(1.0 / fan_in));
  } else if (name_ == "lecun_uniform") {
    const double limit = std::sqrt(3.0 / fan_in);
    uniform(-limit, limit);
  } else if (name_ == "orthogonal") {
    fill_orthogonal(values, shape, gain_, rng);
  } else if (name_ == "random_normal") {
    for (std::size_t i = 0; i < n; ++i) values[i] = static_cast<float>(rng.normal() * stddev_);
  } else if (name_ == "random_uniform") {
    uniform(minval_, maxval_);
  } else if (name_ == "variance_scaling") {
    const double fan = mode_ == "fan_in" ? fan_in : mode_ == "fan_out" ? fan_out : (fan_in + fan_out) / 2.0;
    const double variance = scale_ / std::max(1.0, fan);
    if (distribution_ == "uniform") {
      const double limit = std::sqrt(3.0 * variance);
      uniform(-limit, limit);
    } else if (distribution_ == "truncated_normal") {
      truncated(std::sqrt(variance));
    } else {
      for (std::size_t i = 0; i < n; ++i) values[i] = static_cast<float>(rng.normal() * std::sqrt(variance));
    }
  } else {
    throw InputError("unknown initializer \"" + name_ + "\" (known: " + known_initializers() + ")");
  }
}

}  // namespace plugfit
