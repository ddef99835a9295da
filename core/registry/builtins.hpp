// Registers plugfit's own types through the same Registrar that plugins get, without a provider.
#pragma once

namespace plugfit {

class Registry;
void register_builtins(Registry& registry);

}  // namespace plugfit
