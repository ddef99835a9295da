// keras3_import.hpp: Keras 3's weights layout read as Keras's saving_lib writes it (layer groups by
// class name, nested cells depth first, optimizer variables per trainable weight), and Functional
// chains read as Sequential, on the real files of ../shared/keras_files (those cases skip without them).
#include <doctest/doctest.h>

#include <fstream>

#include "keras3_import.hpp"
#include "test_skip.hpp"
#include "test_support.hpp"
#include "zip_reader.hpp"

namespace {

using namespace plugfit_hdf5;
using plugfit::InputError;
using plugfit::Json;
namespace fs = std::filesystem;

fs::path keras_files() {
  fs::path source = __FILE__;
  if (source.is_relative()) source = fs::path(PLUGFIT_TEST_PLUGIN_DIR).parent_path().parent_path() / source;
  return source.lexically_normal().parent_path().parent_path().parent_path().parent_path() / "shared" / "keras_files";
}

bool keras_files_missing() {
  if (fs::is_directory(keras_files())) return false;
  plugfit::test::skip_test_case("../shared/keras_files is not beside this clone (CI lays it out; see README)");
  return true;
}

// An archive's config.json and its weights file, extracted into dir.
std::pair<Json, fs::path> extract(const plugfit::test::TempDir& dir, const std::string& name) {
  const ZipArchive archive(keras_files() / name);
  const auto config = archive.read("config.json");
  const auto weights = archive.read("model.weights.h5");
  std::ofstream(dir.path / "w.h5", std::ios::binary)
      .write(weights.data(), static_cast<std::streamsize>(weights.size()));
  return {Json::parse(config.begin(), config.end()), dir.path / "w.h5"};
}

KerasParts read_parts(const plugfit::test::TempDir& dir, const std::string& name) {
  const auto [config, path] = extract(dir, name);
  const Handle fapl = file_access();
  const Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl), H5Fclose, "open");
  Json training = config.value("compile_config", Json());
  training["optimizer_config"] = training["optimizer"];  // as import_keras3_archive passes it
  return read_keras3_weights(file, config, training, name);
}

std::vector<std::string> names_of(const std::vector<plugfit::NamedTensor>& tensors) {
  std::vector<std::string> names;
  for (const auto& t : tensors) names.push_back(t.name);
  return names;
}

}  // namespace

TEST_CASE("Keras files: BatchNormalization layers are found by class name; only trainable weights have Adam slots") {
  if (keras_files_missing()) return;
  plugfit::test::TempDir dir;
  const KerasParts parts = read_parts(dir, "w05_123Cryptic_model.keras");  // Keras 3.5: no learning-rate variable
  const auto names = names_of(parts.weights.tensors);
  REQUIRE(names.size() == 14);
  CHECK(names[0] == "weights/dense_6/kernel");  // saved at layers/dense, named as the model names it
  CHECK(names[2] == "weights/batch_normalization_4/gamma");
  CHECK(names[5] == "weights/batch_normalization_4/moving_variance");
  CHECK(parts.weights.tensors[0].shape == plugfit::Shape{4, 128});
  // Its learning rate is a CosineDecay schedule: the state is not resumed, and says why.
  CHECK_FALSE(parts.optimizer.complete);
  CHECK(parts.optimizer.reason ==
        "not read: the learning rate is a CosineDecay schedule, which plugfit does not resume");
}

TEST_CASE("Keras files: without the schedule, only trainable weights have Adam slots (moving statistics have none)") {
  if (keras_files_missing()) return;
  plugfit::test::TempDir dir;
  auto [config, path] = extract(dir, "w05_123Cryptic_model.keras");
  config["compile_config"]["optimizer_config"] = config["compile_config"]["optimizer"];
  config["compile_config"]["optimizer_config"]["config"]["learning_rate"] = 0.001;
  const Handle fapl = file_access();
  const Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl), H5Fclose, "open");
  const KerasParts parts = read_keras3_weights(file, config, config["compile_config"], "w05");
  INFO(parts.optimizer.reason);
  REQUIRE(parts.optimizer.complete);
  CHECK(parts.optimizer.iterations > 0);
  CHECK_FALSE(parts.optimizer.learning_rate.has_value());  // a schedule's rate is no variable
  const auto slots = names_of(parts.optimizer.tensors);
  REQUIRE(slots.size() == 20);  // 10 trainable weights x m, v
  CHECK(slots[0] == "optimizer/m/dense_6/kernel");
  CHECK(slots[1] == "optimizer/v/dense_6/kernel");
  CHECK(slots[4] == "optimizer/m/batch_normalization_4/gamma");
  CHECK(slots[8] == "optimizer/m/dense_7/kernel");
}

TEST_CASE("Keras files: an LSTM's cell variables are read below its layer, then the Dense after it") {
  if (keras_files_missing()) return;
  plugfit::test::TempDir dir;
  const KerasParts parts = read_parts(dir, "w16_Ashishkaus04_lstm_model.keras");
  CHECK(names_of(parts.weights.tensors) == std::vector<std::string>{"weights/lstm/cell/0", "weights/lstm/cell/1",
                                                                    "weights/lstm/cell/2", "weights/dense/kernel",
                                                                    "weights/dense/bias"});
  CHECK(parts.weights.tensors[1].shape == plugfit::Shape{100, 400});
  REQUIRE(parts.optimizer.complete);  // every LSTM weight is trainable: m, v per weight, in order
  CHECK(names_of(parts.optimizer.tensors)[2] == "optimizer/m/lstm/cell/1");
  CHECK(parts.optimizer.tensors[2].shape == plugfit::Shape{100, 400});
}

TEST_CASE("a Functional chain reads as Sequential; a graph that branches names the layer") {
  const auto tensor = [](const char* from) {
    return Json{{"class_name", "__keras_tensor__"}, {"config", {{"keras_history", {from, 0, 0}}}}};
  };
  const auto layer = [](const char* cls, const char* name, Json nodes) {
    return Json{{"class_name", cls}, {"name", name}, {"config", {{"name", name}}}, {"inbound_nodes", nodes}};
  };
  Json config = {{"class_name", "Functional"},
                 {"config",
                  {{"name", "f"},
                   {"layers",
                    {layer("InputLayer", "in", Json::array()),
                     layer("Dense", "d1", {{{"args", {tensor("in")}}, {"kwargs", Json::object()}}}),
                     layer("Dense", "d2", {{{"args", {tensor("d1")}}, {"kwargs", Json::object()}}})}},
                   {"output_layers", {{"d2", 0, 0}}}}}};
  const Json sequential = functional_chain_as_sequential(config, "f.keras");
  CHECK(sequential["class_name"] == "Sequential");
  CHECK(sequential["config"]["layers"].size() == 3);
  CHECK(sequential["config"]["layers"][2]["config"]["name"] == "d2");

  Json merge = config;
  merge["config"]["layers"][2]["inbound_nodes"] = {{{"args", {{tensor("in"), tensor("d1")}}}}};
  CHECK_THROWS_WITH_AS(functional_chain_as_sequential(merge, "f.keras"),
                       doctest::Contains("f.keras: the Keras Functional model's layer \"d2\" takes 2 input(s)"),
                       InputError);
  Json twice = config;
  twice["config"]["layers"][1]["inbound_nodes"].push_back(twice["config"]["layers"][1]["inbound_nodes"][0]);
  CHECK_THROWS_WITH_AS(functional_chain_as_sequential(twice, "f.keras"), doctest::Contains("\"d1\" is called 2 times"),
                       InputError);
  Json outputs = config;
  outputs["config"]["output_layers"] = {{"d1", 0, 0}, {"d2", 0, 0}};
  CHECK_THROWS_WITH_AS(functional_chain_as_sequential(outputs, "f.keras"), doctest::Contains("has 2 output(s)"),
                       InputError);
}
