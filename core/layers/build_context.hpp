// The BuildContext of the model and of the gradient check: weights declared by a layer go into
// a deque (stable addresses), named "<layer>/<weight>", to be placed in flat buffers after.
#pragma once

#include <deque>
#include <string>

#include <plugfit/layer.hpp>

namespace plugfit {

class WeightCollector final : public BuildContext {
 public:
  // layer_trainable false: the layer is frozen, so every weight it declares is non-trainable.
  WeightCollector(std::deque<Weight>& store, std::string layer, Rng& rng, SampleStreams& samples,
                  bool layer_trainable = true)
      : store_(store), layer_(std::move(layer)), rng_(rng), samples_(samples), layer_trainable_(layer_trainable) {}
  Weight& add_weight(const std::string& name, const Shape& shape, const Initializer& init,
                     bool trainable = true) override {
    // Checked first: a config's shape must not make plugfit allocate without bound.
    const std::size_t size = checked_shape_size(shape, "the layer " + layer_ + "'s weight \"" + name + "\"");
    Weight& w = store_.emplace_back();
    w.name = layer_ + "/" + name;
    w.shape = shape;
    w.initializer = init;
    w.trainable = trainable && layer_trainable_;
    w.size = size;
    return w;
  }
  Rng& rng() override { return rng_; }
  SampleStreams& sample_streams() override { return samples_; }

 private:
  std::deque<Weight>& store_;
  std::string layer_;
  Rng& rng_;
  SampleStreams& samples_;
  bool layer_trainable_;
};

}  // namespace plugfit
