// synthetic:samples=N,features=F,classes=C[,seed=S][,labels=random|linear]
//
// x is standard normal from Rng(seed). labels=random draws classes uniformly and independently of
// x (like tf.random.uniform in the Keras seed scripts); labels=linear is argmax(x @ W), or for
// classes=1 the binary label [x @ w > 0], so a model can learn it. W depends only on features and
// classes, never on the seed, so two seeds give a training and a validation set of one task.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <plugfit/error.hpp>
#include <plugfit/rng.hpp>

#include "dataset.hpp"
#include "key_values.hpp"

namespace plugfit {

namespace detail {
Dataset make_synthetic(const std::string& spec, const std::string& options);
}

namespace {

struct SyntheticOptions {
  std::uint64_t samples = 100;
  std::uint64_t features = 10;
  std::uint64_t classes = 10;
  std::uint64_t seed = 0;
  bool linear = false;
};

std::uint64_t parse_count(const std::string& spec, const std::string& key, const std::string& value, bool positive) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || end != value.data() + value.size() || (positive && v == 0))
    throw InputError("synthetic data spec \"" + spec + "\" has " + key + "=" + value + ", which is not a " +
                     (positive ? "positive" : "non-negative") + " integer");
  return v;
}

SyntheticOptions parse_options(const std::string& spec, const std::string& options) {
  SyntheticOptions out;
  for (const auto& [key, value] : split_key_values(options, "synthetic data spec \"" + spec + "\"")) {
    if (key == "samples") out.samples = parse_count(spec, key, value, true);
    else if (key == "features") out.features = parse_count(spec, key, value, true);
    else if (key == "classes") out.classes = parse_count(spec, key, value, true);
    else if (key == "seed") out.seed = parse_count(spec, key, value, false);
    else if (key == "labels") {
      if (value != "random" && value != "linear")
        throw InputError("synthetic data spec \"" + spec + "\" has labels=" + value + " (use labels=random or " +
                         "labels=linear)");
      out.linear = value == "linear";
    } else {
      throw InputError("synthetic data spec \"" + spec + "\" has the unknown option \"" + key +
                       "\" (known: samples, features, classes, seed, labels)");
    }
  }
  return out;
}

}  // namespace

namespace detail {

Dataset make_synthetic(const std::string& spec, const std::string& options) {
  const SyntheticOptions o = parse_options(spec, options);
  std::size_t count = 0;
  if (__builtin_mul_overflow(o.samples, o.features, &count) || count > (std::size_t{1} << 34))
    throw InputError("synthetic data spec \"" + spec + "\" asks for " + std::to_string(o.samples) + " x " +
                     std::to_string(o.features) + " values, too many to generate");
  const std::size_t n = o.samples, f = o.features, c = o.classes;

  Dataset d;
  d.spec = spec;
  d.x = Tensor::from_shape({n, f});
  d.y = Tensor::from_shape({n});
  float* x = d.x.data();
  float* y = d.y.data();
  Rng rng(o.seed);
  for (std::size_t i = 0; i < count; ++i) x[i] = static_cast<float>(rng.normal());

  if (!o.linear) {
    // A separate stream, so x is the same whichever labels are asked for.
    Rng label_rng(derive_seed(o.seed, 1));
    const std::uint64_t k = c == 1 ? 2 : c;
    for (std::size_t i = 0; i < n; ++i) y[i] = static_cast<float>(label_rng.below(k));
    return d;
  }

  // W is (f, c) (one column w for classes=1), drawn from a stream fixed by the shape alone.
  Rng w_rng(derive_seed(0x5717E71CULL + f, c));
  std::vector<double> w(f * c);
  for (auto& v : w) v = w_rng.normal();
  std::vector<double> logits(c);
  for (std::size_t i = 0; i < n; ++i) {
    const float* row = x + i * f;
    std::fill(logits.begin(), logits.end(), 0.0);
    for (std::size_t j = 0; j < f; ++j)
      for (std::size_t k = 0; k < c; ++k) logits[k] += static_cast<double>(row[j]) * w[j * c + k];
    if (c == 1) {
      y[i] = logits[0] > 0 ? 1.f : 0.f;
    } else {
      std::size_t best = 0;
      for (std::size_t k = 1; k < c; ++k)
        if (logits[k] > logits[best]) best = k;
      y[i] = static_cast<float>(best);
    }
  }
  return d;
}

}  // namespace detail

}  // namespace plugfit
