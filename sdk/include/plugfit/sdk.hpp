// plugfit SDK: everything a plugin author includes.
//
//   #include <plugfit/sdk.hpp>
//
//   class EpochLogger : public plugfit::Callback { ... };
//   void register_types(plugfit::Registrar& r) { r.add_callback<EpochLogger>("EpochLogger"); }
//   PLUGFIT_PLUGIN("acme", "1.2.0", register_types)
#pragma once

#include "callback.hpp"
#include "checkpoint.hpp"
#include "checkpoint_index.hpp"
#include "communicator.hpp"
#include "config.hpp"
#include "error.hpp"
#include "layer.hpp"
#include "loss.hpp"
#include "model.hpp"
#include "monitor.hpp"
#include "npy.hpp"
#include "optimizer.hpp"
#include "plugin.hpp"
#include "registry.hpp"
#include "rng.hpp"
#include "schedule.hpp"
#include "session.hpp"
#include "tensor.hpp"
#include <plugfit/version.hpp>
