// plugfit as a C++ library: what an application includes to train (sdk.hpp is the plugin
// author's). Keras's Sequential, compile, fit, evaluate, predict, save and load_model:
//
//   #include <plugfit/plugfit.hpp>
//   plugfit::Context ctx;
//   plugfit::Sequential model({plugfit::Input({784}), plugfit::layer("Dense", {{"units", 10}, {"activation", "softmax"}})}, ctx);
//   model.compile({.optimizer = "adam", .loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
//   model.fit(plugfit::load_dataset("fashion-mnist:train"), {.epochs = 1, .seed = 42});
#pragma once

#include "callback.hpp"
#include "callbacks.hpp"
#include "config.hpp"
#include "context.hpp"
#include "dataset.hpp"
#include "error.hpp"
#include "registry.hpp"
#include "sequential.hpp"
#include "tensor.hpp"
#include <plugfit/version.hpp>
