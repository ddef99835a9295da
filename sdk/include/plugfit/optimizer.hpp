// Optimizers update the model's one flat parameter buffer from its flat gradient buffer.
//
// State lives in named slots, each a flat buffer laid out like the parameters ("m" and "v" for
// Adam), plus the step count; checkpoints save them per weight by slicing. Options are checked
// in the constructor (a negative learning rate is an InputError naming the optimizer).
//
// The base class is Keras 3's BaseOptimizer: constructed from a Config it reads the options every
// Keras optimizer takes and step() applies them around the subclass's update rule, in Keras's
// order: gradients divided by loss_scale_factor; with gradient_accumulation_steps N, summed into
// the "gradient_accumulator" slot and, on every Nth call only, replaced by their average; then
// clipped (clipnorm per weight, global_clipnorm over all, or clipvalue per element); then the
// decoupled weight decay `p -= p * weight_decay * learning_rate`; then update_step(). use_ema is
// refused (plugfit keeps no moving average of the weights), and so is jit_compile true;
// ema_momentum and ema_overwrite_frequency are checked as Keras checks them and, as in Keras
// without use_ema, have no effect. weight_decay applies to every parameter (plugfit's buffer
// holds trainable weights only).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "config.hpp"
#include "export.hpp"

namespace plugfit {

struct OptimizerSlot {
  std::string name;
  std::vector<float>* values;
};

class PLUGFIT_API Optimizer {
 public:
  virtual ~Optimizer();
  // Called once the model knows its parameters: one size per weight, in buffer order (clipnorm
  // clips each weight's gradient on its own); build(n) is one weight of n. Allocates every slot
  // (zeroed) and the scratch buffers, so step() never allocates.
  void build(std::span<const std::size_t> weight_sizes);
  void build(std::size_t num_params);
  // requires: build() was called with params.size() parameters; grads.size() == params.size().
  // ensures: iterations() incremented; params updated unless this call only accumulated.
  void step(std::span<float> params, std::span<const float> grads);
  // The rule's slots, then "gradient_accumulator" when accumulating.
  std::vector<OptimizerSlot> slots();
  // The rule's options and the base options that are set.
  Json get_config() const;

  double learning_rate() const { return learning_rate_; }
  void set_learning_rate(double lr);
  // Calls to step() so far (Keras's `_iterations`, the count checkpoints save): a resume in the
  // middle of an accumulation window continues it.
  std::int64_t iterations() const { return iterations_; }
  void set_iterations(std::int64_t n) { iterations_ = n; }
  // Updates applied so far (Keras's `iterations` property): iterations() / accumulation steps.
  std::int64_t updates_applied() const { return iterations_ / accumulation_steps_; }
  // The factor the loss's gradient is multiplied by (Keras's scale_loss; Sequential::compile
  // wraps the loss), divided out again by step(); 1 when unset.
  double loss_scale_factor() const { return loss_scale_factor_; }
  int gradient_accumulation_steps() const { return accumulation_steps_; }

 protected:
  // Only the learning rate: a Config holding any other base option is refused by the registry
  // (the key is never read).
  explicit Optimizer(double learning_rate);
  // Reads "learning_rate" (or "lr") and every base option from config; throws InputError naming
  // the optimizer and the option for a bad value.
  Optimizer(Config& config, double default_learning_rate);

  // Allocates the rule's slots for num_params parameters (zeroed).
  virtual void build_slots(std::size_t num_params) = 0;
  // The update rule. step_number is 1 for the first update applied (Keras's `iterations + 1`,
  // which counts updates, not accumulated batches). requires: sizes as in step().
  virtual void update_step(std::span<float> params, std::span<const float> grads, std::int64_t step_number) = 0;
  virtual std::vector<OptimizerSlot> rule_slots() { return {}; }
  virtual Json rule_config() const = 0;

  double learning_rate_;
  std::int64_t iterations_ = 0;

 private:
  void clip(std::span<float> grads) const;

  double loss_scale_factor_ = 1.0;
  bool scales_loss_ = false;
  int accumulation_steps_ = 1;
  double clipnorm_ = 0.0, clipvalue_ = 0.0, global_clipnorm_ = 0.0, weight_decay_ = 0.0;
  std::vector<std::size_t> weight_sizes_;
  std::vector<float> accumulator_;  // the "gradient_accumulator" slot
  std::vector<float> work_;         // the gradients after unscaling, averaging and clipping
};

}  // namespace plugfit
