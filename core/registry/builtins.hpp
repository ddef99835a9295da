// Registers plugfit's own types through the same registry API that plugins use.
#pragma once

namespace plugfit {

class Registry;
void register_builtins(Registry& registry);

}  // namespace plugfit
