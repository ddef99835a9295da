// write_keras_file for the three Keras formats: each written file read back through its /plugfit
// group bit for bit (NaN payloads, -0, tensors outside Keras's layout), Keras's own datasets
// holding the same bits, the atomic contract (nothing at path after a refusal, an existing file
// left alone), and damage found by the checksums.
#include <doctest/doctest.h>
#include <zip.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "h5.hpp"
#include "keras_config.hpp"
#include "keras_import.hpp"
#include "keras_file.hpp"
#include "plugfit_extras.hpp"
#include "test_support.hpp"
#include "../tools/keras_sample_record.hpp"

using namespace plugfit;
using namespace plugfit::test;
using namespace plugfit_hdf5;
namespace fs = std::filesystem;

namespace {

bool same_bits(const NamedTensor& a, const NamedTensor& b) {
  return a.name == b.name && a.shape == b.shape && a.values.size() == b.values.size() &&
         plugfit::test::same_memory(a.values.data(), b.values.data(), a.values.size() * sizeof(float));
}

void check_same(const StoredCheckpoint& read, const StoredCheckpoint& written) {
  CHECK(read.name == written.name);
  CHECK(read.save_seq == written.save_seq);
  CHECK(read.written_by_plugfit);
  CHECK(read.record.info == written.record.info);
  REQUIRE(read.record.tensors.size() == written.record.tensors.size());
  for (std::size_t i = 0; i < read.record.tensors.size(); ++i)
    CHECK_MESSAGE(same_bits(read.record.tensors[i], written.record.tensors[i]), read.record.tensors[i].name);
}

Handle open_file(const fs::path& path, unsigned flags = H5F_ACC_RDONLY) {
  return Handle(H5Fopen(path.c_str(), flags, file_access()), H5Fclose, "cannot open " + path.string());
}

// The archive's model.weights.h5, read with libzip, opened from memory.
struct ArchiveWeights {
  std::string image;
  Handle file;
};
ArchiveWeights open_archive_weights(const fs::path& path) {
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_RDONLY, &error);
  REQUIRE(archive != nullptr);
  zip_stat_t st;
  REQUIRE(zip_stat(archive, "model.weights.h5", 0, &st) == 0);
  ArchiveWeights out;
  out.image.resize(st.size);
  zip_file_t* member = zip_fopen(archive, "model.weights.h5", 0);
  REQUIRE(member != nullptr);
  CHECK(zip_fread(member, out.image.data(), st.size) == static_cast<zip_int64_t>(st.size));
  zip_fclose(member);
  zip_close(archive);
  const Handle fapl = file_access();
  REQUIRE(H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0);
  REQUIRE(H5Pset_file_image(fapl, out.image.data(), out.image.size()) >= 0);
  out.file = Handle(H5Fopen("model.weights.h5", H5F_ACC_RDONLY, fapl), H5Fclose, "cannot open the member");
  return out;
}

std::vector<float> dataset_values(hid_t file, const std::string& path) {
  const Handle d = open_dataset(file, path);
  return read_floats(d, dataset_shape(d), path);
}

}  // namespace

TEST_CASE("each Keras format reads back bit for bit through its plugfit group") {
  quiet_errors();
  TempDir dir;
  const StoredCheckpoint written = keras_sample_checkpoint();
  for (const char* name : {"m.h5", "m.weights.h5", "m.keras"}) {
    CAPTURE(name);
    const fs::path path = dir.path / name;
    write_keras_file(path, keras_format_for(path), written);
    if (keras_format_for(path) == KerasFormat::archive) {
      const ArchiveWeights weights = open_archive_weights(path);
      REQUIRE(has_plugfit_group(weights.file));
      check_same(read_plugfit_group(weights.file, name), written);
      CHECK(plugfit::test::same_memory(dataset_values(weights.file, "/layers/dense/vars/1").data(), written.record.tensors[1].values.data(),
                        64 * sizeof(float)));
    } else {
      const Handle file = open_file(path);
      REQUIRE(has_plugfit_group(file));
      check_same(read_plugfit_group(file, name), written);
      // Keras's own datasets hold the weights and slots (Keras reads them, not /plugfit).
      const std::string bias = keras_format_for(path) == KerasFormat::legacy_h5
                                   ? "/model_weights/dense/sequential/dense/bias"
                                   : "/layers/dense/vars/1";
      CHECK(plugfit::test::same_memory(dataset_values(file, bias).data(), written.record.tensors[1].values.data(), 64 * sizeof(float)));
      const std::string velocity = keras_format_for(path) == KerasFormat::legacy_h5
                                       ? "/optimizer_weights/adam/sequential_dense_2_bias_velocity"
                                       : "/optimizer/vars/13";
      CHECK(dataset_values(file, velocity) == written.record.find("optimizer/v/dense_2/bias")->values);
    }
  }
  CHECK(keras_format_for("a/b.hdf5") == KerasFormat::legacy_h5);
  CHECK(keras_format_for("b.KERAS") == KerasFormat::legacy_h5);  // Keras matches the suffix as written
}

TEST_CASE("a record without a model or with an optimizer Keras lacks keeps everything in the plugfit group") {
  quiet_errors();
  TempDir dir;
  StoredCheckpoint written = keras_sample_checkpoint();
  written.record.info["compile"]["optimizer"] = {{"class_name", "Lion"}, {"config", Json::object()}};
  write_keras_file(dir.path / "lion.weights.h5", KerasFormat::weights_h5, written);
  {
    const Handle file = open_file(dir.path / "lion.weights.h5");
    CHECK_FALSE(path_exists(file, "optimizer"));
    check_same(read_plugfit_group(file, "lion"), written);
  }
  written.record.info.erase("model");
  write_keras_file(dir.path / "bare.h5", KerasFormat::legacy_h5, written);
  const Handle file = open_file(dir.path / "bare.h5");
  CHECK_FALSE(has_attr(file, "model_config"));
  CHECK(path_exists(file, "model_weights/dense_1/sequential/dense_1/kernel"));
  check_same(read_plugfit_group(file, "bare"), written);
}

TEST_CASE("write_keras_file leaves nothing at path when it refuses, and never replaces a file") {
  quiet_errors();
  TempDir dir;
  StoredCheckpoint bad = keras_sample_checkpoint();
  bad.record.tensors.push_back(bad.record.tensors[0]);
  for (const char* name : {"d.h5", "d.weights.h5", "d.keras"}) {
    CHECK_THROWS_AS(write_keras_file(dir.path / name, keras_format_for(name), bad), InputError);
    CHECK_FALSE(fs::exists(dir.path / name));
  }
  bad = keras_sample_checkpoint();
  bad.record.tensors[0].values.pop_back();
  CHECK_THROWS_WITH_AS(write_keras_file(dir.path / "s.h5", KerasFormat::legacy_h5, bad),
                       doctest::Contains("weights/dense/kernel"), InputError);
  CHECK_FALSE(fs::exists(dir.path / "s.h5"));
  const fs::path taken = dir.path / "taken.keras";
  { std::ofstream(taken) << "mine"; }
  CHECK_THROWS_AS(write_keras_file(taken, KerasFormat::archive, keras_sample_checkpoint()), RuntimeFailure);
  CHECK(fs::file_size(taken) == 4);
}

TEST_CASE("a changed value or attribute in the plugfit group is CheckpointCorrupt naming it") {
  quiet_errors();
  TempDir dir;
  const fs::path path = dir.path / "c.h5";
  write_keras_file(path, KerasFormat::legacy_h5, keras_sample_checkpoint());
  {
    const Handle file = open_file(path, H5F_ACC_RDWR);
    const Handle d = open_dataset(file, "/model_weights/dense_1/sequential/dense_1/bias");
    std::vector<float> values(32, 1.0f);
    REQUIRE(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0);
  }
  {
    const Handle file = open_file(path);
    CHECK_THROWS_WITH_AS(read_plugfit_group(file, "c.h5"), doctest::Contains("dense_1/bias"), CheckpointCorrupt);
  }
  write_keras_file(dir.path / "i.h5", KerasFormat::legacy_h5, keras_sample_checkpoint());
  {
    const Handle file = open_file(dir.path / "i.h5", H5F_ACC_RDWR);
    const Handle group = open_group(file, "plugfit");
    REQUIRE(H5Adelete(group, "info") >= 0);
    write_string_attr(group, "info", "{\"kind\": \"weights\"}");
  }
  const Handle file = open_file(dir.path / "i.h5");
  CHECK_THROWS_WITH_AS(read_plugfit_group(file, "i.h5"), doctest::Contains("checksum"), CheckpointCorrupt);
}

TEST_CASE("Keras configs carry Keras 3's keys and names") {
  const Json info = keras_sample_checkpoint().record.info;
  const Json config = keras_model_config(info, KerasJsonStyle::archive);
  CHECK(config["module"] == "keras");
  const Json layers = config["config"]["layers"];
  CHECK(layers[0]["class_name"] == "InputLayer");
  CHECK(layers[0]["config"]["batch_shape"] == KerasJson::parse("[null, 12]"));
  CHECK(layers[2]["build_config"]["input_shape"] == KerasJson::parse("[null, 64]"));
  CHECK(layers[1]["config"]["kernel_initializer"]["class_name"] == "GlorotUniform");
  CHECK(config["compile_config"]["optimizer"]["config"]["learning_rate"] == 0.01);
  Json accumulating = info;
  accumulating["compile"]["optimizer"]["config"]["gradient_accumulation_steps"] = 4;
  const KerasJson adam = keras_compile_config(accumulating, KerasJsonStyle::legacy_h5)["optimizer_config"]["config"];
  CHECK(adam["gradient_accumulation_steps"] == 4);
  CHECK(adam["weight_decay"].is_null());
  CHECK(adam["beta_2"] == 0.999);
  Json unnamed = info;
  unnamed["model"]["config"]["layers"] = Json::parse(
      R"([{"class_name": "Flatten", "config": {"input_shape": [2, 3]}}, {"class_name": "Dense", "config": {"units": 4}},
          {"class_name": "Dense", "config": {"units": 1, "activation": "hard_sigmoid_keras2"}},
          {"class_name": "custom_layers>Scale", "config": {"factor": 2}}])");
  unnamed["input_shape"] = {2, 3};
  const Json legacy = keras_model_config(unnamed, KerasJsonStyle::legacy_h5)["config"]["layers"];
  CHECK(legacy[1]["config"]["name"] == "flatten");
  CHECK(legacy[2]["config"]["name"] == "dense");
  CHECK(legacy[3]["config"]["name"] == "dense_1");
  CHECK(legacy[3]["config"]["activation"] == "hard_sigmoid_keras2");  // Keras 3's hard_sigmoid differs
  CHECK(legacy[4]["config"]["factor"] == 2);
  CHECK_FALSE(legacy[2].contains("module"));
  // .weights.h5 groups go by class and position, whatever the layers are named (Keras 3's saving_lib).
  Json named = info;
  named["model"]["config"]["layers"][0]["config"]["name"] = "hidden";
  named["model"]["config"]["layers"][1]["config"]["name"] = "dense";
  const auto names = keras_layer_names(named);
  REQUIRE(names.size() == 3);
  CHECK(names[0].name == "hidden");
  CHECK(names[0].weights_group == "dense");
  CHECK(names[1].weights_group == "dense_1");
  CHECK(names[2].weights_group == "dense_2");
  Json conv = info;
  conv["model"]["config"]["layers"][0]["class_name"] = "custom_layers>Conv2D";
  CHECK(keras_layer_names(conv)[0].weights_group == "conv2d");
  const Json archive = keras_model_config(unnamed, KerasJsonStyle::archive)["config"]["layers"];
  CHECK(archive[4]["registered_name"] == "custom_layers>Scale");
  CHECK(archive[2]["build_config"]["input_shape"] == KerasJson::parse("[null, 6]"));
  Json dropout = info;
  dropout["model"]["config"]["layers"][1] = {{"class_name", "Dropout"}, {"config", {{"rate", 0.5}}}};
  const Json with_dropout = keras_model_config(dropout, KerasJsonStyle::archive)["config"]["layers"][2];
  CHECK(with_dropout["config"]["name"] == "dropout");
  CHECK(with_dropout["config"]["seed"].is_null());
  CHECK_FALSE(with_dropout.contains("build_config"));  // as Keras 3.10 writes it (w16)
}

TEST_CASE("layers without weights, a plugin layer's weights and other optimizers' slots go where Keras puts them") {
  quiet_errors();
  TempDir dir;
  StoredCheckpoint written;
  written.name = "mixed";
  written.save_seq = 1;
  written.record.info = Json::parse(R"({"kind": "full",
    "model": {"class_name": "Sequential", "config": {"layers": [
      {"class_name": "Flatten", "config": {"name": "flatten", "input_shape": [2, 2]}},
      {"class_name": "Dense", "config": {"name": "dense", "units": 3}},
      {"class_name": "Dropout", "config": {"name": "dropout", "rate": 0.5}},
      {"class_name": "custom_layers>Scale", "config": {"name": "scale"}}]}},
    "input_shape": [2, 2],
    "compile": {"optimizer": {"class_name": "RMSprop", "config": {"momentum": 0.5}}, "loss": "mse"},
    "optimizer": {"iterations": 7, "learning_rate": 0.001}})");
  auto add = [&](const std::string& name, const Shape& shape, float base) {
    NamedTensor t{name, shape, std::vector<float>(shape_size(shape), base)};
    written.record.tensors.push_back(std::move(t));
  };
  add("weights/dense/kernel", {4, 3}, 1);
  add("weights/dense/bias", {3}, 2);
  add("weights/scale/factor", {3}, 3);
  for (const char* slot : {"velocity", "momentum"}) {
    const float base = std::string(slot) == "velocity" ? 10.f : 20.f;
    add(std::string("optimizer/") + slot + "/dense/kernel", {4, 3}, base + 1);
    add(std::string("optimizer/") + slot + "/dense/bias", {3}, base + 2);
    add(std::string("optimizer/") + slot + "/scale/factor", {3}, base + 3);
  }
  write_keras_file(dir.path / "x.h5", KerasFormat::legacy_h5, written);
  write_keras_file(dir.path / "x.weights.h5", KerasFormat::weights_h5, written);
  {
    const Handle file = open_file(dir.path / "x.h5");
    CHECK(read_string_list_attr(open_group(file, "model_weights"), "layer_names") ==
          std::vector<std::string>{"flatten", "dense", "dropout", "scale"});
    CHECK(read_string_list_attr(open_group(file, "model_weights/dropout"), "weight_names").empty());
    CHECK(dataset_values(file, "/model_weights/scale/sequential/scale/factor")[0] == 3);
    // Keras 3's RMSprop builds every velocity, then every momentum.
    CHECK(read_string_list_attr(open_group(file, "optimizer_weights"), "weight_names") ==
          std::vector<std::string>{"rmsprop/iteration", "rmsprop/learning_rate", "rmsprop/sequential_dense_kernel_velocity",
                                   "rmsprop/sequential_dense_bias_velocity", "rmsprop/sequential_scale_factor_velocity",
                                   "rmsprop/sequential_dense_kernel_momentum", "rmsprop/sequential_dense_bias_momentum",
                                   "rmsprop/sequential_scale_factor_momentum"});
    check_same(read_plugfit_group(file, "x.h5"), written);
  }
  const Handle file = open_file(dir.path / "x.weights.h5");
  CHECK(path_exists(file, "layers/flatten/vars"));
  CHECK(link_names(open_group(file, "layers/dropout/vars")).empty());
  CHECK(dataset_values(file, "/layers/scale/vars/0")[0] == 3);
  CHECK(dataset_values(file, "/optimizer/vars/4")[0] == 13);
  CHECK(dataset_values(file, "/optimizer/vars/5")[0] == 21);
  CHECK(read_string_attr(open_group(file, "optimizer/vars"), "name") == "rmsprop");
  check_same(read_plugfit_group(file, "x.weights.h5"), written);
}

TEST_CASE("plugfit's reader of Keras's legacy .h5 files reads a written one as a Keras file") {
  quiet_errors();
  TempDir dir;
  const StoredCheckpoint written = keras_sample_checkpoint();
  write_keras_file(dir.path / "k.h5", KerasFormat::legacy_h5, written);
  const Handle file = open_file(dir.path / "k.h5");
  const CheckpointRecord read = import_keras(file, "k.h5");  // Keras's layout only, /plugfit unread
  CHECK(read.info["kind"] == "full");
  CHECK(read.info["optimizer"]["iterations"] == 4500);
  CHECK(read.info["compile"]["loss"] == "binary_crossentropy");
  CHECK(read.info["input_shape"] == Json::array({12}));
  for (const auto& t : written.record.tensors) {
    if (t.name.rfind("weights/", 0) != 0 && t.name.rfind("optimizer/", 0) != 0) continue;
    const NamedTensor* got = read.find(t.name);
    REQUIRE_MESSAGE(got != nullptr, t.name);
    CHECK_MESSAGE(same_bits(*got, t), t.name);
  }
}

TEST_CASE("a manifest pointing at a dataset that is not a float32 tensor is CheckpointCorrupt naming it") {
  quiet_errors();
  TempDir dir;
  const fs::path path = dir.path / "p.weights.h5";
  write_keras_file(path, KerasFormat::weights_h5, keras_sample_checkpoint());
  {
    const Handle file = open_file(path, H5F_ACC_RDWR);
    const Handle group = open_group(file, "plugfit");
    const std::string info = read_string_attr(group, "info");
    // A consistent header (its checksum matches) whose first tensor is the int64 step count.
    const std::string tensors = Json::array({Json::array({"weights/dense/kernel", "/optimizer/vars/0", 0})}).dump();
    REQUIRE(H5Adelete(group, "tensors") >= 0);
    REQUIRE(H5Adelete(group, "crc32") >= 0);
    write_string_attr(group, "tensors", tensors);
    write_uint32_attr(group, "crc32", crc32_of(tensors.data(), tensors.size(), crc32_of(info.data(), info.size())));
  }
  const Handle file = open_file(path);
  CHECK_THROWS_WITH_AS(read_plugfit_group(file, "p.weights.h5"),
                       doctest::Contains("\"/optimizer/vars/0\" (tensor \"weights/dense/kernel\") is not float32"),
                       CheckpointCorrupt);
}
