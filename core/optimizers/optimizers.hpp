// Built-in optimizers with Keras's update rules and defaults: SGD (momentum, nesterov), Adam,
// RMSprop. Each update is one fused loop over the flat parameter buffer.
#pragma once

namespace plugfit {

class Registrar;
void register_builtin_optimizers(Registrar& registry);

}  // namespace plugfit
