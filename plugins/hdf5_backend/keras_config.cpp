#include "keras_config.hpp"
#include "keras_bidirectional.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <regex>
#include <set>

#include "keras_config_keys.hpp"

namespace plugfit_hdf5 {

using namespace keras_keys;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Keras's naming.to_snake_case: "Dense" -> "dense", "InputLayer" -> "input_layer", "Conv2D" ->
// "conv2d", "LSTM" -> "lstm".
std::string snake_case(const std::string& name) {
  std::string s = std::regex_replace(name, std::regex(R"(\W+)"), "");
  s = std::regex_replace(s, std::regex("(.)([A-Z][a-z]+)"), "$1_$2");
  s = std::regex_replace(s, std::regex("([a-z])([A-Z])"), "$1_$2");
  return lower(s);
}

std::string bare_class(const std::string& cls) {
  const auto arrow = cls.find('>');
  return arrow == std::string::npos ? cls : cls.substr(arrow + 1);
}

std::string next_name(std::map<std::string, int>& seen, const std::string& base) {
  const int n = seen[base]++;
  return n == 0 ? base : base + "_" + std::to_string(n);
}

Json spec_config(const Json& spec) {
  return spec.is_object() && spec.contains("config") && spec["config"].is_object() ? spec["config"] : Json::object();
}
std::string spec_class(const Json& spec) {
  if (spec.is_string()) return spec.get<std::string>();
  return spec.is_object() ? spec.value("class_name", std::string()) : std::string();
}

}  // namespace

namespace keras_keys {

KJson dtype_policy() {
  return {{"module", "keras"}, {"class_name", "DTypePolicy"}, {"config", {{"name", "float32"}}}, {"registered_name", nullptr}};
}

// plugfit's initializer (a name or {"class_name", "config"}) as Keras 3 serializes one.
KJson keras_initializer(const Json& spec) {
  static const std::map<std::string, std::string> classes = {
      {"glorot_uniform", "GlorotUniform"}, {"glorot_normal", "GlorotNormal"}, {"he_uniform", "HeUniform"},
      {"he_normal", "HeNormal"},           {"lecun_uniform", "LecunUniform"}, {"lecun_normal", "LecunNormal"},
      {"zeros", "Zeros"},                  {"ones", "Ones"},                  {"orthogonal", "Orthogonal"},
      {"random_uniform", "RandomUniform"}, {"random_normal", "RandomNormal"}, {"constant", "Constant"},
      {"variance_scaling", "VarianceScaling"}};
  std::string cls = spec_class(spec);
  KJson config = KJson(spec_config(spec));
  if (const auto it = classes.find(cls); it != classes.end()) cls = it->second;
  // Keras 3's random initializers put their base class's seed first ({"seed": null, "gain": 1.0}).
  if (cls != "Zeros" && cls != "Ones" && cls != "Constant" && !config.contains("seed")) {
    KJson seeded = {{"seed", nullptr}};
    seeded.update(config);
    config = std::move(seeded);
  }
  return {{"module", "keras.initializers"}, {"class_name", cls}, {"config", config}, {"registered_name", nullptr}};
}

// Keras's name for a plugfit activation: the same unless Keras's function differs. plugfit's
// hard_sigmoid is Keras 3's relu6(x + 3) / 6; "hard_sigmoid_keras2" (Keras 2's 0.2x + 0.5) and
// "gelu_approximate" have no Keras 3 name and are kept as plugfit names them (Keras cannot
// load such a layer; plugfit reads it back).
KJson keras_activation(const Json& activation) {
  if (!activation.is_string()) return activation;
  return activation.get<std::string>() == "None" ? KJson("linear") : KJson(activation);
}

// ---- The image layers (issue 12): Keras 3.10's get_config keys, in its order, with its defaults.

// Keras's standardize_tuple for two spatial dimensions: 3 -> [3, 3]; a list stays as given.
KJson pair_of(const Json& value) {
  if (value.is_number_integer()) return KJson::array({value, value});
  return KJson(value);
}

// ZeroPadding2D's padding and Cropping2D's cropping as Keras keeps them: ((top, bottom), (left, right)).
KJson sides_of(const Json& value) {
  if (value.is_number_integer()) return KJson::array({KJson::array({value, value}), KJson::array({value, value})});
  if (value.is_array() && value.size() == 2 && value[0].is_number_integer() && value[1].is_number_integer())
    return KJson::array({KJson::array({value[0], value[0]}), KJson::array({value[1], value[1]})});
  return KJson(value);
}

long long int_at(const KJson& pair, std::size_t i, long long fallback) {
  return pair.is_array() && i < pair.size() && pair[i].is_number_integer() ? pair[i].get<long long>() : fallback;
}

// The shortest decimal the float32 v reads back as, as a double: Keras writes Python's 0.2.
double float_as_written(double v) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, static_cast<float>(v)).ptr;
  double out = v;
  std::from_chars(text, end, out);
  return out;
}

void add_keys(KJson& out, const Json& config, std::initializer_list<Key> keys) {
  for (const Key& key : keys) {
    const Json value = config.contains(key.name) ? config[key.name] : key.fallback;
    switch (key.kind) {
      case Kind::plain: out[key.name] = KJson(value); break;
      case Kind::pair: out[key.name] = pair_of(value); break;
      case Kind::sides: out[key.name] = sides_of(value); break;
      case Kind::initializer: out[key.name] = keras_initializer(value); break;
      case Kind::activation: out[key.name] = keras_activation(value); break;
      case Kind::single: out[key.name] = value.is_number_integer() ? KJson::array({value}) : KJson(value); break;
      case Kind::rate: out[key.name] = value.is_number_float() ? KJson(float_as_written(value.get<double>())) : KJson(value); break;
    }
  }
}

// Where the rows, columns and channels of an image are in a batch shape [null, ...].
struct ImageAxes {
  std::size_t rows, cols, channels;
};
ImageAxes image_axes(const KJson& out) {
  const bool first = out.value("data_format", std::string("channels_last")) == "channels_first";
  return first ? ImageAxes{2, 3, 1} : ImageAxes{1, 2, 3};
}

// One spatial length through a convolution or pooling window (Keras's compute_conv_output_shape
// and compute_pooling_output_shape); null when the input length is not known.
KJson window_length(const KJson& in, long long kernel, long long stride, long long dilation, const std::string& padding) {
  if (!in.is_number_integer() || stride <= 0) return nullptr;
  const long long n = in.get<long long>();
  if (padding == "same") return (n + stride - 1) / stride;
  const long long span = dilation * (kernel - 1) + 1;
  return n >= span ? (n - span) / stride + 1 : 0;
}

}  // namespace keras_keys

namespace {

// Keras's compute_conv_transpose_output_shape for one spatial length.
KJson transpose_length(const KJson& in, long long kernel, long long stride, long long dilation,
                       const std::string& padding, const KJson& output_padding, std::size_t i) {
  if (!in.is_number_integer()) return nullptr;
  const long long n = in.get<long long>();
  const long long span = kernel + (kernel - 1) * (dilation - 1);
  if (!output_padding.is_array()) return padding == "same" ? n * stride : n * stride + std::max(span - stride, 0LL);
  const long long pad = padding == "same" ? span / 2 : 0;
  return (n - 1) * stride + span - 2 * pad + int_at(output_padding, i, 0);
}

// The batch shape a 2D window layer (convolution, pooling) outputs, channels set to channels
// (null: unchanged).
void window_output(const KJson& out, const char* kernel_key, bool transpose, const KJson& channels, Dims& output) {
  if (!output || output->size() != 4) {
    output.reset();
    return;
  }
  const ImageAxes axes = image_axes(out);
  const KJson kernel = out[kernel_key];
  const KJson strides = out["strides"];
  const KJson dilation = out.contains("dilation_rate") ? out["dilation_rate"] : KJson::array({1, 1});
  const std::string padding = out.value("padding", std::string("valid"));
  const std::size_t spatial[2] = {axes.rows, axes.cols};
  for (std::size_t i = 0; i < 2; ++i) {
    KJson& dim = (*output)[spatial[i]];
    const long long k = int_at(kernel, i, 1), s = int_at(strides, i, 1), d = int_at(dilation, i, 1);
    dim = transpose ? transpose_length(dim, k, s, d, padding, out.value("output_padding", KJson()), i)
                    : window_length(dim, k, s, d, padding);
  }
  if (!channels.is_null()) (*output)[axes.channels] = channels;
}

// Keras's Reshape output: the target shape, its one -1 solved from the input's size when known.
void reshape_output(const KJson& target, Dims& output) {
  if (!target.is_array()) {
    output.reset();
    return;
  }
  long long size = 1;
  bool known = output.has_value();
  for (std::size_t i = 1; output && i < output->size(); ++i) {
    if ((*output)[i].is_number_integer())
      size *= (*output)[i].get<long long>();
    else
      known = false;
  }
  std::vector<KJson> dims{nullptr};
  long long product = 1;
  std::size_t solve = 0;
  for (const auto& d : target) {
    if (d.is_number_integer() && d.get<long long>() == -1) {
      solve = dims.size();
      dims.push_back(nullptr);
    } else {
      dims.push_back(d);
      product *= d.is_number_integer() ? d.get<long long>() : 0;
    }
  }
  if (solve != 0 && known && product > 0) dims[solve] = size / product;
  output = std::move(dims);
}

// The image layers' configs; false for a class that is none of them.
bool image_layer_config(const std::string& cls, const Json& config, KJson& out, Dims& output) {
  const Json none;
  const Json glorot("glorot_uniform"), zeros("zeros"), ones("ones");
  const Json last("channels_last"), valid("valid"), unit_pair = Json::array({1, 1});
  if (cls == "Conv2D") {
    add_keys(out, config,
             {{"filters", Json(1)}, {"kernel_size", Json(1), Kind::pair}, {"strides", unit_pair, Kind::pair},
              {"padding", valid}, {"data_format", last}, {"dilation_rate", unit_pair, Kind::pair}, {"groups", Json(1)},
              {"activation", Json("linear"), Kind::activation}, {"use_bias", Json(true)},
              {"kernel_initializer", glorot, Kind::initializer}, {"bias_initializer", zeros, Kind::initializer},
              {"kernel_regularizer", none}, {"bias_regularizer", none}, {"activity_regularizer", none},
              {"kernel_constraint", none}, {"bias_constraint", none}});
    window_output(out, "kernel_size", false, out["filters"], output);
  } else if (cls == "Conv2DTranspose") {
    add_keys(out, config,
             {{"filters", Json(1)}, {"kernel_size", Json(1), Kind::pair}, {"strides", unit_pair, Kind::pair},
              {"padding", valid}});
    // Keras's get_config leaves output_padding out; kept when set, so Keras rebuilds the same shape.
    if (config.contains("output_padding") && !config["output_padding"].is_null())
      out["output_padding"] = pair_of(config["output_padding"]);
    add_keys(out, config,
             {{"data_format", last}, {"dilation_rate", unit_pair, Kind::pair},
              {"activation", Json("linear"), Kind::activation}, {"use_bias", Json(true)},
              {"kernel_initializer", glorot, Kind::initializer}, {"bias_initializer", zeros, Kind::initializer},
              {"kernel_regularizer", none}, {"bias_regularizer", none}, {"activity_regularizer", none},
              {"kernel_constraint", none}, {"bias_constraint", none}});
    window_output(out, "kernel_size", true, out["filters"], output);
  } else if (cls == "DepthwiseConv2D") {
    add_keys(out, config,
             {{"depth_multiplier", Json(1)}, {"kernel_size", Json(1), Kind::pair}, {"strides", unit_pair, Kind::pair},
              {"padding", valid}, {"data_format", last}, {"dilation_rate", unit_pair, Kind::pair},
              {"activation", Json("linear"), Kind::activation}, {"use_bias", Json(true)},
              {"depthwise_initializer", glorot, Kind::initializer}, {"bias_initializer", zeros, Kind::initializer},
              {"depthwise_regularizer", none}, {"bias_regularizer", none}, {"activity_regularizer", none},
              {"depthwise_constraint", none}, {"bias_constraint", none}});
    KJson channels;
    if (output && output->size() == 4) {
      const KJson& in = (*output)[image_axes(out).channels];
      if (in.is_number_integer() && out["depth_multiplier"].is_number_integer())
        channels = in.get<long long>() * out["depth_multiplier"].get<long long>();
    }
    window_output(out, "kernel_size", false, channels, output);
    if (output && channels.is_null()) (*output)[image_axes(out).channels] = nullptr;
  } else if (cls == "SeparableConv2D") {
    add_keys(out, config,
             {{"depth_multiplier", Json(1)}, {"filters", Json(1)}, {"kernel_size", Json(1), Kind::pair},
              {"strides", unit_pair, Kind::pair}, {"padding", valid}, {"data_format", last},
              {"dilation_rate", unit_pair, Kind::pair}, {"activation", Json("linear"), Kind::activation},
              {"use_bias", Json(true)}, {"depthwise_initializer", glorot, Kind::initializer},
              {"pointwise_initializer", glorot, Kind::initializer}, {"bias_initializer", zeros, Kind::initializer},
              {"depthwise_regularizer", none}, {"pointwise_regularizer", none}, {"bias_regularizer", none},
              {"activity_regularizer", none}, {"depthwise_constraint", none}, {"pointwise_constraint", none},
              {"bias_constraint", none}});
    window_output(out, "kernel_size", false, out["filters"], output);
  } else if (cls == "MaxPooling2D" || cls == "AveragePooling2D") {
    // Keras's default strides are the pool size.
    const Json pool = config.value("pool_size", Json::array({2, 2}));
    add_keys(out, config,
             {{"pool_size", pool, Kind::pair}, {"padding", valid},
              {"strides", config.value("strides", Json()).is_null() ? pool : config["strides"], Kind::pair},
              {"data_format", last}});
    window_output(out, "pool_size", false, KJson(), output);
  } else if (cls == "GlobalAveragePooling2D" || cls == "GlobalMaxPooling2D") {
    add_keys(out, config, {{"data_format", last}, {"keepdims", Json(false)}});
    if (output && output->size() == 4) {
      const ImageAxes axes = image_axes(out);
      const KJson channels = (*output)[axes.channels];
      if (out["keepdims"] == true) {
        (*output)[axes.rows] = 1;
        (*output)[axes.cols] = 1;
      } else {
        output = std::vector<KJson>{nullptr, channels};
      }
    } else {
      output.reset();
    }
  } else if (cls == "BatchNormalization") {
    add_keys(out, config,
             {{"axis", Json(-1)}, {"momentum", Json(0.99)}, {"epsilon", Json(0.001)}, {"center", Json(true)},
              {"scale", Json(true)}, {"beta_initializer", zeros, Kind::initializer},
              {"gamma_initializer", ones, Kind::initializer}, {"moving_mean_initializer", zeros, Kind::initializer},
              {"moving_variance_initializer", ones, Kind::initializer}, {"beta_regularizer", none},
              {"gamma_regularizer", none}, {"beta_constraint", none}, {"gamma_constraint", none},
              {"synchronized", Json(false)}});
  } else if (cls == "Reshape") {
    add_keys(out, config, {{"target_shape", Json::array()}});
    reshape_output(out["target_shape"], output);
  } else if (cls == "ZeroPadding2D" || cls == "Cropping2D") {
    const bool pad = cls == "ZeroPadding2D";
    const char* key = pad ? "padding" : "cropping";
    add_keys(out, config, {{key, Json::array({pad ? 1 : 0, pad ? 1 : 0}), Kind::sides}, {"data_format", last}});
    if (output && output->size() == 4) {
      const ImageAxes axes = image_axes(out);
      const std::size_t spatial[2] = {axes.rows, axes.cols};
      for (std::size_t i = 0; i < 2; ++i) {
        KJson& dim = (*output)[spatial[i]];
        const KJson sides = out[key].is_array() && out[key].size() == 2 ? out[key][i] : KJson();
        const long long change = int_at(sides, 0, 0) + int_at(sides, 1, 0);
        if (dim.is_number_integer()) dim = dim.get<long long>() + (pad ? change : -change);
      }
    } else {
      output.reset();
    }
  } else if (cls == "UpSampling2D") {
    add_keys(out, config, {{"size", Json::array({2, 2}), Kind::pair}, {"data_format", last}, {"interpolation", Json("nearest")}});
    if (output && output->size() == 4) {
      const ImageAxes axes = image_axes(out);
      const std::size_t spatial[2] = {axes.rows, axes.cols};
      for (std::size_t i = 0; i < 2; ++i) {
        KJson& dim = (*output)[spatial[i]];
        if (dim.is_number_integer()) dim = dim.get<long long>() * int_at(out["size"], i, 1);
      }
    } else {
      output.reset();
    }
  } else if (cls == "SpatialDropout2D") {
    // Keras's SpatialDropout get_config is its own: no "trainable", name and dtype after the rate.
    const KJson name = out["name"], dtype = out["dtype"];
    out = KJson::object();
    add_keys(out, config, {{"rate", Json(0.0)}, {"seed", none}});
    out["name"] = name;
    out["dtype"] = dtype;
    add_keys(out, config, {{"data_format", last}});
  } else if (cls == "Rescaling") {
    add_keys(out, config, {{"scale", Json(1.0)}, {"offset", Json(0.0)}});
  } else if (cls == "Normalization") {
    add_keys(out, config, {{"axis", Json(-1)}, {"invert", Json(false)}, {"mean", none}, {"variance", none}});
  } else if (cls == "Resizing") {
    add_keys(out, config,
             {{"height", Json(1)}, {"width", Json(1)}, {"interpolation", Json("bilinear")},
              {"crop_to_aspect_ratio", Json(false)}, {"pad_to_aspect_ratio", Json(false)},
              {"fill_mode", Json("constant")}, {"fill_value", Json(0.0)}, {"data_format", last}});
    if (output && output->size() == 4) {
      const ImageAxes axes = image_axes(out);
      (*output)[axes.rows] = out["height"];
      (*output)[axes.cols] = out["width"];
    } else {
      output.reset();
    }
  } else if (cls == "RandomFlip") {
    add_keys(out, config, {{"seed", none}, {"mode", Json("horizontal_and_vertical")}, {"data_format", last}});
  } else if (cls == "RandomRotation") {
    add_keys(out, config,
             {{"factor", Json(0.0)}, {"data_format", last}, {"fill_mode", Json("reflect")}, {"fill_value", Json(0.0)},
              {"interpolation", Json("bilinear")}, {"seed", none}});
  } else if (cls == "RandomZoom" || cls == "RandomTranslation") {
    add_keys(out, config,
             {{"height_factor", Json(0.0)}, {"width_factor", none}, {"fill_mode", Json("reflect")},
              {"interpolation", Json("bilinear")}, {"seed", none}, {"fill_value", Json(0.0)}, {"data_format", last}});
  } else if (cls == "RandomContrast") {
    add_keys(out, config, {{"factor", Json(0.0)}, {"value_range", Json::array({0, 255})}, {"seed", none}});
  } else {
    return false;
  }
  return true;
}

}  // namespace

namespace keras_keys {

// Keras 3's full config of one layer, and the shape it outputs.
KJson keras_layer_config(const std::string& cls, Json config, const std::string& name, const Dims& input, Dims& output) {
  KJson out = {{"name", name}, {"trainable", config.value("trainable", true)}, {"dtype", dtype_policy()}};
  output = input;
  if (cls == "Dense") {
    const Json units = config.value("units", Json(1));
    out.update({{"units", units},
                {"activation", keras_activation(config.value("activation", Json("linear")))},
                {"use_bias", config.value("use_bias", true)},
                {"kernel_initializer", keras_initializer(config.value("kernel_initializer", Json("glorot_uniform")))},
                {"bias_initializer", keras_initializer(config.value("bias_initializer", Json("zeros")))},
                {"kernel_regularizer", nullptr},
                {"bias_regularizer", nullptr},
                {"kernel_constraint", nullptr},
                {"bias_constraint", nullptr}});
    if (output) output->back() = KJson(units);
  } else if (cls == "Dropout") {
    out.update({{"rate", config.value("rate", 0.0)}, {"seed", config.value("seed", Json())}, {"noise_shape", nullptr}});
  } else if (cls == "Flatten") {
    out["data_format"] = "channels_last";
    if (output) {
      long long size = 1;
      for (std::size_t i = 1; i < output->size(); ++i) size *= (*output)[i].is_number() ? (*output)[i].get<long long>() : 0;
      output = std::vector<KJson>{nullptr, size};
    }
  } else if (cls == "Activation") {
    out["activation"] = keras_activation(config.value("activation", Json("linear")));
  } else if (image_layer_config(cls, config, out, output) || sequence_layer_config(cls, config, out, output)) {
    // written by image_layer_config or sequence_layer_config
  } else if (keras_bidirectional_config(cls, config, out, input, output, keras_layer_config)) {  // written there
  } else {
    // A plugin layer or one plugfit knows Keras lacks: its config as plugfit has it.
    for (const auto& [key, value] : config.items())
      if (key != "input_shape" && key != "batch_input_shape" && key != "batch_shape") out[key] = KJson(value);
    output.reset();
  }
  return out;
}

}  // namespace keras_keys

namespace {

std::vector<KJson> batch_of(const Json& input_shape) {
  std::vector<KJson> dims{nullptr};
  if (input_shape.is_array())
    for (const auto& d : input_shape) dims.push_back(KJson(d));
  return dims;
}

// A loss or metric as Keras's compile_config holds what compile() was given: plugfit's
// {"class_name": "accuracy", "config": {}} was the string "accuracy"; objects stay objects.
Json as_given(const Json& spec) {
  if (spec.is_object() && spec.size() == 2 && spec.contains("class_name") && spec["class_name"].is_string() &&
      spec.contains("config") && spec["config"].is_object() && spec["config"].empty())
    return spec["class_name"];
  return spec;
}

}  // namespace

std::string python_json_text(const KJson& j) {
  if (j.is_object()) {
    std::string out = "{";
    for (auto it = j.begin(); it != j.end(); ++it)
      out += (it == j.begin() ? "" : ", ") + KJson(it.key()).dump(-1, ' ', true) + ": " + python_json_text(*it);
    return out + "}";
  }
  if (j.is_array()) {
    std::string out = "[";
    for (std::size_t i = 0; i < j.size(); ++i) out += (i == 0 ? "" : ", ") + python_json_text(j[i]);
    return out + "]";
  }
  return j.dump(-1, ' ', true);
}

std::string keras_version_for(KerasJsonStyle style) { return style == KerasJsonStyle::archive ? "3.10.0" : "3.8.0"; }

std::string keras_model_name(const Json& info) {
  const Json keras = info.value("keras", Json::object());
  return keras.is_object() && keras.contains("model_name") && keras["model_name"].is_string()
             ? keras["model_name"].get<std::string>()
             : "sequential";
}

std::vector<KerasLayerName> keras_layer_names(const Json& info) {
  std::vector<KerasLayerName> out;
  const Json model = info.value("model", Json::object());
  const Json layers = model.is_object() ? spec_config(model).value("layers", Json::array()) : Json::array();
  std::map<std::string, int> default_names;
  std::map<std::string, int> groups;
  for (const auto& spec : layers) {
    const std::string cls = spec_class(spec);
    if (cls == "InputLayer") continue;
    const Json config = spec_config(spec);
    const std::string base = snake_case(bare_class(cls));
    const std::string name = config.contains("name") && config["name"].is_string() ? config["name"].get<std::string>()
                                                                                    : next_name(default_names, base);
    out.push_back({name, cls, next_name(groups, base), keras_nesting(bare_class(cls), config)});
  }
  return out;
}

KJson keras_model_config(const Json& info, KerasJsonStyle style) {
  const bool archive = style == KerasJsonStyle::archive;
  const Json model = info.value("model", Json::object());
  const Json specs = spec_config(model).value("layers", Json::array());
  const std::vector<KerasLayerName> names = keras_layer_names(info);
  Dims shape = batch_of(info.value("input_shape", Json::array()));
  const KJson build_shape = KJson(*shape);

  KJson input_config = {{"batch_shape", build_shape}, {"dtype", "float32"}, {"sparse", false}};
  if (archive) input_config["ragged"] = false;
  input_config["name"] = "input_layer";
  KJson layers = KJson::array();
  auto wrap = [&](const std::string& cls, KJson config, const std::string& module, const KJson& registered,
                  const Dims& built) {
    KJson layer = KJson::object();
    if (archive) layer["module"] = module;
    layer["class_name"] = cls;
    layer["config"] = std::move(config);
    if (archive) {
      layer["registered_name"] = registered;
      // Keras 3.10 builds Dropout (w16's config.json has no build_config for it), SpatialDropout2D
      // (a Dropout) and the pooling layers (1-D ones too: the same base classes) when they are made
      // (_build_at_init): no build_config.
      static const std::set<std::string> built_at_init = {"InputLayer",       "Dropout",
                                                          "SpatialDropout2D", "MaxPooling2D",
                                                          "AveragePooling2D", "GlobalAveragePooling2D",
                                                          "GlobalMaxPooling2D", "MaxPooling1D",
                                                          "AveragePooling1D", "GlobalAveragePooling1D",
                                                          "GlobalMaxPooling1D"};
      if (built && built_at_init.count(cls) == 0) layer["build_config"] = {{"input_shape", *built}};
    }
    layers.push_back(std::move(layer));
  };
  wrap("InputLayer", input_config, "keras.layers", nullptr, std::nullopt);
  std::size_t index = 0;
  for (const auto& spec : specs) {
    const std::string cls = spec_class(spec);
    if (cls == "InputLayer") continue;
    Dims next;
    KJson config = keras_layer_config(cls, spec_config(spec), names[index++].name, shape, next);
    const bool plugin = cls.find('>') != std::string::npos;
    wrap(plugin ? cls.substr(cls.find('>') + 1) : cls, std::move(config), plugin ? "" : "keras.layers",
         plugin ? KJson(cls) : KJson(), shape);
    shape = next;
  }
  KJson body = {{"name", keras_model_name(info)}, {"trainable", true}, {"dtype", dtype_policy()},
               {"layers", layers}, {"build_input_shape", build_shape}};
  KJson out = KJson::object();
  if (archive) out["module"] = "keras";
  out["class_name"] = "Sequential";
  out["config"] = std::move(body);
  if (archive) {
    out["registered_name"] = nullptr;
    out["build_config"] = {{"input_shape", build_shape}};
    const KJson compile = keras_compile_config(info, style);
    if (!compile.is_null()) out["compile_config"] = compile;
  }
  return out;
}

std::optional<std::string> keras_optimizer_class(const Json& info) {
  const Json compile = info.value("compile", Json::object());
  if (!compile.is_object()) return std::nullopt;
  const std::string cls = lower(spec_class(compile.value("optimizer", Json("Adam"))));
  if (cls == "adam") return "Adam";
  if (cls == "sgd") return "SGD";
  if (cls == "rmsprop") return "RMSprop";
  return std::nullopt;
}

std::string keras_slot_name(const std::string& keras_class, const std::string& plugfit_slot) {
  if (keras_class == "Adam") {
    if (plugfit_slot == "m") return "momentum";
    if (plugfit_slot == "v") return "velocity";
    if (plugfit_slot == "v_hat") return "velocity_hat";
  }
  return plugfit_slot;  // SGD's momentum, RMSprop's velocity, momentum and average_gradient
}

std::vector<std::vector<std::string>> keras_slot_order(const std::string& keras_class, const Json& info) {
  const Json config = spec_config(info.value("compile", Json::object()).value("optimizer", Json()));
  if (keras_class == "Adam") {
    if (config.value("amsgrad", false)) return {{"m", "v"}, {"v_hat"}};
    return {{"m", "v"}};
  }
  if (keras_class == "SGD") {
    if (config.value("momentum", 0.0) > 0.0) return {{"momentum"}};
    return {};
  }
  std::vector<std::vector<std::string>> out{{"velocity"}};
  if (config.value("momentum", 0.0) > 0.0) out.push_back({"momentum"});
  if (config.value("centered", false)) out.push_back({"average_gradient"});
  return out;
}

KJson keras_compile_config(const Json& info, KerasJsonStyle style) {
  const bool archive = style == KerasJsonStyle::archive;
  const Json compile = info.value("compile", Json());
  if (!compile.is_object() || compile.empty()) return KJson();
  const Json opt_spec = compile.value("optimizer", Json("Adam"));
  const Json given = spec_config(opt_spec);
  const auto keras_class = keras_optimizer_class(info);
  std::string cls = keras_class ? *keras_class : spec_class(opt_spec);
  // Keras 3's base optimizer options in its order, plugfit's values where it has them (plugfit
  // takes the same names); options Keras lacks ("decay") stay in the plugfit group's info only.
  KJson config = {{"name", lower(cls)},
                  {"learning_rate", KJson(given.value("learning_rate", given.value("lr", Json(0.001))))}};
  const std::pair<const char*, Json> base[] = {{"weight_decay", Json()},
                                               {"clipnorm", Json()},
                                               {"global_clipnorm", Json()},
                                               {"clipvalue", Json()},
                                               {"use_ema", Json(false)},
                                               {"ema_momentum", Json(0.99)},
                                               {"ema_overwrite_frequency", Json()},
                                               {"loss_scale_factor", Json()},
                                               {"gradient_accumulation_steps", Json()}};
  for (const auto& [key, fallback] : base) config[key] = KJson(given.value(key, fallback));
  if (cls == "Adam") {
    config.update({{"beta_1", given.value("beta_1", 0.9)}, {"beta_2", given.value("beta_2", 0.999)},
                   {"epsilon", given.value("epsilon", 1e-7)}, {"amsgrad", given.value("amsgrad", false)}});
  } else if (cls == "SGD") {
    config.update({{"momentum", given.value("momentum", 0.0)}, {"nesterov", given.value("nesterov", false)}});
  } else if (cls == "RMSprop") {
    config.update({{"rho", given.value("rho", 0.9)}, {"momentum", given.value("momentum", 0.0)},
                   {"epsilon", given.value("epsilon", 1e-7)}, {"centered", given.value("centered", false)}});
  } else {
    config.update(KJson(given));  // an optimizer Keras lacks: its options as plugfit has them
  }
  KJson optimizer = KJson::object();
  if (archive) optimizer["module"] = keras_class ? "keras.optimizers" : "";
  optimizer["class_name"] = cls;
  optimizer["config"] = config;
  if (archive) optimizer["registered_name"] = keras_class ? KJson() : KJson("plugfit>" + cls);
  Json given_metrics = Json::array();
  for (const auto& m : compile.value("metrics", Json::array())) given_metrics.push_back(as_given(m));
  KJson metrics = KJson(given_metrics);
  KJson out = KJson::object();
  if (archive) out["optimizer"] = optimizer;
  out.update({{"loss", KJson(as_given(compile.value("loss", Json("sparse_categorical_crossentropy"))))},
              {"loss_weights", nullptr},
              {"metrics", metrics},
              {"weighted_metrics", nullptr},
              {"run_eagerly", false},
              {"steps_per_execution", 1},
              {"jit_compile", false}});
  if (!archive) out["optimizer_config"] = {{"class_name", cls}, {"config", config}};
  return out;
}

}  // namespace plugfit_hdf5
