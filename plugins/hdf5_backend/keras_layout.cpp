#include "keras_layout.hpp"

#include <map>

#include "keras_bidirectional.hpp"
#include "keras_config.hpp"

namespace plugfit_hdf5 {

namespace {

using plugfit::Json;
using plugfit::NamedTensor;

const std::string kWeights = "weights/";

void check(herr_t status, const std::string& what) {
  if (status < 0) fail(what);
}

Handle string_type(StringCset cset) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose, "cannot make a string type");
  check(H5Tset_size(type, H5T_VARIABLE), "cannot make a string type");
  check(H5Tset_cset(type, cset == StringCset::ascii ? H5T_CSET_ASCII : H5T_CSET_UTF8), "cannot make a string type");
  return type;
}

void write_attr(hid_t obj, const std::string& name, hid_t type, hid_t space, const void* data) {
  const Handle attr(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
                    "cannot create the attribute \"" + name + "\"");
  check(H5Awrite(attr, type, data), "cannot write the attribute \"" + name + "\"");
}

void write_scalar(hid_t loc, const std::string& path, hid_t file_type, hid_t mem_type, const void* value) {
  const Handle space(H5Screate(H5S_SCALAR), H5Sclose, "cannot make a dataspace");
  const Handle lcpl = link_create();
  const Handle dataset(H5Dcreate2(loc, path.c_str(), file_type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT), H5Dclose,
                       "cannot create the dataset \"" + path + "\"");
  check(H5Dwrite(dataset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, value), "cannot write the dataset \"" + path + "\"");
}

// Keras 3's optimizer names a slot after its variable's path, "/" made "_".
std::string slot_path(std::string path) {
  for (char& c : path)
    if (c == '/') c = '_';
  return path;
}

}  // namespace

std::string weight_short_name(const NamedTensor& weight) { return weight.name.substr(weight.name.rfind('/') + 1); }

std::string keras3_weight_name(const KerasLayerWeights& layer, const NamedTensor& weight) {
  if (auto path = keras_bidirectional_weight_path(layer, weight)) return *path;
  const std::string name = weight_short_name(weight);
  return layer.class_name == "DepthwiseConv2D" && name == "depthwise_kernel" ? "kernel" : name;
}

std::string keras3_weight_path(const KerasLayerWeights& layer, const NamedTensor& weight) {
  const std::string name = keras3_weight_name(layer, weight);
  return layer.nesting.scope.empty() ? name : layer.nesting.scope + "/" + name;
}

KerasLayout keras_layout(const plugfit::CheckpointRecord& record) {
  const Json& info = record.info;
  KerasLayout layout;
  layout.model_name = keras_model_name(info);
  std::map<std::string, std::size_t> layer_index;
  // A layer's group is one HDF5 link name; a tensor whose layer cannot be one ("odd/.", "")
  // stays in the /plugfit group only.
  auto one_component = [](const std::string& name) {
    return !name.empty() && name != "." && name != ".." && name.find_first_of(std::string("/\0", 2)) == std::string::npos;
  };
  auto add_layer = [&](const std::string& name, const std::string& group, const std::string& cls,
                       const KerasNesting& nesting) {
    if (!one_component(name) || !one_component(group)) return;
    if (layer_index.count(name) == 0) {
      layer_index[name] = layout.layers.size();
      // A nested scope that is not one link name (a wrapped layer's odd name) stays unnested.
      const bool nested = one_component(nesting.scope) && one_component(nesting.attribute);
      layout.layers.push_back({name, group, cls, nested ? nesting : KerasNesting{}, {}});
    }
  };
  for (const auto& layer : keras_layer_names(info))
    add_layer(layer.name, layer.weights_group, layer.class_name, layer.nesting);
  // A record without a model (weights Keras saved alone): its layers as the tensors name them.
  const bool from_tensors = layout.layers.empty();
  std::map<std::string, const NamedTensor*> by_name;
  for (const auto& t : record.tensors) {
    by_name[t.name] = &t;
    if (t.name.rfind(kWeights, 0) != 0) continue;
    const std::string rest = t.name.substr(kWeights.size());
    const auto slash = rest.rfind('/');
    if (slash == std::string::npos || slash == 0) continue;
    const std::string layer = rest.substr(0, from_tensors ? slash : rest.find('/'));  // a wrapper's inner layers are its own
    if (from_tensors) add_layer(layer, layer, "", {});  // no classes known: the names as the file had them
    if (const auto it = layer_index.find(layer); it != layer_index.end()) layout.layers[it->second].weights.push_back(&t);
  }

  const auto keras_class = keras_optimizer_class(info);
  const Json optimizer = info.value("optimizer", Json());
  if (!keras_class || !optimizer.is_object() || !optimizer.contains("iterations")) return layout;
  KerasOptimizerState state;
  state.name = *keras_class == "SGD" ? "sgd" : *keras_class == "Adam" ? "adam" : "rmsprop";
  state.iterations = optimizer.value("iterations", std::int64_t{0});
  state.learning_rate = static_cast<float>(optimizer.value("learning_rate", 0.001));
  // Keras keeps slots for the trainable weights only (plugfit too): a weight with none of a
  // run's slots is skipped; one with some but not all could not be read by position.
  for (const auto& run : keras_slot_order(*keras_class, info))
    for (const auto& layer : layout.layers)
      for (const NamedTensor* w : layer.weights) {
        const std::string suffix = w->name.substr(kWeights.size());
        std::vector<KerasSlotVariable> own;
        for (const auto& slot : run)
          if (const auto it = by_name.find("optimizer/" + slot + "/" + suffix); it != by_name.end())
            own.push_back({layout.model_name + "_" + layer.name + "_" + slot_path(keras3_weight_path(layer, *w)) + "_" +
                               keras_slot_name(*keras_class, slot),
                           it->second});
        if (own.empty()) continue;
        if (own.size() != run.size()) return layout;
        for (auto& s : own) state.slots.push_back(std::move(s));
      }
  layout.optimizer = std::move(state);
  return layout;
}

void write_vlen_string_attr(hid_t obj, const std::string& name, const std::string& value, StringCset cset) {
  const Handle type = string_type(cset);
  const Handle space(H5Screate(H5S_SCALAR), H5Sclose, "cannot make a dataspace");
  const char* data = value.c_str();
  write_attr(obj, name, type, space, &data);
}

void write_vlen_string_list_attr(hid_t obj, const std::string& name, const std::vector<std::string>& values) {
  const hsize_t n = values.size();
  const Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose, "cannot make a dataspace");
  if (values.empty()) {
    const double none = 0;  // HDF5 wants a buffer even for no elements
    write_attr(obj, name, H5T_NATIVE_DOUBLE, space, &none);
    return;
  }
  const Handle type = string_type(StringCset::ascii);
  std::vector<const char*> data;
  for (const auto& v : values) data.push_back(v.c_str());
  write_attr(obj, name, type, space, data.data());
}

void write_int64_scalar(hid_t loc, const std::string& path, std::int64_t value) {
  write_scalar(loc, path, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

void write_float32_scalar(hid_t loc, const std::string& path, float value) {
  write_scalar(loc, path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, &value);
}

}  // namespace plugfit_hdf5
