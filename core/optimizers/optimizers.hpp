// Built-in optimizers with Keras's update rules and defaults: SGD (momentum, nesterov), Adam,
// RMSprop. Each update is one fused loop over the flat parameter buffer.
#pragma once

namespace plugfit {

class Registry;
void register_builtin_optimizers(Registry& registry);

}  // namespace plugfit
