// keras_config.hpp for the image layers: the configs plugfit writes are Keras 3's, key for key and
// in Keras's order (the real configs of w11, Keras 3.10, and w05, Keras 3.5, are quoted from the
// files in ../shared/keras_files), and the build shapes follow Keras's shape rules (w13's Dense
// kernel is (480, 64)).
#include <doctest/doctest.h>

#include "keras_config.hpp"

using namespace plugfit;
using namespace plugfit_hdf5;

namespace {

Json info_of(const char* layers, const Json& input_shape) {
  return {{"model", {{"class_name", "Sequential"}, {"config", {{"layers", Json::parse(layers)}}}}},
          {"input_shape", input_shape}};
}

KerasJson layers_of(const Json& info, KerasJsonStyle style) { return keras_model_config(info, style)["config"]["layers"]; }

const char* kDtype = R"("dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null})";

std::string with_dtype(const std::string& text) {
  const auto at = text.find("DTYPE");
  return text.substr(0, at) + kDtype + text.substr(at + 5);
}

}  // namespace

TEST_CASE("Conv2D and MaxPooling2D are written as Keras 3.10 wrote w11's, key for key and in order") {
  // The layers as plugfit's get_config gives them (Keras's names, some options left at defaults).
  const Json info = info_of(R"([
      {"class_name": "Conv2D", "config": {"name": "conv2d", "filters": 32, "kernel_size": 3, "activation": "relu"}},
      {"class_name": "MaxPooling2D", "config": {"name": "max_pooling2d", "pool_size": [2, 2]}},
      {"class_name": "Flatten", "config": {"name": "flatten"}},
      {"class_name": "Dense", "config": {"name": "dense", "units": 10, "activation": "softmax"}}])",
                            {32, 32, 3});
  const KerasJson layers = layers_of(info, KerasJsonStyle::legacy_h5);
  const std::string conv = with_dtype(
      R"({"name": "conv2d", "trainable": true, DTYPE, "filters": 32, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "relu", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null})");
  const std::string pool = with_dtype(
      R"({"name": "max_pooling2d", "trainable": true, DTYPE, "pool_size": [2, 2], "padding": "valid", "strides": [2, 2], "data_format": "channels_last"})");
  CHECK(python_json_text(layers[1]["config"]) == conv);
  CHECK(python_json_text(layers[2]["config"]) == pool);
  // (32, 32, 3) -> conv 3x3 valid (30, 30, 32) -> pool 2 (15, 15, 32) -> 7200 features.
  const KerasJson archive = layers_of(info, KerasJsonStyle::archive);
  CHECK(archive[1]["build_config"]["input_shape"] == KerasJson::parse("[null, 32, 32, 3]"));
  CHECK(archive[3]["build_config"]["input_shape"] == KerasJson::parse("[null, 15, 15, 32]"));
  CHECK(archive[4]["build_config"]["input_shape"] == KerasJson::parse("[null, 7200]"));
  CHECK_FALSE(archive[2].contains("build_config"));  // Keras builds its pooling layers when made
}

TEST_CASE("BatchNormalization is written as Keras wrote w05's; w13's shapes follow Keras's padding rules") {
  const Json info = info_of(R"([
      {"class_name": "Conv2D", "config": {"filters": 32, "kernel_size": [3, 3], "activation": "relu"}},
      {"class_name": "MaxPooling2D", "config": {"pool_size": [3, 3], "strides": [2, 2], "padding": "same"}},
      {"class_name": "BatchNormalization", "config": {"name": "batch_normalization_4"}},
      {"class_name": "Conv2D", "config": {"filters": 32, "kernel_size": [3, 3], "activation": "relu"}},
      {"class_name": "MaxPooling2D", "config": {"pool_size": [3, 3], "strides": [2, 2], "padding": "same"}},
      {"class_name": "BatchNormalization", "config": {}},
      {"class_name": "Conv2D", "config": {"filters": 32, "kernel_size": [2, 2], "activation": "relu"}},
      {"class_name": "MaxPooling2D", "config": {"pool_size": [2, 2], "strides": [2, 2], "padding": "same"}},
      {"class_name": "BatchNormalization", "config": {}},
      {"class_name": "Flatten", "config": {}},
      {"class_name": "Dense", "config": {"units": 64, "activation": "relu"}}])",
                            {130, 13, 1});
  const KerasJson layers = layers_of(info, KerasJsonStyle::archive);
  const std::string bn = with_dtype(
      R"({"name": "batch_normalization_4", "trainable": true, DTYPE, "axis": -1, "momentum": 0.99, "epsilon": 0.001, "center": true, "scale": true, "beta_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "gamma_initializer": {"module": "keras.initializers", "class_name": "Ones", "config": {}, "registered_name": null}, "moving_mean_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "moving_variance_initializer": {"module": "keras.initializers", "class_name": "Ones", "config": {}, "registered_name": null}, "beta_regularizer": null, "gamma_regularizer": null, "beta_constraint": null, "gamma_constraint": null, "synchronized": false})");
  CHECK(python_json_text(layers[3]["config"]) == bn);
  CHECK(layers[3]["build_config"]["input_shape"] == KerasJson::parse("[null, 64, 6, 32]"));
  CHECK(layers[6]["build_config"]["input_shape"] == KerasJson::parse("[null, 31, 2, 32]"));
  CHECK(layers[9]["build_config"]["input_shape"] == KerasJson::parse("[null, 15, 1, 32]"));
  CHECK(layers[11]["build_config"]["input_shape"] == KerasJson::parse("[null, 480]"));  // w13's Dense kernel (480, 64)
  CHECK(layers[6]["config"]["name"] == "batch_normalization");
  CHECK(layers[9]["config"]["name"] == "batch_normalization_1");
}

TEST_CASE("the other image layers carry Keras's keys in its order, and their output shapes") {
  const Json info = info_of(R"([
      {"class_name": "Rescaling", "config": {"scale": 0.00392156862745098}},
      {"class_name": "ZeroPadding2D", "config": {"padding": 2}},
      {"class_name": "DepthwiseConv2D", "config": {"kernel_size": 3, "depth_multiplier": 2, "padding": "same", "strides": 2}},
      {"class_name": "SeparableConv2D", "config": {"filters": 5, "kernel_size": [3, 3]}},
      {"class_name": "Conv2DTranspose", "config": {"filters": 4, "kernel_size": 3, "strides": 2}},
      {"class_name": "Cropping2D", "config": {"cropping": [[1, 0], [2, 1]]}},
      {"class_name": "UpSampling2D", "config": {}},
      {"class_name": "SpatialDropout2D", "config": {"rate": 0.25}},
      {"class_name": "Resizing", "config": {"height": 6, "width": 8}},
      {"class_name": "Reshape", "config": {"target_shape": [-1, 4]}},
      {"class_name": "Reshape", "config": {"target_shape": [6, 8, 4]}},
      {"class_name": "GlobalAveragePooling2D", "config": {}},
      {"class_name": "Dense", "config": {"units": 3}}])",
                            {10, 12, 3});
  const KerasJson layers = layers_of(info, KerasJsonStyle::archive);
  auto keys = [](const KerasJson& config) {
    std::string out;
    for (auto it = config.begin(); it != config.end(); ++it) out += (out.empty() ? "" : " ") + it.key();
    return out;
  };
  auto input = [&](std::size_t i) { return layers[i]["build_config"]["input_shape"].dump(); };
  CHECK(keys(layers[1]["config"]) == "name trainable dtype scale offset");
  CHECK(layers[2]["config"]["padding"] == KerasJson::parse("[[2, 2], [2, 2]]"));
  CHECK(input(3) == "[null,14,16,3]");
  CHECK(keys(layers[3]["config"]) ==
        "name trainable dtype depth_multiplier kernel_size strides padding data_format dilation_rate activation "
        "use_bias depthwise_initializer bias_initializer depthwise_regularizer bias_regularizer activity_regularizer "
        "depthwise_constraint bias_constraint");
  CHECK(input(4) == "[null,7,8,6]");  // same padding, stride 2: ceil(14 / 2), ceil(16 / 2); 3 channels x 2
  CHECK(keys(layers[4]["config"]) ==
        "name trainable dtype depth_multiplier filters kernel_size strides padding data_format dilation_rate "
        "activation use_bias depthwise_initializer pointwise_initializer bias_initializer depthwise_regularizer "
        "pointwise_regularizer bias_regularizer activity_regularizer depthwise_constraint pointwise_constraint "
        "bias_constraint");
  CHECK(input(5) == "[null,5,6,5]");
  CHECK(input(6) == "[null,11,13,4]");  // transposed, valid: 5 * 2 + max(3 - 2, 0)
  CHECK(input(7) == "[null,10,10,4]");
  CHECK(python_json_text(layers[8]["config"]) ==
        std::string(R"({"rate": 0.25, "seed": null, "name": "spatial_dropout2d", )") + kDtype +
            R"(, "data_format": "channels_last"})");
  CHECK_FALSE(layers[8].contains("build_config"));  // a Dropout: built when made
  CHECK(input(9) == "[null,20,20,4]");
  CHECK(keys(layers[9]["config"]) ==
        "name trainable dtype height width interpolation crop_to_aspect_ratio pad_to_aspect_ratio fill_mode "
        "fill_value data_format");
  CHECK(input(10) == "[null,6,8,4]");
  CHECK(input(11) == "[null,48,4]");
  CHECK_FALSE(layers[12].contains("build_config"));
  CHECK(keys(layers[12]["config"]) == "name trainable dtype data_format keepdims");
  CHECK(input(13) == "[null,4]");
}

TEST_CASE("the random augmentation layers and Normalization carry Keras's keys in its order") {
  const Json info = info_of(R"([
      {"class_name": "Normalization", "config": {}},
      {"class_name": "RandomFlip", "config": {"mode": "horizontal"}},
      {"class_name": "RandomRotation", "config": {"factor": 0.1}},
      {"class_name": "RandomZoom", "config": {"height_factor": 0.2}},
      {"class_name": "RandomTranslation", "config": {"height_factor": 0.1, "width_factor": 0.1}},
      {"class_name": "RandomContrast", "config": {"factor": 0.2}},
      {"class_name": "AveragePooling2D", "config": {"pool_size": 2, "strides": 1}},
      {"class_name": "GlobalMaxPooling2D", "config": {"keepdims": true}}])",
                            {8, 8, 1});
  const KerasJson layers = layers_of(info, KerasJsonStyle::legacy_h5);
  auto keys = [&](std::size_t i) {
    std::string out;
    for (auto it = layers[i]["config"].begin(); it != layers[i]["config"].end(); ++it)
      out += (out.empty() ? "" : " ") + it.key();
    return out;
  };
  CHECK(keys(1) == "name trainable dtype axis invert mean variance");
  CHECK(keys(2) == "name trainable dtype seed mode data_format");
  CHECK(layers[2]["config"]["mode"] == "horizontal");
  CHECK(keys(3) == "name trainable dtype factor data_format fill_mode fill_value interpolation seed");
  CHECK(keys(4) == "name trainable dtype height_factor width_factor fill_mode interpolation seed fill_value data_format");
  CHECK(layers[4]["config"]["width_factor"].is_null());
  CHECK(keys(5) == keys(4));
  CHECK(keys(6) == "name trainable dtype factor value_range seed");
  CHECK(layers[7]["config"]["strides"] == KerasJson::parse("[1, 1]"));
  CHECK(keys(8) == "name trainable dtype data_format keepdims");
  const KerasJson archive = layers_of(info, KerasJsonStyle::archive);
  CHECK(archive[8]["config"]["name"] == "global_max_pooling2d");
}

TEST_CASE("an LSTM is written as Keras 3.10 wrote w16's, key for key and in order; shapes follow through time") {
  // The LSTM as plugfit's get_config gives it (the implementation option Keras 3 leaves out).
  const Json info = info_of(R"([
      {"class_name": "LSTM", "config": {"name": "lstm", "units": 100, "activation": "tanh", "use_bias": true,
        "return_sequences": false, "return_state": false, "go_backwards": false, "stateful": false, "unroll": false,
        "kernel_initializer": "glorot_uniform", "recurrent_initializer": {"class_name": "Orthogonal", "config": {"gain": 1.0}},
        "bias_initializer": "zeros", "dropout": 0.0, "recurrent_dropout": 0.0, "recurrent_activation": "sigmoid",
        "implementation": 2, "unit_forget_bias": true}},
      {"class_name": "Dense", "config": {"name": "dense", "units": 1}}])",
                            {1, 7});
  const KerasJson layers = layers_of(info, KerasJsonStyle::archive);
  const std::string lstm = with_dtype(
      R"({"name": "lstm", "trainable": true, DTYPE, "return_sequences": false, "return_state": false, "go_backwards": false, "stateful": false, "unroll": false, "zero_output_for_mask": false, "units": 100, "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}, "recurrent_initializer": {"module": "keras.initializers", "class_name": "Orthogonal", "config": {"seed": null, "gain": 1.0}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "unit_forget_bias": true, "kernel_regularizer": null, "recurrent_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "recurrent_constraint": null, "bias_constraint": null, "dropout": 0.0, "recurrent_dropout": 0.0, "seed": null})");
  CHECK(python_json_text(layers[1]["config"]) == lstm);
  CHECK(layers[1]["build_config"]["input_shape"] == KerasJson::parse("[null, 1, 7]"));
  CHECK(layers[2]["build_config"]["input_shape"] == KerasJson::parse("[null, 100]"));  // w16's Dense kernel (100, 1)
}

TEST_CASE("the sequence layers' shapes follow Keras's rules; a float32 rate is written as Python's decimal") {
  const Json info = info_of(R"([
      {"class_name": "Embedding", "config": {"input_dim": 10, "output_dim": 4, "mask_zero": true}},
      {"class_name": "Conv1D", "config": {"filters": 3, "kernel_size": [3], "padding": "causal", "strides": [2]}},
      {"class_name": "GRU", "config": {"units": 5, "return_sequences": true, "dropout": 0.20000000298023224}},
      {"class_name": "AveragePooling1D", "config": {"pool_size": [2], "strides": [2], "padding": "valid"}},
      {"class_name": "TimeDistributed", "config": {"layer": {"class_name": "Dense", "config": {"name": "dense", "units": 6}}}},
      {"class_name": "GlobalAveragePooling1D", "config": {"keepdims": true}},
      {"class_name": "Dense", "config": {"units": 2}}])",
                            {9});
  const KerasJson layers = layers_of(info, KerasJsonStyle::archive);
  CHECK(layers[2]["build_config"]["input_shape"] == KerasJson::parse("[null, 9, 4]"));
  CHECK(layers[3]["build_config"]["input_shape"] == KerasJson::parse("[null, 5, 3]"));  // causal: ceil(9 / 2)
  CHECK(layers[3]["config"]["dropout"].get<double>() == 0.2);
  CHECK(layers[5]["build_config"]["input_shape"] == KerasJson::parse("[null, 2, 5]"));
  CHECK(layers[5]["config"]["layer"]["build_config"]["input_shape"] == KerasJson::parse("[null, 5]"));
  CHECK(layers[7]["build_config"]["input_shape"] == KerasJson::parse("[null, 1, 6]"));
  CHECK_FALSE(layers[4].contains("build_config"));  // pooling layers are built when made
}
