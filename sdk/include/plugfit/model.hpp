// What callbacks see of the model being trained (the host's Sequential implements it).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "config.hpp"
#include "export.hpp"
#include "layer.hpp"
#include "optimizer.hpp"

namespace plugfit {

class PLUGFIT_API Model {
 public:
  virtual ~Model();

  virtual std::size_t num_layers() const = 0;
  virtual Layer& layer(std::size_t index) = 0;
  // Every weight, in layer order; each a slice of parameters() and gradients() at its offset.
  virtual const std::vector<Weight*>& weights() const = 0;
  // The weight named "dense_1/kernel", or nullptr.
  Weight* find_weight(const std::string& name) const;
  virtual std::span<float> parameters() = 0;
  virtual std::span<float> gradients() = 0;
  // The trainable weights come first in both buffers: the optimizer steps over the first
  // num_trainable() floats only; non-trainable weights (frozen layers, layer state) follow.
  virtual std::size_t num_trainable() const = 0;
  std::span<float> trainable_parameters() { return parameters().first(num_trainable()); }
  std::span<float> trainable_gradients() { return gradients().first(num_trainable()); }
  // The compiled optimizer, or nullptr before compile.
  virtual Optimizer* optimizer() = 0;
  // {"class_name": "Sequential", "config": {"layers": [...]}}
  virtual Json get_config() const = 0;

  // Set by a callback to end fit() after the current batch; on_train_end still runs.
  bool stop_training = false;
};

}  // namespace plugfit
