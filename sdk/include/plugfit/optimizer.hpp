// Optimizers update the model's one flat parameter buffer from its flat gradient buffer.
//
// State lives in named slots, each a flat buffer laid out like the parameters ("m" and "v" for
// Adam), plus the step count; checkpoints save them per weight by slicing. Options are checked
// in the constructor (a negative learning rate is an InputError naming the optimizer).
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
  // Called once the model knows its parameter count; allocates the slots (zeroed).
  virtual void build(std::size_t num_params) = 0;
  // requires: build() was called with params.size(); grads.size() == params.size().
  // ensures: params updated in place; iterations() incremented.
  virtual void step(std::span<float> params, std::span<const float> grads) = 0;
  virtual std::vector<OptimizerSlot> slots() { return {}; }
  virtual Json get_config() const = 0;

  double learning_rate() const { return learning_rate_; }
  void set_learning_rate(double lr);
  std::int64_t iterations() const { return iterations_; }
  void set_iterations(std::int64_t n) { iterations_ = n; }

 protected:
  explicit Optimizer(double learning_rate);
  double learning_rate_;
  std::int64_t iterations_ = 0;
};

}  // namespace plugfit
