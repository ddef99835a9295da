// A layer inside a wrapper (TimeDistributed, Bidirectional): built from its Keras spec
// {"class_name", "config"} through the registry, its weights declared under the wrapper's name.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include <plugfit/layer.hpp>

namespace plugfit {

struct InnerLayer {
  std::unique_ptr<Layer> layer;
  std::string class_name;  // the registry's name for it ("LSTM")
  bool trainable = true;   // false when its config says "trainable": false
};

// spec: already through keras_layer_spec. The inner config's base Layer options (name, trainable,
// precision, input shape) are the wrapper's business, as the model's are for its own layers; the
// layer is named by its config's "name", else Keras's default for its class. Throws InputError
// starting with `at` and naming the wrapper's option `key` ("layer") for a spec plugfit cannot build.
InnerLayer make_inner_layer(const Config& wrapper, const Json& spec, const std::string& at, const std::string& key);

// The inner layer's weights, declared under the wrapper's name with `prefix` before their own
// ("forward_lstm/" gives "bidirectional/forward_lstm/kernel"); frozen when the inner layer is.
class InnerBuildContext final : public BuildContext {
 public:
  InnerBuildContext(BuildContext& outer, bool trainable, std::string prefix = {})
      : outer_(outer), trainable_(trainable), prefix_(std::move(prefix)) {}
  Weight& add_weight(const std::string& name, const Shape& shape, const Initializer& init, bool trainable) override {
    return outer_.add_weight(prefix_ + name, shape, init, trainable && trainable_);
  }
  Rng& rng() override { return outer_.rng(); }
  SampleStreams& sample_streams() override { return outer_.sample_streams(); }

 private:
  BuildContext& outer_;
  bool trainable_;
  std::string prefix_;
};

}  // namespace plugfit
