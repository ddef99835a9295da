// keras_config_keys.hpp for the sequence layers (issue 13): Keras 3's get_config keys in its order
// with its defaults (keras/src/layers/rnn/{rnn,simple_rnn,lstm,gru,time_distributed}.py,
// core/embedding.py, core/masking.py, convolutional/base_conv.py, pooling/base_pooling.py,
// pooling/base_global_pooling.py, normalization/layer_normalization.py,
// reshaping/repeat_vector.py; the real configs of w06, w21 and w28 agree key for key), and the
// shape each outputs for the next layer's build_config.
#include "keras_config_keys.hpp"

namespace plugfit_hdf5::keras_keys {

namespace {

const Json kNone;

// keras/src/layers/rnn/rnn.py RNN.get_config: the base Layer's keys, then these.
void rnn_base_keys(KJson& out, const Json& config) {
  add_keys(out, config,
           {{"return_sequences", Json(false)}, {"return_state", Json(false)}, {"go_backwards", Json(false)},
            {"stateful", Json(false)}, {"unroll", Json(false)}, {"zero_output_for_mask", Json(false)}});
}

// The weights' regularizers and constraints of a recurrent layer, in Keras's order.
void rnn_training_terms(KJson& out, const Json& config) {
  add_keys(out, config,
           {{"kernel_regularizer", kNone}, {"recurrent_regularizer", kNone}, {"bias_regularizer", kNone},
            {"activity_regularizer", kNone}, {"kernel_constraint", kNone}, {"recurrent_constraint", kNone},
            {"bias_constraint", kNone}});
}

void recurrent_config(const std::string& cls, const Json& config, KJson& out, Dims& output) {
  const Json glorot("glorot_uniform"), orthogonal("orthogonal"), zeros("zeros");
  rnn_base_keys(out, config);
  add_keys(out, config, {{"units", Json(1)}, {"activation", Json("tanh"), Kind::activation}});
  if (cls != "SimpleRNN") add_keys(out, config, {{"recurrent_activation", Json("sigmoid"), Kind::activation}});
  add_keys(out, config,
           {{"use_bias", Json(true)}, {"kernel_initializer", glorot, Kind::initializer},
            {"recurrent_initializer", orthogonal, Kind::initializer}, {"bias_initializer", zeros, Kind::initializer}});
  if (cls == "LSTM") add_keys(out, config, {{"unit_forget_bias", Json(true)}});
  rnn_training_terms(out, config);
  add_keys(out, config, {{"dropout", Json(0.0), Kind::rate}, {"recurrent_dropout", Json(0.0), Kind::rate}});
  if (cls == "GRU") add_keys(out, config, {{"reset_after", Json(true)}});
  add_keys(out, config, {{"seed", kNone}});
  if (!output || output->size() != 3) {
    output.reset();
    return;
  }
  const KJson steps = (*output)[1];
  output = out["return_sequences"] == true ? std::vector<KJson>{nullptr, steps, out["units"]}
                                           : std::vector<KJson>{nullptr, out["units"]};
}

// TimeDistributed's layer as Wrapper.get_config serializes it (serialization_lib: module,
// registered_name and, the inner layer being built, its build_config), for every step's shape.
void time_distributed_config(const Json& config, KJson& out, Dims& output) {
  const Json spec = config.value("layer", Json::object());
  const std::string inner_class = spec.is_object() ? spec.value("class_name", std::string()) : std::string();
  const Json inner_config = spec.is_object() ? spec.value("config", Json::object()) : Json::object();
  Dims inner_in;
  if (output && output->size() >= 3) {
    std::vector<KJson> dims{nullptr};
    dims.insert(dims.end(), output->begin() + 2, output->end());
    inner_in = std::move(dims);
  }
  Dims inner_out;
  const std::string inner_name = inner_config.value("name", std::string());
  KJson inner = KJson::object();
  const bool plugin = inner_class.find('>') != std::string::npos;
  inner["module"] = plugin ? "" : "keras.layers";
  inner["class_name"] = plugin ? inner_class.substr(inner_class.find('>') + 1) : inner_class;
  inner["config"] = keras_layer_config(inner_class, inner_config, inner_name, inner_in, inner_out);
  inner["registered_name"] = plugin ? KJson(inner_class) : KJson();
  if (inner_in) inner["build_config"] = {{"input_shape", *inner_in}};
  out["layer"] = std::move(inner);
  if (output && output->size() >= 3 && inner_out && !inner_out->empty()) {
    std::vector<KJson> dims{nullptr, (*output)[1]};
    dims.insert(dims.end(), inner_out->begin() + 1, inner_out->end());
    output = std::move(dims);
  } else {
    output.reset();
  }
}

// Conv1D and the 1-D pooling layers: one length through Keras's window (causal: left padding,
// the length of "same").
void window_1d(const KJson& out, const char* window_key, const KJson& channels, Dims& output) {
  if (!output || output->size() != 3) {
    output.reset();
    return;
  }
  const bool first = out.value("data_format", std::string("channels_last")) == "channels_first";
  const auto at = [](const KJson& v, long long fallback) {
    return v.is_array() && !v.empty() && v[0].is_number_integer() ? v[0].get<long long>() : fallback;
  };
  std::string padding = out.value("padding", std::string("valid"));
  if (padding == "causal") padding = "same";
  const long long dilation = out.contains("dilation_rate") ? at(out["dilation_rate"], 1) : 1;
  KJson& steps = (*output)[first ? 2 : 1];
  steps = window_length(steps, at(out[window_key], 1), at(out["strides"], 1), dilation, padding);
  if (!channels.is_null()) (*output)[first ? 1 : 2] = channels;
}

}  // namespace

bool sequence_layer_config(const std::string& cls, const Json& config, KJson& out, Dims& output) {
  const Json last("channels_last"), valid("valid");
  if (cls == "SimpleRNN" || cls == "LSTM" || cls == "GRU") {
    recurrent_config(cls, config, out, output);
  } else if (cls == "Embedding") {
    add_keys(out, config,
             {{"input_dim", Json(1)}, {"output_dim", Json(1)}, {"embeddings_initializer", Json("random_uniform"), Kind::initializer},
              {"embeddings_regularizer", kNone}, {"activity_regularizer", kNone}, {"embeddings_constraint", kNone},
              {"mask_zero", Json(false)}});
    if (output && output->size() == 2) output->push_back(out["output_dim"]);
    else output.reset();
  } else if (cls == "Masking") {
    add_keys(out, config, {{"mask_value", Json(0.0), Kind::rate}});
  } else if (cls == "Conv1D") {
    add_keys(out, config,
             {{"filters", Json(1)}, {"kernel_size", Json(1), Kind::single}, {"strides", Json(1), Kind::single},
              {"padding", valid}, {"data_format", last}, {"dilation_rate", Json(1), Kind::single}, {"groups", Json(1)},
              {"activation", Json("linear"), Kind::activation}, {"use_bias", Json(true)},
              {"kernel_initializer", Json("glorot_uniform"), Kind::initializer},
              {"bias_initializer", Json("zeros"), Kind::initializer}, {"kernel_regularizer", kNone},
              {"bias_regularizer", kNone}, {"activity_regularizer", kNone}, {"kernel_constraint", kNone},
              {"bias_constraint", kNone}});
    window_1d(out, "kernel_size", out["filters"], output);
  } else if (cls == "MaxPooling1D" || cls == "AveragePooling1D") {
    // Keras's strides default to the pool size.
    const Json pool = config.value("pool_size", Json(2));
    add_keys(out, config,
             {{"pool_size", Json(2), Kind::single}, {"padding", valid}, {"strides", pool, Kind::single},
              {"data_format", last}});
    if (out["strides"].is_null()) out["strides"] = out["pool_size"];
    window_1d(out, "pool_size", KJson(), output);
  } else if (cls == "GlobalMaxPooling1D" || cls == "GlobalAveragePooling1D") {
    add_keys(out, config, {{"data_format", last}, {"keepdims", Json(false)}});
    if (output && output->size() == 3) {
      const bool first = out["data_format"] == "channels_first";
      const KJson channels = (*output)[first ? 1 : 2];
      if (out["keepdims"] == true) output = first ? std::vector<KJson>{nullptr, channels, 1} : std::vector<KJson>{nullptr, 1, channels};
      else output = std::vector<KJson>{nullptr, channels};
    } else {
      output.reset();
    }
  } else if (cls == "LayerNormalization") {
    add_keys(out, config,
             {{"axis", Json(-1)}, {"epsilon", Json(1e-3)}, {"center", Json(true)}, {"scale", Json(true)},
              {"rms_scaling", Json(false)}, {"beta_initializer", Json("zeros"), Kind::initializer},
              {"gamma_initializer", Json("ones"), Kind::initializer}, {"beta_regularizer", kNone},
              {"gamma_regularizer", kNone}, {"beta_constraint", kNone}, {"gamma_constraint", kNone}});
  } else if (cls == "RepeatVector") {
    add_keys(out, config, {{"n", Json(1)}});
    if (output && output->size() == 2) output = std::vector<KJson>{nullptr, out["n"], (*output)[1]};
    else output.reset();
  } else if (cls == "TimeDistributed") {
    time_distributed_config(config, out, output);
  } else {
    return false;
  }
  return true;
}

}  // namespace plugfit_hdf5::keras_keys
