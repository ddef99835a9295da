// The 2-D convolution engine shared by Conv2D, DepthwiseConv2D, SeparableConv2D and
// Conv2DTranspose: images channels_last (N, H, W, C), kernels (kh, kw, C / groups, F) as in
// Keras 3, computed as im2col into a buffer the engine owns and one BLAS GEMM per group.
// Also the Keras options these layers share (kernel_size, strides, padding, data_format,
// dilation_rate) and the channels_first <-> channels_last copies.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <plugfit/config.hpp>
#include <plugfit/tensor.hpp>

namespace plugfit {

// Where an image convolution reads: out(oh, ow) sees in(oh * stride + i * dilation - pad_top, ...)
// for kernel taps i < kh; taps outside the input read zeros.
struct ConvGeometry {
  std::size_t in_h = 0, in_w = 0, in_c = 0;
  std::size_t out_h = 0, out_w = 0, out_c = 0;
  std::size_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  std::size_t pad_top = 0, pad_left = 0;
  std::size_t groups = 1;

  std::size_t group_patch() const { return kh * kw * (in_c / groups); }  // GEMM depth of one group
  std::size_t positions() const { return out_h * out_w; }
};

// The spatial options of Keras's convolutions, read from a layer's config.
struct ConvSpatialOptions {
  std::size_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  bool same_padding = false;
  bool channels_first = false;

  // Reads kernel_size (required unless fixed_kernel), strides, padding, dilation_rate and
  // data_format; throws InputError with `where` ("layer \"c\" (Conv2D): ") for a zero or
  // negative size, an unknown padding or data_format, or (unless allow_strided_dilation, as
  // Keras's transposed convolutions) strides > 1 with dilation_rate > 1.
  static ConvSpatialOptions read(Config& config, const std::string& where, bool allow_strided_dilation = false);
  void write(Json& out) const;  // Keras's keys and spellings
  // The (H, W, C) of an input shape in this data_format; throws InputError when it is not 3-D.
  void image_of(const Shape& input, const std::string& where, std::size_t& h, std::size_t& w,
                std::size_t& c) const;
  // The geometry of a forward convolution on an (h, w) image: TensorFlow's "same" (the odd
  // extra row/column of padding at the bottom/right) or "valid"; throws InputError when a
  // valid kernel (with its dilation) is larger than the input.
  ConvGeometry forward_geometry(std::size_t h, std::size_t w, std::size_t c, std::size_t out_c, std::size_t groups,
                                const std::string& where) const;
  // The output shape in this data_format.
  Shape shape_of(std::size_t h, std::size_t w, std::size_t c) const;
};

// "layer \"name\" (Class): " when the config names the layer, else "Class: ".
std::string conv_where(Config& config, const char* class_name);

// Works through the batch a few images at a time, so the patches stay in cache and the
// buffers stay small; the backward pass rebuilds the patches of x rather than keeping them.
class ConvEngine {
 public:
  void configure(const ConvGeometry& geometry) { g_ = geometry; }
  const ConvGeometry& geometry() const { return g_; }

  // y (batch * out_h * out_w, out_c) = patches(x) * kernel; x (batch, in_h, in_w, in_c).
  void forward(const float* x, std::size_t batch, const float* kernel, float* y) {
    run(x, nullptr, batch, kernel, y, nullptr, nullptr);
  }
  // For y = forward(x) and dy = d(loss)/dy: dkernel = patches(x)^T * dy (overwritten) and,
  // unless dx is null, dx = col2im(dy * kernel^T) (overwritten).
  void backward(const float* x, const float* dy, std::size_t batch, const float* kernel, float* dkernel, float* dx) {
    run(x, dy, batch, kernel, nullptr, dkernel, dx);
  }
  // The transposed convolution (the adjoint of forward): y = col2im(x * kernel^T), y shaped as
  // this geometry's input.
  void transposed_forward(const float* x, std::size_t batch, const float* kernel, float* y) {
    run(nullptr, x, batch, kernel, nullptr, nullptr, y);
  }
  // Its backward: dx = forward(dy) unless dx is null, dkernel = patches(dy)^T * x (overwritten).
  void transposed_backward(const float* x, const float* dy, std::size_t batch, const float* kernel, float* dkernel,
                           float* dx) {
    run(dy, x, batch, kernel, dx, dkernel, nullptr);
  }

 private:
  // Per chunk of images: P = patches(x) when x; y = P * kernel when y; dkernel (+)= P^T * dy
  // when dkernel; dx = col2im(dy * kernel^T) when dx.
  void run(const float* x, const float* dy, std::size_t batch, const float* kernel, float* y, float* dkernel,
           float* dx);
  bool is_pointwise() const;  // 1x1, stride 1, one group: the patches are x itself
  void im2col(const float* x, std::size_t images, float* patches) const;
  void col2im(const float* dpatches, std::size_t images, float* dx) const;

  ConvGeometry g_;
  std::vector<float> patches_, dpatches_;
};

// Copies between (N, C, H, W) and (N, H, W, C); `to` holds n * c * h * w floats.
void nchw_to_nhwc(const float* from, std::size_t n, std::size_t c, std::size_t h, std::size_t w, float* to);
void nhwc_to_nchw(const float* from, std::size_t n, std::size_t h, std::size_t w, std::size_t c, float* to);

// A float buffer that reallocates only when it grows.
inline float* sized(std::vector<float>& buffer, std::size_t n) {
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

}  // namespace plugfit
