#include "keras_options.hpp"

namespace plugfit {

void accept_keras_layer_options(Config& config) {
  config.accept({"name", "trainable", "dtype", "input_shape", "batch_input_shape", "batch_shape", "input_dim",
                 "autocast", "quantization_config", "lora_rank", "lora_alpha"});
}

void reject_keras_extras(Config& config, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    if (config.has(key))
      throw InputError(config.type_name() + ": the option \"" + key + "\" is not supported by plugfit (use null)");
    config.accept({key});
  }
}

}  // namespace plugfit
