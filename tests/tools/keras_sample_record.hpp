// A trained Dense model's checkpoint as plugfit records it (weights, Adam slots, info), shaped
// like the Keras files in ../shared/keras_files (12 -> 64 -> 32 -> 1, relu, relu, sigmoid), with
// odd values (a NaN with a payload, -0) and a tensor outside Keras's layout.
#pragma once

#include <bit>
#include <cstdint>
#include <limits>
#include <plugfit/sdk.hpp>

#include "keras_file.hpp"

namespace plugfit::test {

inline plugfit_hdf5::StoredCheckpoint keras_sample_checkpoint() {
  plugfit_hdf5::StoredCheckpoint checkpoint;
  checkpoint.name = "epoch_003";
  checkpoint.save_seq = 3;
  checkpoint.written_by_plugfit = true;
  CheckpointRecord& record = checkpoint.record;
  record.info = Json::parse(R"({
    "format": 1, "kind": "full", "epoch": 3, "metrics": {"loss": 0.25},
    "model": {"class_name": "Sequential", "config": {"layers": [
      {"class_name": "Dense", "config": {"name": "dense", "units": 64, "activation": "relu"}},
      {"class_name": "Dense", "config": {"name": "dense_1", "units": 32, "activation": "relu"}},
      {"class_name": "Dense", "config": {"name": "dense_2", "units": 1, "activation": "sigmoid"}}]}},
    "input_shape": [12],
    "compile": {"optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.01}},
                "loss": "binary_crossentropy", "metrics": ["accuracy"]},
    "optimizer": {"iterations": 4500, "learning_rate": 0.01},
    "training": {"epoch": 3, "batch": 0, "global_step": 4500, "seed": 7, "rng": [1, 2, 3, 4]},
    "callbacks": {}, "plugins": {}})");
  const std::pair<const char*, Shape> weights[] = {{"dense/kernel", {12, 64}}, {"dense/bias", {64}},
                                                   {"dense_1/kernel", {64, 32}}, {"dense_1/bias", {32}},
                                                   {"dense_2/kernel", {32, 1}}, {"dense_2/bias", {1}}};
  float next = 0.5f;
  auto fill = [&](const std::string& name, const Shape& shape) {
    NamedTensor t{name, shape, std::vector<float>(shape_size(shape))};
    for (auto& v : t.values) v = next = next * -0.75f + 0.125f;
    record.tensors.push_back(std::move(t));
  };
  for (const auto& [name, shape] : weights) fill(std::string("weights/") + name, shape);
  for (const char* slot : {"m", "v"})
    for (const auto& [name, shape] : weights) fill(std::string("optimizer/") + slot + "/" + name, shape);
  // Bit patterns a conversion would lose: a NaN with a payload, -0, the largest float.
  record.tensors[1].values[0] = std::bit_cast<float>(std::uint32_t{0x7fc12345});
  record.tensors[1].values[1] = -0.0f;
  record.tensors[1].values[2] = std::numeric_limits<float>::max();
  fill("callbacks/ema/shadow", {3, 2});
  fill("odd/name%with/slashes", {});
  fill("callbacks/empty", {0, 3});
  return checkpoint;
}

}  // namespace plugfit::test
