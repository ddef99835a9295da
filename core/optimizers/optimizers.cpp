#include "optimizers.hpp"

#include <algorithm>
#include <cmath>

#include <plugfit/registry.hpp>

#include "../util/parallel.hpp"

namespace plugfit {

namespace {

// The rules' updates are elementwise, so splitting the flat buffer changes no result. Below
// this many parameters one thread is faster (measured: Adam over the MLP's 101,770 parameters
// gains from 2 threads; a few thousand do not pay for waking the workers).
constexpr std::size_t kMinParallelParams = std::size_t{1} << 14;

template <class Body>
void for_each_range(std::size_t n, Body&& body) {
  if (n >= kMinParallelParams) parallel_for(n, [&](std::size_t begin, std::size_t end, int) { body(begin, end); });
  else body(0, n);
}

void check_learning_rate(double lr) {
  if (!(lr >= 0.0) || !std::isfinite(lr))
    throw InputError("the learning rate must be a non-negative number, got " + std::to_string(lr));
}

double read_learning_rate(Config& config, double fallback) {
  if (config.has("lr") && !config.has("learning_rate")) return config.get<double>("lr", fallback);
  config.accept({"lr"});
  return config.get<double>("learning_rate", fallback);
}

// A positive option, or 0 when null or absent.
double positive_or_unset(Config& config, const char* key) {
  const double v = config.get<double>(key, 0.0);  // marks the key read, null included
  if (!config.has(key) || config.raw(key).is_null()) return 0.0;
  if (!(v > 0.0) || !std::isfinite(v))
    throw InputError(config.type_name() + ": \"" + key + "\" must be a positive number or null, got " +
                     config.raw(key).dump());
  return v;
}

}  // namespace

Optimizer::Optimizer(double learning_rate) : learning_rate_(learning_rate) { check_learning_rate(learning_rate); }

Optimizer::Optimizer(Config& config, double default_learning_rate)
    : learning_rate_(read_learning_rate(config, default_learning_rate)) {
  check_learning_rate(learning_rate_);
  const std::string& type = config.type_name();
  config.accept({"name"});
  if (config.get<bool>("jit_compile", false))
    throw InputError(type + ": jit_compile is an XLA compilation flag; plugfit has no XLA, set it to false");
  if (config.get<bool>("is_legacy_optimizer", false))
    throw InputError(type + ": is_legacy_optimizer names a TF 2.x legacy optimizer; plugfit has only Keras 3's, "
                            "set it to false");
  if (config.get<double>("decay", 0.0) != 0.0)
    throw InputError(type + ": \"decay\" (Keras 2's per-step learning rate decay) must be 0; use a "
                            "LearningRateScheduler callback");
  if (config.get<bool>("use_ema", false))
    throw InputError(type + ": use_ema is not supported (plugfit keeps no moving average of the weights), "
                            "set it to false");
  // Without use_ema Keras does not use these either; they are checked as Keras checks them.
  const double ema_momentum = config.get<double>("ema_momentum", 0.99);
  if (!(ema_momentum >= 0.0 && ema_momentum <= 1.0))
    throw InputError(type + ": \"ema_momentum\" must be in [0, 1], got " + std::to_string(ema_momentum));
  if (config.get<int>("ema_overwrite_frequency", 1) < 1)
    throw InputError(type + ": \"ema_overwrite_frequency\" must be an integer >= 1 or null");

  loss_scale_factor_ = positive_or_unset(config, "loss_scale_factor");
  scales_loss_ = loss_scale_factor_ > 0.0;
  if (!scales_loss_) loss_scale_factor_ = 1.0;
  const int accumulation = config.get<int>("gradient_accumulation_steps", 0);
  if (accumulation == 1 || accumulation < 0)
    throw InputError(type + ": \"gradient_accumulation_steps\" must be an integer >= 2 or null, got " +
                     std::to_string(accumulation));
  accumulation_steps_ = std::max(accumulation, 1);
  clipnorm_ = positive_or_unset(config, "clipnorm");
  clipvalue_ = positive_or_unset(config, "clipvalue");
  global_clipnorm_ = positive_or_unset(config, "global_clipnorm");
  if ((clipnorm_ > 0.0) + (clipvalue_ > 0.0) + (global_clipnorm_ > 0.0) > 1)
    throw InputError(type + ": only one of \"clipnorm\", \"clipvalue\" and \"global_clipnorm\" can be set");
  weight_decay_ = config.get<double>("weight_decay", 0.0);
  if (!(weight_decay_ >= 0.0) || !std::isfinite(weight_decay_))
    throw InputError(type + ": \"weight_decay\" must be a non-negative number or null, got " +
                     std::to_string(weight_decay_));
}

Optimizer::~Optimizer() = default;

void Optimizer::set_learning_rate(double lr) {
  check_learning_rate(lr);
  learning_rate_ = lr;
}

void Optimizer::build(std::size_t num_params) {
  const std::size_t one[] = {num_params};
  build(one);
}

void Optimizer::build(std::span<const std::size_t> weight_sizes) {
  weight_sizes_.assign(weight_sizes.begin(), weight_sizes.end());
  std::size_t n = 0;
  for (std::size_t size : weight_sizes) n += size;
  accumulator_.assign(accumulation_steps_ > 1 ? n : 0, 0.f);
  const bool transforms = scales_loss_ || accumulation_steps_ > 1 || clipnorm_ > 0.0 || clipvalue_ > 0.0 ||
                          global_clipnorm_ > 0.0;
  work_.assign(transforms ? n : 0, 0.f);
  build_slots(n);
}

void Optimizer::clip(std::span<float> grads) const {
  float* g = grads.data();
  if (clipvalue_ > 0.0) {
    const auto c = static_cast<float>(clipvalue_);
    for (float& v : grads) v = std::clamp(v, -c, c);
  } else if (clipnorm_ > 0.0 || global_clipnorm_ > 0.0) {
    // Keras's factor c / max(norm, c): each weight's own norm, or one norm over all of them.
    const double c = clipnorm_ > 0.0 ? clipnorm_ : global_clipnorm_;
    auto scale = [&](std::size_t begin, std::size_t end) {
      double sum = 0.0;
      for (std::size_t i = begin; i < end; ++i) sum += double(g[i]) * g[i];
      const auto factor = static_cast<float>(c / std::max(std::sqrt(sum), c));
      for (std::size_t i = begin; i < end; ++i) g[i] *= factor;
    };
    if (global_clipnorm_ > 0.0) {
      scale(0, grads.size());
    } else {
      std::size_t begin = 0;
      for (std::size_t size : weight_sizes_) {
        scale(begin, begin + size);
        begin += size;
      }
    }
  }
}

void Optimizer::step(std::span<float> params, std::span<const float> grads) {
  std::span<const float> g = grads;
  const std::size_t n = grads.size();
  if (!work_.empty()) {
    float* __restrict w = work_.data();
    const float* __restrict in = grads.data();
    if (scales_loss_) {
      const auto scale = static_cast<float>(loss_scale_factor_);
      for (std::size_t i = 0; i < n; ++i) w[i] = in[i] / scale;
    } else {
      std::copy(in, in + n, w);
    }
    if (accumulation_steps_ > 1) {
      float* __restrict acc = accumulator_.data();
      if ((iterations_ + 1) % accumulation_steps_ != 0) {
        for (std::size_t i = 0; i < n; ++i) acc[i] += w[i];
        ++iterations_;
        return;
      }
      const auto steps = static_cast<float>(accumulation_steps_);
      for (std::size_t i = 0; i < n; ++i) w[i] = (w[i] + acc[i]) / steps;
      std::fill(accumulator_.begin(), accumulator_.end(), 0.f);
    }
    clip(work_);
    g = work_;
  }
  if (weight_decay_ > 0.0) {
    const auto decay = static_cast<float>(weight_decay_ * learning_rate_);
    for (float& p : params) p -= p * decay;
  }
  update_step(params, g, updates_applied() + 1);
  ++iterations_;
}

std::vector<OptimizerSlot> Optimizer::slots() {
  std::vector<OptimizerSlot> out = rule_slots();
  if (accumulation_steps_ > 1) out.push_back({"gradient_accumulator", &accumulator_});
  return out;
}

Json Optimizer::get_config() const {
  Json config = rule_config();
  if (scales_loss_) config["loss_scale_factor"] = loss_scale_factor_;
  if (accumulation_steps_ > 1) config["gradient_accumulation_steps"] = accumulation_steps_;
  if (clipnorm_ > 0.0) config["clipnorm"] = clipnorm_;
  if (clipvalue_ > 0.0) config["clipvalue"] = clipvalue_;
  if (global_clipnorm_ > 0.0) config["global_clipnorm"] = global_clipnorm_;
  if (weight_decay_ > 0.0) config["weight_decay"] = weight_decay_;
  return config;
}

namespace {

double in_range(Config& config, const char* key, double fallback, double lo, double hi) {
  const double v = config.get<double>(key, fallback);
  if (!(v >= lo && v < hi))
    throw InputError(config.type_name() + ": \"" + std::string(key) + "\" must be in [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "), got " + std::to_string(v));
  return v;
}

// The optimizers' element loops, as functions of restrict pointers over one chunk: pointers
// captured by a lambda lose their __restrict and the loops stay scalar (Adam's update took half
// of a batch-32 MLP step that way, 2.5x the step of these functions).
struct SgdStep {
  float lr, mu;
  bool nesterov;
};
// m is null without momentum.
void sgd_range(const SgdStep& s, float* __restrict p, const float* __restrict g, float* __restrict m, std::size_t n) {
  if (m == nullptr) {
    for (std::size_t i = 0; i < n; ++i) p[i] -= s.lr * g[i];
  } else if (s.nesterov) {
    for (std::size_t i = 0; i < n; ++i) {
      m[i] = s.mu * m[i] - s.lr * g[i];
      p[i] += s.mu * m[i] - s.lr * g[i];
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      m[i] = s.mu * m[i] - s.lr * g[i];
      p[i] += m[i];
    }
  }
}

struct RmspropStep {
  float rho, lr, eps, mu;
  bool centered, has_momentum, epsilon_outside_sqrt;
};
// a is null unless centered, m unless with momentum.
void rmsprop_range(const RmspropStep& s, float* __restrict p, const float* __restrict g, float* __restrict v,
                   float* __restrict a, float* __restrict m, std::size_t n) {
  const float rho = s.rho, lr = s.lr, eps = s.eps, mu = s.mu;
  const bool centered = s.centered, has_momentum = s.has_momentum, outside = s.epsilon_outside_sqrt;
  for (std::size_t i = 0; i < n; ++i) {
    v[i] = rho * v[i] + (1.f - rho) * g[i] * g[i];
    float denominator = v[i];
    if (centered) {
      a[i] = rho * a[i] + (1.f - rho) * g[i];
      denominator -= a[i] * a[i];
    }
    // Keras <= 2.3: g / (sqrt(a) + eps); tf.keras 2.x and Keras 3: g / sqrt(a + eps).
    const float increment = outside ? lr * g[i] / (std::sqrt(denominator) + eps) : lr * g[i] / std::sqrt(denominator + eps);
    if (has_momentum) {
      m[i] = mu * m[i] + increment;
      p[i] -= m[i];
    } else {
      p[i] -= increment;
    }
  }
}

struct AdamStep {
  float alpha, b1, b2, eps;
};
void adam_range(const AdamStep& s, float* __restrict p, const float* __restrict g, float* __restrict m,
                float* __restrict v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    m[i] += (g[i] - m[i]) * s.b1;
    v[i] += (g[i] * g[i] - v[i]) * s.b2;
    p[i] -= s.alpha * m[i] / (std::sqrt(v[i]) + s.eps);
  }
}
// Keras's AMSGrad: the step divides by the largest second moment seen so far.
void adam_amsgrad_range(const AdamStep& s, float* __restrict p, const float* __restrict g, float* __restrict m,
                        float* __restrict v, float* __restrict v_hat, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    m[i] += (g[i] - m[i]) * s.b1;
    v[i] += (g[i] * g[i] - v[i]) * s.b2;
    v_hat[i] = std::max(v_hat[i], v[i]);
    p[i] -= s.alpha * m[i] / (std::sqrt(v_hat[i]) + s.eps);
  }
}

class SGD final : public Optimizer {
 public:
  explicit SGD(Config& config)
      : Optimizer(config, 0.01),
        momentum_(in_range(config, "momentum", 0.0, 0.0, 1.0)),
        nesterov_(config.get<bool>("nesterov", false)) {}
  void build_slots(std::size_t n) override { momentum_buffer_.assign(momentum_ > 0.0 ? n : 0, 0.f); }
  void update_step(std::span<float> params, std::span<const float> grads, std::int64_t) override {
    const SgdStep step{static_cast<float>(learning_rate_), static_cast<float>(momentum_), nesterov_};
    float* p = params.data();
    const float* g = grads.data();
    float* m = momentum_buffer_.data();
    for_each_range(params.size(), [&](std::size_t begin, std::size_t end) {
      sgd_range(step, p + begin, g + begin, momentum_ == 0.0 ? nullptr : m + begin, end - begin);
    });
  }
  std::vector<OptimizerSlot> rule_slots() override {
    if (momentum_ == 0.0) return {};
    return {{"momentum", &momentum_buffer_}};
  }
  Json rule_config() const override {
    return {{"learning_rate", learning_rate_}, {"momentum", momentum_}, {"nesterov", nesterov_}};
  }

 private:
  double momentum_;
  bool nesterov_;
  std::vector<float> momentum_buffer_;
};

class Adam final : public Optimizer {
 public:
  explicit Adam(Config& config)
      : Optimizer(config, 0.001),
        beta_1_(in_range(config, "beta_1", 0.9, 0.0, 1.0)),
        beta_2_(in_range(config, "beta_2", 0.999, 0.0, 1.0)),
        epsilon_(config.get<double>("epsilon", 1e-7)),
        amsgrad_(config.get<bool>("amsgrad", false)) {
    if (!(epsilon_ > 0.0)) throw InputError("Adam: \"epsilon\" must be positive");
  }
  void build_slots(std::size_t n) override {
    m_.assign(n, 0.f);
    v_.assign(n, 0.f);
    v_hat_.assign(amsgrad_ ? n : 0, 0.f);
  }
  void update_step(std::span<float> params, std::span<const float> grads, std::int64_t step_number) override {
    const auto t = static_cast<double>(step_number);
    const auto alpha = static_cast<float>(learning_rate_ * std::sqrt(1.0 - std::pow(beta_2_, t)) /
                                          (1.0 - std::pow(beta_1_, t)));
    const auto b1 = static_cast<float>(1.0 - beta_1_), b2 = static_cast<float>(1.0 - beta_2_);
    const auto eps = static_cast<float>(epsilon_);
    const AdamStep step{alpha, b1, b2, eps};
    float* p = params.data();
    const float* g = grads.data();
    float* m = m_.data();
    float* v = v_.data();
    float* v_hat = v_hat_.data();
    for_each_range(params.size(), [&](std::size_t begin, std::size_t end) {
      if (amsgrad_) adam_amsgrad_range(step, p + begin, g + begin, m + begin, v + begin, v_hat + begin, end - begin);
      else adam_range(step, p + begin, g + begin, m + begin, v + begin, end - begin);
    });
  }
  std::vector<OptimizerSlot> rule_slots() override {
    if (amsgrad_) return {{"m", &m_}, {"v", &v_}, {"v_hat", &v_hat_}};
    return {{"m", &m_}, {"v", &v_}};
  }
  Json rule_config() const override {
    return {{"learning_rate", learning_rate_}, {"beta_1", beta_1_}, {"beta_2", beta_2_},
            {"epsilon", epsilon_},             {"amsgrad", amsgrad_}};
  }

 private:
  double beta_1_, beta_2_, epsilon_;
  bool amsgrad_;
  std::vector<float> m_, v_, v_hat_;
};

class RMSprop final : public Optimizer {
 public:
  explicit RMSprop(Config& config)
      : Optimizer(config, 0.001),
        rho_(in_range(config, "rho", 0.9, 0.0, 1.0)),
        momentum_(in_range(config, "momentum", 0.0, 0.0, 1.0)),
        epsilon_(config.get<double>("epsilon", 1e-7)),
        centered_(config.get<bool>("centered", false)),
        epsilon_outside_sqrt_(config.get<bool>("epsilon_outside_sqrt", false)) {
    if (!(epsilon_ > 0.0)) throw InputError("RMSprop: \"epsilon\" must be positive");
    // Keras <= 2.3 had neither option; its update is the plain one.
    if (epsilon_outside_sqrt_ && (centered_ || momentum_ > 0.0))
      throw InputError("RMSprop: \"epsilon_outside_sqrt\" (Keras <= 2.3's update) takes neither \"centered\" nor "
                       "\"momentum\"");
  }
  void build_slots(std::size_t n) override {
    velocity_.assign(n, 0.f);
    average_grad_.assign(centered_ ? n : 0, 0.f);
    momentum_buffer_.assign(momentum_ > 0.0 ? n : 0, 0.f);
  }
  void update_step(std::span<float> params, std::span<const float> grads, std::int64_t) override {
    const RmspropStep step{static_cast<float>(rho_), static_cast<float>(learning_rate_), static_cast<float>(epsilon_),
                           static_cast<float>(momentum_), centered_, momentum_ > 0.0, epsilon_outside_sqrt_};
    float* p = params.data();
    const float* g = grads.data();
    float* v = velocity_.data();
    float* a = average_grad_.data();
    float* m = momentum_buffer_.data();
    for_each_range(params.size(), [&](std::size_t begin, std::size_t end) {
      rmsprop_range(step, p + begin, g + begin, v + begin, centered_ ? a + begin : nullptr,
                    step.has_momentum ? m + begin : nullptr, end - begin);
    });
  }
  std::vector<OptimizerSlot> rule_slots() override {
    std::vector<OptimizerSlot> out{{"velocity", &velocity_}};
    if (centered_) out.push_back({"average_gradient", &average_grad_});
    if (momentum_ > 0.0) out.push_back({"momentum", &momentum_buffer_});
    return out;
  }
  Json rule_config() const override {
    Json config = {{"learning_rate", learning_rate_}, {"rho", rho_},
                   {"momentum", momentum_},           {"epsilon", epsilon_},
                   {"centered", centered_}};
    if (epsilon_outside_sqrt_) config["epsilon_outside_sqrt"] = true;  // saved so a resume keeps the form
    return config;
  }

 private:
  double rho_, momentum_, epsilon_;
  bool centered_;
  bool epsilon_outside_sqrt_;
  std::vector<float> velocity_, average_grad_, momentum_buffer_;
};

}  // namespace

void register_builtin_optimizers(Registrar& registry) {
  registry.add_optimizer<SGD>("SGD");
  registry.add_optimizer<Adam>("Adam");
  registry.add_optimizer<RMSprop>("RMSprop");
  // Keras's compile() also takes the lower-case names.
  registry.add_optimizer<SGD>("sgd");
  registry.add_optimizer<Adam>("adam");
  registry.add_optimizer<RMSprop>("rmsprop");
}

}  // namespace plugfit
