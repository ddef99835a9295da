// keras_import's mapping of Keras's model and training configs, era by era: hard_sigmoid is
// Keras 2's formula in a Keras < 3 file, gelu's approximate option given as a serialized config,
// Keras <= 2.3's RMSprop form, and layers plugfit lacks kept (not refused) in the record.
#include <doctest/doctest.h>

#include <plugfit/sequential.hpp>

#include "keras_import.hpp"
#include "test_support.hpp"

using namespace plugfit;
using plugfit_hdf5::KerasParts;

namespace {
Json sequential(const Json& activation, const std::string& layer_class = "Dense") {
  Json dense = {{"class_name", layer_class},
                {"config", {{"name", "d"}, {"units", 2}, {"activation", activation}, {"batch_input_shape", {nullptr, 3}}}}};
  return {{"class_name", "Sequential"}, {"config", {{"layers", {dense}}}}};
}
std::string activation_of(const CheckpointRecord& record) {
  return record.info["model"]["config"]["layers"][0]["config"]["activation"].get<std::string>();
}
CheckpointRecord record_of(const Json& model, const std::string& version, const Json& training = Json()) {
  KerasParts parts;
  parts.model_config = model;
  parts.training_config = training;
  parts.keras["keras_version"] = version;
  return plugfit_hdf5::keras_record(parts, "m.h5");
}
}  // namespace

TEST_CASE("hard_sigmoid means Keras 2's clip(0.2 x + 0.5) in a file of Keras < 3, Keras 3's otherwise") {
  CHECK(activation_of(record_of(sequential("hard_sigmoid"), "2.3.1")) == "hard_sigmoid_keras2");
  CHECK(activation_of(record_of(sequential("hard_sigmoid"), "2.15.0")) == "hard_sigmoid_keras2");
  CHECK(activation_of(record_of(sequential({{"class_name", "hard_sigmoid"}}), "2.4.0")) == "hard_sigmoid_keras2");
  CHECK(activation_of(record_of(sequential("hard_sigmoid"), "3.8.0")) == "hard_sigmoid");
  CHECK(activation_of(record_of(sequential("relu"), "1.2.2")) == "relu");
}

TEST_CASE("gelu's approximate option serialized as a config maps to the erf or tanh form") {
  const auto mapped = [](const Json& activation) {
    return plugfit_hdf5::keras_model_to_plugfit(sequential(activation), "m.h5")
        .first["config"]["layers"][0]["config"]["activation"];
  };
  CHECK(mapped({{"class_name", "gelu"}, {"config", {{"approximate", true}}}}) == "gelu_approximate");
  CHECK(mapped({{"class_name", "gelu"}, {"config", {{"approximate", false}}}}) == "gelu");
  CHECK(mapped({{"class_name", "function"}, {"config", {{"name", "gelu"}, {"approximate", true}}}}) == "gelu_approximate");
  CHECK(mapped({{"class_name", "function"}, {"config", "gelu"}}) == "gelu");
  // An option plugfit does not know stays as written, for the layer's own error to name.
  CHECK(mapped({{"class_name", "gelu"}, {"config", {{"approximate", true}, {"scale", 2}}}}).is_object());
}

TEST_CASE("Keras <= 2.3's RMSprop (not tf.keras's, not Keras 3's) takes epsilon outside the square root") {
  const Json training = {{"loss", "mse"}, {"optimizer_config", {{"class_name", "RMSprop"}, {"config", {{"rho", 0.9}}}}}};
  const auto flag = [&](const std::string& version) {
    return record_of(sequential("relu"), version, training)
        .info["compile"]["optimizer"]["config"]
        .value("epsilon_outside_sqrt", false);
  };
  CHECK(flag("2.3.1"));
  CHECK(flag("1.2.2"));
  CHECK_FALSE(flag("2.2.4-tf"));
  CHECK_FALSE(flag("2.4.0"));
  CHECK_FALSE(flag("3.5.0"));
}

TEST_CASE("a Keras layer plugfit lacks is kept with its Keras config and listed, not refused") {
  const CheckpointRecord record = record_of(sequential("relu", "ConvLSTM2D"), "3.10.0");
  CHECK(record.info["model"]["config"]["layers"][0]["class_name"] == "ConvLSTM2D");
  CHECK(record.info["model"]["config"]["layers"][0]["config"]["units"] == 2);
  CHECK_FALSE(record.info["model"].contains("keras_layers_plugfit_lacks"));
  const Json lacks = record.info["keras"]["layers_plugfit_lacks"];
  CHECK(lacks["file"] == "m.h5");
  CHECK(lacks["layers"] == Json::array({{{"index", 0}, {"name", "d"}, {"class_name", "ConvLSTM2D"}}}));
}

TEST_CASE("Sequential::from_config reads Keras's model.to_json() with the importer's normalisation") {
  // Keras 2.3's to_json of a Keras 1-keyed Dense with Keras 2's hard_sigmoid, a serialized
  // activation and a Keras <= 2.2 bare layer list.
  const Json json = {{"class_name", "Sequential"},
                     {"keras_version", "2.3.1"},
                     {"backend", "tensorflow"},
                     {"config",
                      {{{"class_name", "Dense"},
                        {"config", {{"name", "d"}, {"output_dim", 4}, {"activation", "hard_sigmoid"}, {"batch_input_shape", {nullptr, 3}}}}},
                       {{"class_name", "keras.layers.Dense"},
                        {"config", {{"name", "e"}, {"units", 2}, {"activation", {{"class_name", "function"}, {"config", "relu"}}}}}}}}};
  auto model = Sequential::from_config(json, test::builtins());
  const Json layers = model->get_config()["config"]["layers"];
  REQUIRE(layers.size() == 2);
  CHECK(layers[0]["config"]["units"] == 4);
  CHECK(layers[0]["config"]["activation"] == "hard_sigmoid_keras2");
  CHECK(layers[1]["class_name"] == "Dense");
  CHECK(layers[1]["config"]["activation"] == "relu");
  // A plugfit config (no keras_version) is read as written: hard_sigmoid is Keras 3's.
  const Json own = {{"layers", {{{"class_name", "Dense"}, {"config", {{"units", 2}, {"activation", "hard_sigmoid"}}}}}}};
  CHECK(Sequential::from_config(own, test::builtins())->get_config()["config"]["layers"][0]["config"]["activation"] ==
        "hard_sigmoid");
}

TEST_CASE("a Keras model whose sequence length is open keeps its batch shape for the data to fill") {
  Json embedding = {{"class_name", "Embedding"},
                    {"config", {{"name", "e"}, {"input_dim", 5}, {"output_dim", 2}, {"batch_input_shape", {nullptr, nullptr}}}}};
  const Json model = {{"class_name", "Sequential"}, {"config", {{"layers", {embedding}}}}};
  const CheckpointRecord record = record_of(model, "2.11.0");
  CHECK_FALSE(record.info.contains("input_shape"));
  CHECK(record.info["keras"]["input_batch_shape"] == Json::array({nullptr, nullptr}));
  CHECK_FALSE(record.info["model"].contains("keras_input_batch_shape"));
  // A dimension that is not a length (zero) is no open shape: refused as before.
  embedding["config"]["batch_input_shape"] = {nullptr, 0};
  const Json zero = {{"class_name", "Sequential"}, {"config", {{"layers", {embedding}}}}};
  CHECK_THROWS_WITH_AS(plugfit_hdf5::keras_model_to_plugfit(zero, "m.h5"),
                       "m.h5: the model's input shape [null,0] has a dimension that is not fixed", InputError);
}

TEST_CASE("a recurrent layer's Keras-only options: zero_output_for_mask false dropped, true refused; Keras 3.5's OrthogonalInitializer read") {
  const auto lstm = [](const Json& zero_output) {
    Json config = {{"name", "l"}, {"units", 2}, {"batch_input_shape", {nullptr, 3, 4}},
                   {"recurrent_initializer", {{"class_name", "OrthogonalInitializer"}, {"config", {{"gain", 1.0}}}}}};
    if (!zero_output.is_null()) config["zero_output_for_mask"] = zero_output;
    return Json{{"class_name", "Sequential"}, {"config", {{"layers", {{{"class_name", "LSTM"}, {"config", config}}}}}}};
  };
  const Json read = plugfit_hdf5::keras_model_to_plugfit(lstm(false), "m.h5").first["config"]["layers"][0]["config"];
  CHECK_FALSE(read.contains("zero_output_for_mask"));
  CHECK(read["recurrent_initializer"]["class_name"] == "Orthogonal");
  CHECK_THROWS_WITH_AS(plugfit_hdf5::keras_model_to_plugfit(lstm(true), "m.h5"),
                       "m.h5: layer 0 \"l\" has zero_output_for_mask true, which plugfit's LSTM does not support (a "
                       "masked step repeats the previous output, Keras's default)",
                       InputError);
}
