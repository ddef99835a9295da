// Symbol visibility. libplugfit and every plugin build with -fvisibility=hidden; the SDK's
// classes carry PLUGFIT_API so that their vtables, typeinfo and exception types are one
// strong definition in libplugfit, shared by the host and all plugins.
#pragma once

#define PLUGFIT_API __attribute__((visibility("default")))
