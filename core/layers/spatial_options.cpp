#include "spatial_options.hpp"

namespace plugfit {

std::string layer_label(const std::string& name, const std::string& class_name) {
  return name.empty() ? class_name : "layer \"" + name + "\" (" + class_name + ")";
}

std::string layer_label(Config& config, const std::string& class_name) {
  const Json& name = config.raw("name");
  return layer_label(name.is_string() ? name.get<std::string>() : std::string(), class_name);
}

DataFormat parse_data_format(Config& config, const std::string& where) {
  const Json& value = config.raw("data_format");
  if (value.is_null() || value == "channels_last") return DataFormat::channels_last;
  if (value == "channels_first") return DataFormat::channels_first;
  throw InputError(where + ": data_format must be \"channels_last\" or \"channels_first\", got " + value.dump());
}

const char* data_format_name(DataFormat format) {
  return format == DataFormat::channels_last ? "channels_last" : "channels_first";
}

ImageLayout image_layout(std::size_t h, std::size_t w, std::size_t c, DataFormat format) {
  ImageLayout layout{h, w, c, 0, 0, 0};
  if (format == DataFormat::channels_last) {
    layout.c_stride = 1;
    layout.w_stride = c;
    layout.h_stride = w * c;
  } else {
    layout.w_stride = 1;
    layout.h_stride = w;
    layout.c_stride = h * w;
  }
  return layout;
}

ImageLayout image_layout(const Shape& input_shape, DataFormat format, const std::string& where) {
  if (input_shape.size() != 3)
    throw InputError(where + " expects input of shape " +
                     (format == DataFormat::channels_last ? "(None, height, width, channels)"
                                                          : "(None, channels, height, width)") +
                     ", got " + shape_str(input_shape));
  if (format == DataFormat::channels_last) return image_layout(input_shape[0], input_shape[1], input_shape[2], format);
  return image_layout(input_shape[1], input_shape[2], input_shape[0], format);
}

Shape image_shape(std::size_t h, std::size_t w, std::size_t c, DataFormat format) {
  return format == DataFormat::channels_last ? Shape{h, w, c} : Shape{c, h, w};
}

Shape batch_shape_of(const Shape& sample) {
  Shape full{0};
  full.insert(full.end(), sample.begin(), sample.end());
  return full;
}

namespace {
std::size_t checked_int(const Json& v, const std::string& where, const char* key, long long min_value,
                        const Json& whole) {
  if (!v.is_number_integer() || v.get<long long>() < min_value)
    throw InputError(where + ": " + key + " must hold integers of at least " + std::to_string(min_value) + ", got " +
                     whole.dump());
  return v.get<std::size_t>();
}
}  // namespace

std::array<std::size_t, 2> parse_int_pair(const Json& value, const std::string& where, const char* key,
                                          long long min_value) {
  if (value.is_array()) {
    if (value.size() != 2)
      throw InputError(where + ": " + key + " must be an integer or a pair of integers, got " + value.dump());
    return {checked_int(value[0], where, key, min_value, value), checked_int(value[1], where, key, min_value, value)};
  }
  const std::size_t n = checked_int(value, where, key, min_value, value);
  return {n, n};
}

Json pair_json(const std::array<std::size_t, 2>& pair) { return Json::array({pair[0], pair[1]}); }

std::array<std::size_t, 4> parse_sides(const Json& value, const std::string& where, const char* key) {
  if (value.is_array() && value.size() == 2 && value[0].is_array() && value[1].is_array()) {
    const auto vertical = parse_int_pair(value[0], where, key, 0);
    const auto horizontal = parse_int_pair(value[1], where, key, 0);
    if (value[0].size() != 2 || value[1].size() != 2)
      throw InputError(where + ": " + key + " must be an integer, a pair or ((top, bottom), (left, right)), got " +
                       value.dump());
    return {vertical[0], vertical[1], horizontal[0], horizontal[1]};
  }
  const auto symmetric = parse_int_pair(value, where, key, 0);
  return {symmetric[0], symmetric[0], symmetric[1], symmetric[1]};
}

Json sides_json(const std::array<std::size_t, 4>& sides) {
  return Json::array({Json::array({sides[0], sides[1]}), Json::array({sides[2], sides[3]})});
}

}  // namespace plugfit
