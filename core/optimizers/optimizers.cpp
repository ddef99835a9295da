#include "optimizers.hpp"

#include <cmath>

#include <plugfit/registry.hpp>

namespace plugfit {

Optimizer::Optimizer(double learning_rate) : learning_rate_(learning_rate) {
  if (!(learning_rate >= 0.0) || !std::isfinite(learning_rate))
    throw InputError("the learning rate must be a non-negative number, got " + std::to_string(learning_rate));
}
Optimizer::~Optimizer() = default;

void Optimizer::set_learning_rate(double lr) {
  if (!(lr >= 0.0) || !std::isfinite(lr))
    throw InputError("the learning rate must be a non-negative number, got " + std::to_string(lr));
  learning_rate_ = lr;
}

namespace {

double read_learning_rate(Config& config, double fallback) {
  if (config.has("lr") && !config.has("learning_rate")) return config.get<double>("lr", fallback);
  config.accept({"lr"});
  return config.get<double>("learning_rate", fallback);
}

// Keras options plugfit has no use for, accepted at their neutral values only.
void accept_optimizer_options(Config& config) {
  config.accept({"name", "loss_scale_factor", "gradient_accumulation_steps", "ema_momentum",
                 "ema_overwrite_frequency", "is_legacy_optimizer", "jit_compile", "decay", "weight_decay",
                 "clipnorm", "clipvalue", "global_clipnorm", "use_ema"});
  for (const char* key : {"weight_decay", "clipnorm", "clipvalue", "global_clipnorm"})
    if (config.has(key))
      throw InputError(config.type_name() + ": the option \"" + key + "\" is not supported (use null; clip gradients " +
                       "with the gradient_clipping plugin)");
  if (config.get<bool>("use_ema", false)) throw InputError(config.type_name() + ": \"use_ema\" is not supported");
  if (config.get<double>("decay", 0.0) != 0.0) throw InputError(config.type_name() + ": \"decay\" must be 0");
}

double in_range(Config& config, const char* key, double fallback, double lo, double hi) {
  const double v = config.get<double>(key, fallback);
  if (!(v >= lo && v < hi))
    throw InputError(config.type_name() + ": \"" + std::string(key) + "\" must be in [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "), got " + std::to_string(v));
  return v;
}

class SGD final : public Optimizer {
 public:
  explicit SGD(Config& config)
      : Optimizer(read_learning_rate(config, 0.01)),
        momentum_(in_range(config, "momentum", 0.0, 0.0, 1.0)),
        nesterov_(config.get<bool>("nesterov", false)) {
    accept_optimizer_options(config);
  }
  void build(std::size_t n) override { momentum_buffer_.assign(momentum_ > 0.0 ? n : 0, 0.f); }
  void step(std::span<float> params, std::span<const float> grads) override {
    float* __restrict p = params.data();
    const float* __restrict g = grads.data();
    const std::size_t n = params.size();
    const auto lr = static_cast<float>(learning_rate_);
    if (momentum_ == 0.0) {
      for (std::size_t i = 0; i < n; ++i) p[i] -= lr * g[i];
    } else {
      float* __restrict m = momentum_buffer_.data();
      const auto mu = static_cast<float>(momentum_);
      if (nesterov_) {
        for (std::size_t i = 0; i < n; ++i) {
          m[i] = mu * m[i] - lr * g[i];
          p[i] += mu * m[i] - lr * g[i];
        }
      } else {
        for (std::size_t i = 0; i < n; ++i) {
          m[i] = mu * m[i] - lr * g[i];
          p[i] += m[i];
        }
      }
    }
    ++iterations_;
  }
  std::vector<OptimizerSlot> slots() override {
    if (momentum_ == 0.0) return {};
    return {{"momentum", &momentum_buffer_}};
  }
  Json get_config() const override {
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
      : Optimizer(read_learning_rate(config, 0.001)),
        beta_1_(in_range(config, "beta_1", 0.9, 0.0, 1.0)),
        beta_2_(in_range(config, "beta_2", 0.999, 0.0, 1.0)),
        epsilon_(config.get<double>("epsilon", 1e-7)) {
    if (config.get<bool>("amsgrad", false)) throw InputError("Adam: \"amsgrad\" is not supported");
    if (!(epsilon_ > 0.0)) throw InputError("Adam: \"epsilon\" must be positive");
    accept_optimizer_options(config);
  }
  void build(std::size_t n) override {
    m_.assign(n, 0.f);
    v_.assign(n, 0.f);
  }
  void step(std::span<float> params, std::span<const float> grads) override {
    const double t = static_cast<double>(iterations_ + 1);
    const auto alpha = static_cast<float>(learning_rate_ * std::sqrt(1.0 - std::pow(beta_2_, t)) /
                                          (1.0 - std::pow(beta_1_, t)));
    const auto b1 = static_cast<float>(1.0 - beta_1_), b2 = static_cast<float>(1.0 - beta_2_);
    const auto eps = static_cast<float>(epsilon_);
    float* __restrict p = params.data();
    const float* __restrict g = grads.data();
    float* __restrict m = m_.data();
    float* __restrict v = v_.data();
    const std::size_t n = params.size();
    for (std::size_t i = 0; i < n; ++i) {
      m[i] += (g[i] - m[i]) * b1;
      v[i] += (g[i] * g[i] - v[i]) * b2;
      p[i] -= alpha * m[i] / (std::sqrt(v[i]) + eps);
    }
    ++iterations_;
  }
  std::vector<OptimizerSlot> slots() override { return {{"m", &m_}, {"v", &v_}}; }
  Json get_config() const override {
    return {{"learning_rate", learning_rate_}, {"beta_1", beta_1_}, {"beta_2", beta_2_}, {"epsilon", epsilon_}};
  }

 private:
  double beta_1_, beta_2_, epsilon_;
  std::vector<float> m_, v_;
};

class RMSprop final : public Optimizer {
 public:
  explicit RMSprop(Config& config)
      : Optimizer(read_learning_rate(config, 0.001)),
        rho_(in_range(config, "rho", 0.9, 0.0, 1.0)),
        momentum_(in_range(config, "momentum", 0.0, 0.0, 1.0)),
        epsilon_(config.get<double>("epsilon", 1e-7)),
        centered_(config.get<bool>("centered", false)) {
    if (!(epsilon_ > 0.0)) throw InputError("RMSprop: \"epsilon\" must be positive");
    accept_optimizer_options(config);
  }
  void build(std::size_t n) override {
    velocity_.assign(n, 0.f);
    average_grad_.assign(centered_ ? n : 0, 0.f);
    momentum_buffer_.assign(momentum_ > 0.0 ? n : 0, 0.f);
  }
  void step(std::span<float> params, std::span<const float> grads) override {
    const auto rho = static_cast<float>(rho_), lr = static_cast<float>(learning_rate_);
    const auto eps = static_cast<float>(epsilon_), mu = static_cast<float>(momentum_);
    float* __restrict p = params.data();
    const float* __restrict g = grads.data();
    float* __restrict v = velocity_.data();
    float* __restrict a = average_grad_.data();
    float* __restrict m = momentum_buffer_.data();
    const std::size_t n = params.size();
    for (std::size_t i = 0; i < n; ++i) {
      v[i] = rho * v[i] + (1.f - rho) * g[i] * g[i];
      float denominator = v[i];
      if (centered_) {
        a[i] = rho * a[i] + (1.f - rho) * g[i];
        denominator -= a[i] * a[i];
      }
      const float increment = lr * g[i] / std::sqrt(denominator + eps);
      if (momentum_ > 0.0) {
        m[i] = mu * m[i] + increment;
        p[i] -= m[i];
      } else {
        p[i] -= increment;
      }
    }
    ++iterations_;
  }
  std::vector<OptimizerSlot> slots() override {
    std::vector<OptimizerSlot> out{{"velocity", &velocity_}};
    if (centered_) out.push_back({"average_gradient", &average_grad_});
    if (momentum_ > 0.0) out.push_back({"momentum", &momentum_buffer_});
    return out;
  }
  Json get_config() const override {
    return {{"learning_rate", learning_rate_}, {"rho", rho_},
            {"momentum", momentum_},           {"epsilon", epsilon_},
            {"centered", centered_}};
  }

 private:
  double rho_, momentum_, epsilon_;
  bool centered_;
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
