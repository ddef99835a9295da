// Options and layouts shared by the 2-D image layers (convolutions, pooling, padding, cropping,
// upsampling, preprocessing): Keras's data_format, its "int or pair" sizes, its "same"/"valid"
// padding and its ((top, bottom), (left, right)) paddings. One reading and one error sentence each.
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

// Keras's data_format, any case (Keras lowercases it): absent or null is channels_last (Keras's
// image_data_format default); else InputError "<where>: data_format must be ...".
DataFormat parse_data_format(Config& config, const std::string& where);
const char* data_format_name(DataFormat format);

// The height, width and channels of one sample, and the distance in floats between neighbours
// along each (row-major storage in the sample's data_format).
struct ImageLayout {
  std::size_t h = 0, w = 0, c = 0;
  std::size_t h_stride = 0, w_stride = 0, c_stride = 0;
  std::size_t size() const { return h * w * c; }
  // Offset of pixel (row, col), channel ch, inside one image.
  std::size_t at(std::size_t row, std::size_t col, std::size_t ch) const {
    return row * h_stride + col * w_stride + ch * c_stride;
  }
};

// requires nothing; throws InputError ("<where> expects input of shape (None, H, W, C), got ...")
// unless input_shape has 3 dimensions, none of them zero.
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
// parse_int_pair of config's key, or fallback when the key is absent or null.
std::array<std::size_t, 2> int_pair_or(Config& config, const char* key, std::array<std::size_t, 2> fallback,
                                       const std::string& where, long long min_value);
Json pair_json(const std::array<std::size_t, 2>& pair);

// Keras's padding "valid" or "same" (any case; absent is "valid"): true for "same"; else
// InputError "<where>: padding must be ...".
bool parse_same_padding(Config& config, const std::string& where);

// A window sliding along one axis of `in` entries, TensorFlow's rule (Keras's, on every backend):
// "same" gives out = ceil(in / stride) and pads the total the windows need beyond the input,
// the odd extra entry after the input (bottom/right); "valid" gives out = (in - window) / stride + 1
// with no padding. requires window, stride >= 1 and, for "valid", window <= in.
struct WindowSteps {
  std::size_t out = 0, pad_before = 0;
};
WindowSteps window_steps(std::size_t in, std::size_t window, std::size_t stride, bool same);
// The padding before the input when `out` windows of `window` at `stride` cover `in` entries
// under "same" (also the split a transposed convolution inverts).
std::size_t same_pad_before(std::size_t in, std::size_t out, std::size_t window, std::size_t stride);

// Keras's padding and cropping forms: n (all sides), (vertical, horizontal), or
// ((top, bottom), (left, right)); every entry non-negative. Returns {top, bottom, left, right}.
std::array<std::size_t, 4> parse_sides(const Json& value, const std::string& where, const char* key);
Json sides_json(const std::array<std::size_t, 4>& sides);

}  // namespace plugfit
