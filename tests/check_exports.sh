#!/usr/bin/env bash
# libplugfit.so's dynamic symbols: the engine's classes must not show, and every symbol must be
# in namespace plugfit (functions, vtables, typeinfo) or a C name the SDK declares. No std::
# template instantiations: core/libplugfit.map keeps them local (each plugin has its own copy).
# Usage: check_exports.sh LIBPLUGFIT_SO
set -euo pipefail
lib=$1
symbols=$(nm -D --defined-only "$lib" | awk '{print $3}' | c++filt)
count=$(printf '%s\n' "$symbols" | wc -l)
echo "$count exported symbols"
status=0
# Sequential is public since the C++ training API (plugfit/sequential.hpp); its state is behind a pimpl.
for internal in DirBackend FitSession PluginLoader CallbackList RegistryAccess CallbackAccess SequentialAccess ContextAccess ManagerCallback CheckpointManager; do
  if printf '%s\n' "$symbols" | grep -q "plugfit::$internal\b"; then
    echo "FAIL: internal $internal is exported:"; printf '%s\n' "$symbols" | grep "plugfit::$internal\b" | head -5
    status=1
  fi
done
# Allowed: anything naming plugfit:: first (after "vtable for", "typeinfo for", a return type),
# and the unversioned C names of the SDK.
stray=$(printf '%s\n' "$symbols" | grep -Ev '^((vtable|typeinfo|typeinfo name|VTT|construction vtable) for )?([^ (]+ )?plugfit::' |
          grep -Ev '^(plugfit_[a-z0-9_]+|_init|_fini|_edata|_end|__bss_start)$' || true)
if [ -n "$stray" ]; then
  echo "FAIL: $(printf '%s\n' "$stray" | wc -l) exported symbols outside namespace plugfit, e.g.:"
  printf '%s\n' "$stray" | head -20
  status=1
fi
exit $status
