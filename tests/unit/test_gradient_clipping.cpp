// The gradient_clipping plugin, loaded by name from the build tree and driven on a real model:
// known gradients in the flat buffer, on_before_optimizer_step, the exact clipped values for
// each mode (Keras's factor c / max(norm, c), computed in double), NaN and Inf left alone, no
// allocation per batch, and bad options refused.
#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <new>
#include <vector>

#include <plugfit/registry.hpp>

#include "plugin_loading/loader.hpp"
#include "builtins/builtins.hpp"
#include "training/fit.hpp"
#include "test_support.hpp"

// Every allocation through operator new in this test program (the plugin's included: the
// executable's operator new replaces the library's for every shared object). Not inlined, so
// that GCC does not pair a visible free() with operator new (-Wmismatched-new-delete).
namespace {
std::atomic<long> g_allocations{0};
}
[[gnu::noinline]] void* operator new(std::size_t size) {
  ++g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace plugfit;
using namespace plugfit::test;

namespace {

constexpr const char* kType = "gradient_clipping>GradientClipping";
constexpr float kFloatNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kFloatInf = std::numeric_limits<float>::infinity();

// The builtins plus the plugin, loaded once by name (plugins are never unloaded).
Registry& registry() {
  static Registry storage;
  static PluginLoader* loader = [] {
    register_builtins(storage);
    auto* l = new PluginLoader(storage);
    l->load("gradient_clipping");
    return l;
  }();
  (void)loader;
  return storage;
}

// Dense(3, relu) on 2 features, Dense(2): weights dense/kernel 6, dense/bias 3, dense_1/kernel 6,
// dense_1/bias 2; 17 gradients in all.
std::unique_ptr<Sequential> small_model() {
  Json layers = Json::array();
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 3}, {"activation", "relu"}}}});
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 2}}}});
  auto model = Sequential::from_config({{"layers", layers}}, registry());
  model->build({2}, 7);
  return model;
}

struct Setup {
  std::unique_ptr<Sequential> model = small_model();
  std::unique_ptr<Callback> clip;
  explicit Setup(const Json& config) : clip(registry().create_callback(kType, config)) {
    CallbackAccess::set_model(*clip, model.get());
  }
  std::span<float> grads() { return model->gradients(); }
  void set(const std::vector<float>& values) {
    REQUIRE(values.size() == grads().size());
    std::copy(values.begin(), values.end(), grads().begin());
  }
  std::vector<float> run() {
    clip->on_before_optimizer_step(0);
    return {grads().begin(), grads().end()};
  }
};

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))) return false;
  return true;
}

double norm(const float* g, std::size_t n) {
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += double(g[i]) * g[i];
  return std::sqrt(s);
}

std::string refusal(const Json& config) {
  try {
    registry().create_callback(kType, config);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace

TEST_CASE("gradient_clipping loads by name and registers GradientClipping") {
  Registry fresh;
  PluginLoader loader(fresh);
  const PluginInfo& info = loader.load("gradient_clipping");
  CHECK(info.version == "0.1.0");
  const TypeEntry* entry = fresh.find(TypeKind::callback, "GradientClipping");
  REQUIRE(entry != nullptr);
  CHECK(entry->name == kType);
  auto cb = fresh.create_callback(kType, {{"clipnorm", 1.0}});
  CHECK(cb->origin() == "plugin gradient_clipping 0.1.0");
  CHECK(CallbackAccess::overrides(*cb, BatchHook::kBeforeOptimizerStep));
}

TEST_CASE("the model's weights tile the flat gradient buffer (what the tests below rely on)") {
  auto model = small_model();
  const auto& w = model->weights();
  REQUIRE(w.size() == 4);
  CHECK(w[0]->name == "dense/kernel");
  CHECK((w[0]->offset == 0 && w[0]->size == 6 && w[1]->offset == 6 && w[1]->size == 3));
  CHECK((w[2]->offset == 9 && w[2]->size == 6 && w[3]->offset == 15 && w[3]->size == 2));
  CHECK(model->gradients().size() == 17);
}

TEST_CASE("clipvalue clamps each element to [-v, v]; NaN stays NaN, Inf becomes +-v (tf.clip_by_value)") {
  Setup s(Json{{"clipvalue", 2.0}});
  std::vector<float> g(17);
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = (static_cast<float>(i) - 8.f) * 0.75f;  // -6 .. 6
  g[3] = kFloatNaN;
  g[4] = kFloatInf;
  g[5] = -kFloatInf;
  g[9] = 2.f;
  g[10] = -2.f;
  s.set(g);
  const auto out = s.run();
  for (std::size_t i = 0; i < g.size(); ++i) {
    INFO("element " << i << ": " << g[i] << " -> " << out[i]);
    if (i == 3) CHECK(std::isnan(out[i]));
    else CHECK(out[i] == std::min(std::max(g[i], -2.f), 2.f));
  }
  CHECK(out[4] == 2.f);
  CHECK(out[5] == -2.f);
  CHECK(out[0] == -2.f);   // -6
  CHECK(out[7] == -0.75f); // within the bound: unchanged
}

TEST_CASE("clipnorm scales each weight's gradient to norm <= clipnorm, as Keras's clipnorm") {
  Setup s(Json{{"clipnorm", 1.0}});
  // dense/kernel norm 5; dense/bias norm 0.866 (within); dense_1/kernel norm sqrt(6); dense_1/bias 0.
  const std::vector<float> g{3, 4, 0, 0, 0, 0, 0.5f, 0.5f, 0.5f, 1, -1, 1, -1, 1, -1, 0, 0};
  s.set(g);
  const auto out = s.run();
  const double f_kernel = 1.0 / 5.0, f_kernel1 = 1.0 / std::sqrt(6.0);
  CHECK(out[0] == static_cast<float>(3.0 * f_kernel));
  CHECK(out[1] == static_cast<float>(4.0 * f_kernel));
  CHECK(out[0] == 0.6f);
  CHECK(out[1] == 0.8f);
  for (std::size_t i = 2; i < 6; ++i) CHECK(out[i] == 0.f);
  for (std::size_t i = 6; i < 9; ++i) CHECK(out[i] == 0.5f);  // norm 0.866: unchanged
  for (std::size_t i = 9; i < 15; ++i) CHECK(out[i] == static_cast<float>(double(g[i]) * f_kernel1));
  CHECK(out[15] == 0.f);
  CHECK(out[16] == 0.f);
  const auto& w = s.model->weights();
  for (const Weight* weight : w) CHECK(norm(out.data() + weight->offset, weight->size) <= 1.0 + 1e-6);
  CHECK(norm(out.data() + 9, 6) == doctest::Approx(1.0).epsilon(1e-7));
}

TEST_CASE("global_clipnorm scales all gradients together, as Keras's global_clipnorm and clip_grad_norm_") {
  Setup s(Json{{"global_clipnorm", 5.0}});
  std::vector<float> g(17);
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = static_cast<float>(i + 1) * (i % 2 == 0 ? 1.f : -1.f);
  s.set(g);
  const auto out = s.run();
  const double f = 5.0 / std::sqrt(1785.0);  // sum of k^2, k = 1..17
  for (std::size_t i = 0; i < g.size(); ++i) CHECK(out[i] == static_cast<float>(double(g[i]) * f));
  CHECK(norm(out.data(), out.size()) == doctest::Approx(5.0).epsilon(1e-7));
  // torch.nn.utils.clip_grad_norm_ uses max_norm / (norm + 1e-6): the same to within 1e-6.
  for (std::size_t i = 0; i < g.size(); ++i)
    CHECK(out[i] == doctest::Approx(double(g[i]) * 5.0 / (std::sqrt(1785.0) + 1e-6)).epsilon(1e-6));
}

TEST_CASE("gradients within every bound are left bit for bit") {
  Setup s(Json{{"clipvalue", 10.0}, {"clipnorm", 100.0}, {"global_clipnorm", 100.0}});
  std::vector<float> g(17);
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = std::sin(static_cast<float>(i)) * 3.f;
  s.set(g);
  CHECK(same_bits(s.run(), g));
}

TEST_CASE("the modes combine: value, then per-weight norm, then global norm") {
  Setup s(Json{{"clipvalue", 3.0}, {"clipnorm", 4.0}, {"global_clipnorm", 5.0}});
  const std::vector<float> g{10, -2, 1, 2, -1, 0,  // dense/kernel: clamps to 3, -2, 1, 2, -1, 0 (norm sqrt 19)
                             5, 5, -5,             // dense/bias: 3, 3, -3 (norm sqrt 27 > 4)
                             1, 1, 1, 1, 0, 0,     // dense_1/kernel: norm 2 (within)
                             0.5f, -9};            // dense_1/bias: 0.5, -3 (norm sqrt 9.25)
  s.set(g);
  const auto out = s.run();

  // The reference, step by step in double.
  const std::vector<std::size_t> offset{0, 6, 9, 15, 17};
  std::vector<double> clamped(g.size());
  for (std::size_t i = 0; i < g.size(); ++i) clamped[i] = std::min(std::max(double(g[i]), -3.0), 3.0);
  std::vector<double> f(4);
  double global_sq = 0;
  for (std::size_t w = 0; w < 4; ++w) {
    double sq = 0;
    for (std::size_t i = offset[w]; i < offset[w + 1]; ++i) sq += clamped[i] * clamped[i];
    f[w] = 4.0 / std::max(std::sqrt(sq), 4.0);
    global_sq += sq * f[w] * f[w];
  }
  const double fg = 5.0 / std::max(std::sqrt(global_sq), 5.0);
  CHECK(fg < 1.0);
  CHECK(f[2] == 1.0);
  for (std::size_t w = 0; w < 4; ++w)
    for (std::size_t i = offset[w]; i < offset[w + 1]; ++i) {
      INFO("element " << i);
      CHECK(out[i] == static_cast<float>(clamped[i] * (f[w] * fg)));
      // Applying the three clips one after the other in float agrees to float rounding.
      CHECK(out[i] == doctest::Approx(static_cast<float>(static_cast<float>(clamped[i] * f[w]) * fg)).epsilon(1e-6));
      CHECK(std::fabs(out[i]) <= 3.f);
    }
  for (std::size_t w = 0; w < 4; ++w) CHECK(norm(out.data() + offset[w], offset[w + 1] - offset[w]) <= 4.0 + 1e-6);
  CHECK(norm(out.data(), out.size()) == doctest::Approx(5.0).epsilon(1e-7));
}

TEST_CASE("NaN and Inf gradients are left for TerminateOnNaN; finite weights still clip by their own norm") {
  std::vector<float> g(17, 3.f);
  g[2] = kFloatNaN;   // in dense/kernel
  g[16] = kFloatInf;  // in dense_1/bias
  {
    Setup s(Json{{"clipnorm", 1.0}});
    s.set(g);
    const auto out = s.run();
    for (std::size_t i = 0; i < 6; ++i) CHECK((i == 2 ? std::isnan(out[i]) : out[i] == 3.f));  // norm NaN: left
    for (std::size_t i = 6; i < 15; ++i) CHECK(out[i] < 1.f);                                   // clipped
    CHECK(out[15] == 3.f);  // norm Inf: left
    CHECK(out[16] == kFloatInf);
  }
  {
    Setup s(Json{{"global_clipnorm", 1.0}});
    s.set(g);
    CHECK(same_bits(s.run(), g));  // the global norm is NaN: nothing is scaled
    std::vector<float> inf_only(17, 3.f);
    inf_only[0] = -kFloatInf;
    s.set(inf_only);
    CHECK(same_bits(s.run(), inf_only));
  }
}

TEST_CASE("a larger model: every mode against a plain reference, NaN included") {
  // Weights of 800, 40, 120 and 3 gradients (the kernels' blocked loops and their tails). Integer
  // gradients make every sum of squares exact in double, whatever the order of summation.
  Json layers = Json::array();
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 40}, {"activation", "relu"}}}});
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 3}}}});
  for (const bool with_nan : {false, true}) {
    auto model = Sequential::from_config({{"layers", layers}}, registry());
    model->build({20}, 1);
    const auto& weights = model->weights();
    REQUIRE(weights.size() == 4);
    const std::size_t n = model->gradients().size();
    REQUIRE(n == 963);
    std::vector<float> g(n);
    for (std::size_t i = 0; i < n; ++i) g[i] = static_cast<float>(static_cast<int>((i * 7) % 23) - 11);
    if (with_nan) g[37] = kFloatNaN;  // in dense/kernel, inside a block
    for (const Json& config : {Json{{"clipvalue", 4.0}}, Json{{"clipnorm", 30.0}}, Json{{"global_clipnorm", 40.0}},
                               Json{{"clipvalue", 4.0}, {"clipnorm", 30.0}, {"global_clipnorm", 40.0}}}) {
      INFO(config.dump() << (with_nan ? " with a NaN" : ""));
      auto clip = registry().create_callback(kType, config);
      CallbackAccess::set_model(*clip, model.get());
      std::copy(g.begin(), g.end(), model->gradients().begin());
      clip->on_before_optimizer_step(0);
      const std::vector<float> out(model->gradients().begin(), model->gradients().end());

      const double v = config.value("clipvalue", 0.0), c = config.value("clipnorm", 0.0),
                   gc = config.value("global_clipnorm", 0.0);
      std::vector<double> ref(g.begin(), g.end());
      if (v > 0)
        for (double& x : ref) x = std::isnan(x) ? x : std::min(std::max(x, -v), v);
      std::vector<double> f(weights.size(), 1.0);
      double global_sq = 0;
      for (std::size_t w = 0; w < weights.size(); ++w) {
        double sq = 0;
        for (std::size_t i = weights[w]->offset; i < weights[w]->offset + weights[w]->size; ++i) sq += ref[i] * ref[i];
        if (c > 0 && std::isfinite(sq)) f[w] = c / std::max(std::sqrt(sq), c);
        global_sq += sq * f[w] * f[w];
      }
      const double fg = gc > 0 && std::isfinite(global_sq) ? gc / std::max(std::sqrt(global_sq), gc) : 1.0;
      std::size_t changed = 0;
      for (std::size_t w = 0; w < weights.size(); ++w)
        for (std::size_t i = weights[w]->offset; i < weights[w]->offset + weights[w]->size; ++i) {
          const float expected = f[w] * fg == 1.0 ? static_cast<float>(ref[i]) : static_cast<float>(ref[i] * (f[w] * fg));
          if (!(out[i] == expected || (std::isnan(out[i]) && std::isnan(expected)))) {
            INFO("element " << i << ": " << out[i] << ", expected " << expected);
            CHECK(false);
          }
          changed += !(out[i] == g[i] || (std::isnan(out[i]) && std::isnan(g[i])));
        }
      if (with_nan && config.size() == 1 && gc > 0) CHECK(changed == 0);  // a NaN global norm scales nothing
      else CHECK(changed > 0);
      CHECK(std::isnan(out[37]) == with_nan);
    }
  }
}

TEST_CASE("on_before_optimizer_step allocates nothing per batch") {
  for (const Json& config : {Json{{"clipvalue", 0.5}}, Json{{"clipnorm", 1.0}}, Json{{"global_clipnorm", 1.0}},
                             Json{{"clipvalue", 0.5}, {"clipnorm", 1.0}, {"global_clipnorm", 1.0}}}) {
    Setup s(config);
    std::vector<float> g(17);
    for (std::size_t i = 0; i < g.size(); ++i) g[i] = static_cast<float>(i) - 3.f;
    s.set(g);
    s.clip->on_before_optimizer_step(0);  // the first call may size its per-weight scratch
    const long before = g_allocations.load();
    for (int batch = 1; batch < 100; ++batch) {
      std::copy(g.begin(), g.end(), s.grads().begin());
      s.clip->on_before_optimizer_step(batch);
    }
    const long allocated = g_allocations.load() - before;
    INFO(config.dump());
    CHECK(allocated == 0);
  }
}

TEST_CASE("in fit(), the optimizer receives the clipped gradients") {
  // A probe after GradientClipping sees what the optimizer will apply; another before it, the raw norm.
  struct Probe final : public Callback {
    bool raw;
    std::vector<double> norms;
    explicit Probe(bool r) : raw(r) {}
    void on_after_backward(std::int64_t) override {
      if (raw) norms.push_back(norm(model().gradients().data(), model().gradients().size()));
    }
    void on_before_optimizer_step(std::int64_t) override {
      if (!raw) norms.push_back(norm(model().gradients().data(), model().gradients().size()));
    }
  };
  Json layers = Json::array();
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 8}, {"activation", "relu"}}}});
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 3}, {"activation", "softmax"}}}});
  auto model = Sequential::from_config({{"layers", layers}}, registry());
  model->build({4}, 3);
  model->compile(registry().create_optimizer("SGD", {{"learning_rate", 1.0}}),
                 registry().create_loss("sparse_categorical_crossentropy", Json::object()),
                 "sparse_categorical_crossentropy", {});
  Dataset data;
  data.spec = "test";
  data.x = Tensor::from_shape({64, 4});
  data.y = Tensor::from_shape({64});
  Rng rng(5);
  for (std::size_t i = 0; i < 64; ++i) {
    for (std::size_t j = 0; j < 4; ++j) data.x(i, j) = static_cast<float>(rng.normal() * 3.0);
    data.y(i) = static_cast<float>(i % 3);
  }
  auto clip = registry().create_callback(kType, {{"global_clipnorm", 0.05}});
  Probe raw(true), clipped(false);
  FitOptions options;
  options.epochs = 2;
  options.batch_size = 16;
  options.verbose = 0;
  options.seed = 1;
  fit(*model, data, options, {&raw, clip.get(), &clipped});
  REQUIRE(raw.norms.size() == 8);
  REQUIRE(clipped.norms.size() == 8);
  for (std::size_t b = 0; b < 8; ++b) {
    INFO("batch " << b << ": raw norm " << raw.norms[b] << ", clipped " << clipped.norms[b]);
    CHECK(raw.norms[b] > 0.05);
    CHECK(clipped.norms[b] == doctest::Approx(0.05).epsilon(1e-6));
  }
}

TEST_CASE("options: at least one, each positive, no unknown ones") {
  CHECK(refusal(Json::object()) ==
        std::string(kType) + " needs at least one of \"clipnorm\", \"global_clipnorm\", \"clipvalue\" (each positive)");
  CHECK(refusal({{"clipnorm", nullptr}}).find("needs at least one of") != std::string::npos);
  CHECK(refusal({{"clipnorm", -1.0}}) == std::string(kType) + ": \"clipnorm\" must be a positive number, got -1.0");
  CHECK(refusal({{"global_clipnorm", 0}}) == std::string(kType) + ": \"global_clipnorm\" must be a positive number, got 0");
  CHECK(refusal({{"clipvalue", -0.5}, {"clipnorm", 1.0}}).find("\"clipvalue\" must be a positive number") !=
        std::string::npos);
  CHECK(refusal({{"clip_norm", 1.0}}).find("has no option \"clip_norm\"") != std::string::npos);
  CHECK(refusal({{"clipnorm", 1.0}, {"clipnrom", 2.0}}).find("has no option \"clipnrom\"") != std::string::npos);
  CHECK(refusal({{"clipvalue", "big"}}).find("\"clipvalue\" must be a number") != std::string::npos);
  CHECK(refusal({{"clipnorm", 1}}) == "(accepted)");  // integers are numbers
  CHECK(refusal({{"clipnorm", 0.5}, {"global_clipnorm", 1.0}, {"clipvalue", 0.1}}) == "(accepted)");
}
