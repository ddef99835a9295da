// keras_bidirectional's translations: weight names in Keras 3's and tf.keras 2's legacy .h5,
// Keras 3's .weights.h5 groups put back in Keras's weight order, and a tf.keras 2 config (the
// inner layer named "lstm", no backward_layer, zero_output_for_mask set) read as plugfit's.
#include <doctest/doctest.h>

#include <plugfit/sequential.hpp>

#include "keras_bidirectional.hpp"
#include "keras_import.hpp"
#include "test_support.hpp"

using namespace plugfit;

TEST_CASE("legacy .h5 weight paths of a Bidirectional keep the inner layer's name") {
  using plugfit_hdf5::keras_bidirectional_h5_weight;
  CHECK(keras_bidirectional_h5_weight("bidirectional", "sequential/bidirectional/forward_lstm/lstm_cell/kernel") ==
        "forward_lstm/kernel");
  CHECK(keras_bidirectional_h5_weight("bi", "bi/backward_gru/gru_cell/recurrent_kernel:0") == "backward_gru/recurrent_kernel");
  // A layer that only happens to be named forward_...: no cell below, or not right under the layer.
  CHECK_FALSE(keras_bidirectional_h5_weight("forward_dense", "sequential/forward_dense/kernel"));
  CHECK_FALSE(keras_bidirectional_h5_weight("forward_lstm", "sequential/forward_lstm/lstm_cell/kernel"));
}

TEST_CASE("Keras 3's .weights.h5 groups of a Bidirectional come back forward layer first") {
  std::vector<NamedTensor> tensors = {{"weights/dense/kernel", {1}, {0.f}}};
  std::vector<bool> trainable = {true};
  Json names = Json::array();
  for (const char* side : {"backward_layer", "forward_layer"})
    for (int i = 0; i < 3; ++i) {
      const std::string name = std::string("weights/bidirectional/") + side + "/cell/" + std::to_string(i);
      tensors.push_back({name, {1}, {float(i)}});
      trainable.push_back(std::string(side) == "forward_layer");
      names.push_back(name);
    }
  plugfit_hdf5::order_keras_bidirectional_weights(tensors, names, trainable);
  CHECK(tensors[0].name == "weights/dense/kernel");
  CHECK(tensors[1].name == "weights/bidirectional/forward_layer/cell/0");
  CHECK(tensors[3].name == "weights/bidirectional/forward_layer/cell/2");
  CHECK(tensors[4].name == "weights/bidirectional/backward_layer/cell/0");
  CHECK(names[0] == "weights/bidirectional/forward_layer/cell/0");
  CHECK(trainable == std::vector<bool>{true, true, true, true, false, false, false});
  // Any other layer's groups stay as read.
  Json other = Json::array({"weights/dense/kernel"});
  plugfit_hdf5::order_keras_bidirectional_weights(tensors, other, trainable);
  CHECK(tensors.back().name == "weights/bidirectional/backward_layer/cell/2");
}

TEST_CASE("a tf.keras 2 Bidirectional config builds plugfit's layer with Keras's names") {
  const Json lstm = {{"class_name", "LSTM"},
                     {"config", {{"name", "lstm"}, {"units", 3}, {"return_sequences", true}, {"zero_output_for_mask", true},
                                 {"time_major", false}, {"go_backwards", false}}}};
  const Json keras = {{"class_name", "Sequential"},
                      {"config",
                       {{"layers",
                         {{{"class_name", "InputLayer"}, {"config", {{"batch_input_shape", {nullptr, 5, 2}}}}},
                          {{"class_name", "Bidirectional"},
                           {"config", {{"name", "bidirectional"}, {"merge_mode", "sum"}, {"layer", lstm}}}}}}}}};
  const auto [model_config, input] = plugfit_hdf5::keras_model_to_plugfit(keras, "m.h5");
  CHECK_FALSE(model_config.contains("keras_layers_plugfit_lacks"));
  REQUIRE(input);
  CHECK(model_config["config"]["layers"][1]["config"]["layer"]["config"].count("zero_output_for_mask") == 0);
  auto model = Sequential::from_config(model_config, test::builtins());
  model->build(*input, 3);
  std::vector<std::string> names;
  for (const Weight* w : model->weights()) names.push_back(w->name);
  CHECK(names == std::vector<std::string>{"bidirectional/forward_lstm/kernel", "bidirectional/forward_lstm/recurrent_kernel",
                                          "bidirectional/forward_lstm/bias", "bidirectional/backward_lstm/kernel",
                                          "bidirectional/backward_lstm/recurrent_kernel", "bidirectional/backward_lstm/bias"});
}
