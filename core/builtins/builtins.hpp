// The composition root: registers every built-in layer, loss, metric, optimizer and callback
// through the same registry API that plugins use. It sits above model/, training/ and the rest,
// so none of them depends on it.
#pragma once

namespace plugfit {

class Registry;
void register_builtins(Registry& registry);

}  // namespace plugfit
