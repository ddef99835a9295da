// The composition root: registers every built-in layer, loss, metric, optimizer and callback
// through the same Registrar that plugins get, without a provider. It sits above model/, training/ and
// the rest, so none of them depends on it.
#pragma once

namespace plugfit {

class Registry;
void register_builtins(Registry& registry);

}  // namespace plugfit
