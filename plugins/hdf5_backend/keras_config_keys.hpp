// The pieces keras_config.cpp writes a layer's Keras 3 config with, shared with the files that
// write other families of layers (keras_sequence_config.cpp): a key's value as Keras writes it,
// Keras's window-length rule, and the full config of one layer (a wrapper's inner layer too).
#pragma once

#include <initializer_list>
#include <optional>
#include <plugfit/sdk.hpp>
#include <string>
#include <vector>

#include "keras_config.hpp"

namespace plugfit_hdf5::keras_keys {

using plugfit::Json;
using KJson = KerasJson;
using Dims = std::optional<std::vector<KJson>>;  // a batch shape, [null, d1, ...]; nullopt when unknown

// Keras 3's DTypePolicy float32, as every layer config carries it.
KJson dtype_policy();
// plugfit's initializer (a name or {"class_name", "config"}) as Keras 3 serializes one.
KJson keras_initializer(const Json& spec);
// Keras's name for a plugfit activation.
KJson keras_activation(const Json& activation);
// Keras's standardize_tuple for two spatial dimensions: 3 -> [3, 3]; a list stays as given.
KJson pair_of(const Json& value);

// A key's value as Keras writes it: what plugfit's config holds, else Keras's default.
enum class Kind { plain, pair, sides, initializer, activation, single, rate };
// single: Keras's one-element tuple of a 1-D layer (3 -> [3]); rate: a float option plugfit keeps
// as float32, written as the shortest decimal that float reads back as (0.2, not 0.2000000029).
struct Key {
  const char* name;
  Json fallback;
  Kind kind = Kind::plain;
};
void add_keys(KJson& out, const Json& config, std::initializer_list<Key> keys);

// One spatial length through a convolution or pooling window (Keras's compute_conv_output_shape
// and compute_pooling_output_shape); null when the input length is not known.
KJson window_length(const KJson& in, long long kernel, long long stride, long long dilation, const std::string& padding);

// Keras 3's full config of one layer (plugfit's class cls, its config), and the shape it outputs.
KJson keras_layer_config(const std::string& cls, Json config, const std::string& name, const Dims& input, Dims& output);

// The sequence layers' configs (keras_sequence_config.cpp); false for a class that is none of them.
bool sequence_layer_config(const std::string& cls, const Json& config, KJson& out, Dims& output);

}  // namespace plugfit_hdf5::keras_keys
