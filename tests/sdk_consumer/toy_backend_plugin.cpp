// The toy backend alone, as the plugin "toy_backend": the host loads "<scheme>_backend" by itself
// when it opens a URI of an unknown scheme, so that `plugfit convert dir:X toy:Y` and
// `plugfit inspect toy:Y` work with no flag. acme provides the same backend to runs that load acme.
#include <plugfit/sdk.hpp>

#include "toy_backend.hpp"

namespace {

void register_types(plugfit::Registrar& registrar) { acme::register_toy_backend(registrar); }

}  // namespace

PLUGFIT_PLUGIN_DESCRIBED("toy_backend", "1.2.0", "checkpoint backend \"toy\": acme's one file per checkpoint",
                         register_types)
