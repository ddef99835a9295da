// The BuildContext of the model and of the gradient check: weights declared by a layer go into
// a deque (stable addresses), named "<layer>/<weight>", to be placed in flat buffers after.
#pragma once

#include <deque>
#include <string>

#include <plugfit/layer.hpp>

namespace plugfit {

class WeightCollector final : public BuildContext {
 public:
  WeightCollector(std::deque<Weight>& store, std::string layer, Rng& rng)
      : store_(store), layer_(std::move(layer)), rng_(rng) {}
  Weight& add_weight(const std::string& name, const Shape& shape, const Initializer& init) override {
    Weight& w = store_.emplace_back();
    w.name = layer_ + "/" + name;
    w.shape = shape;
    w.initializer = init;
    w.size = shape_size(shape);
    return w;
  }
  Rng& rng() override { return rng_; }

 private:
  std::deque<Weight>& store_;
  std::string layer_;
  Rng& rng_;
};

}  // namespace plugfit
