// Options and layouts shared by the 2-D image layers (pooling, padding, cropping, upsampling):
// Keras's data_format, its "int or pair" sizes and its ((top, bottom), (left, right)) paddings.
#pragma once

#include <array>
#include <string>

#include <plugfit/config.hpp>
#include <plugfit/tensor.hpp>

namespace plugfit {

enum class DataFormat { channels_last, channels_first };

// "layer \"pool1\" (MaxPooling2D)" when the config names the layer, else "MaxPooling2D": the start
// of every error sentence a constructor throws.
std::string layer_label(Config& config, const std::string& class_name);
std::string layer_label(const std::string& name, const std::string& class_name);

// Keras's data_format: absent or null is channels_last (Keras's image_data_format default).
DataFormat parse_data_format(Config& config, const std::string& where);
const char* data_format_name(DataFormat format);

// The height, width and channels of one sample, and the distance in floats between neighbours
// along each (row-major storage in the sample's data_format).
struct ImageLayout {
  std::size_t h = 0, w = 0, c = 0;
  std::size_t h_stride = 0, w_stride = 0, c_stride = 0;
  std::size_t size() const { return h * w * c; }
};

// requires nothing; throws InputError ("<where> expects input of shape (None, H, W, C), got ...")
// unless input_shape has 3 dimensions.
ImageLayout image_layout(const Shape& input_shape, DataFormat format, const std::string& where);
ImageLayout image_layout(std::size_t h, std::size_t w, std::size_t c, DataFormat format);
// The shape (without batch) of an h x w image of c channels in format.
Shape image_shape(std::size_t h, std::size_t w, std::size_t c, DataFormat format);

// {0, sample...}: a full shape built once in build(), whose batch entry forward() sets, so that
// resizing an output allocates nothing once the batch size is steady.
Shape batch_shape_of(const Shape& sample);

// An int n (-> (n, n)) or a pair of ints; each at least min_value, else an InputError naming
// where and key.
std::array<std::size_t, 2> parse_int_pair(const Json& value, const std::string& where, const char* key,
                                          long long min_value);
Json pair_json(const std::array<std::size_t, 2>& pair);

// Keras's padding and cropping forms: n (all sides), (vertical, horizontal), or
// ((top, bottom), (left, right)); every entry non-negative. Returns {top, bottom, left, right}.
std::array<std::size_t, 4> parse_sides(const Json& value, const std::string& where, const char* key);
Json sides_json(const std::array<std::size_t, 4>& sides);

}  // namespace plugfit
