// The 2-D convolution engine shared by Conv2D, DepthwiseConv2D, SeparableConv2D and
// Conv2DTranspose: images channels_last (N, H, W, C), kernels (kh, kw, C / groups, F) as in
// Keras 3, computed as im2col into a buffer the engine owns and one BLAS GEMM per group.
// Also the Keras options these layers share (kernel_size, strides, padding, data_format,
// dilation_rate, read as spatial_options reads them) and the channels_first <-> channels_last copies.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <plugfit/config.hpp>
#include <plugfit/tensor.hpp>

#include "spatial_options.hpp"

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
  DataFormat format = DataFormat::channels_last;
  bool channels_first() const { return format == DataFormat::channels_first; }

  // Reads kernel_size (required), strides, padding, dilation_rate and data_format; throws
  // InputError starting with `label` (layer_label's "layer \"c\" (Conv2D)") for a zero or
  // negative size, an unknown padding or data_format, or (unless allow_strided_dilation, as
  // Keras's transposed convolutions) strides > 1 with dilation_rate > 1.
  static ConvSpatialOptions read(Config& config, const std::string& label, bool allow_strided_dilation = false);
  void write(Json& out) const;  // Keras's keys and spellings
  // The (H, W, C) of an input shape in this data_format; throws image_layout's InputError when it
  // is not 3-D or has a zero size.
  void image_of(const Shape& input, const std::string& label, std::size_t& h, std::size_t& w,
                std::size_t& c) const;
  // The geometry of a forward convolution on an (h, w) image: TensorFlow's "same" (the odd
  // extra row/column of padding at the bottom/right) or "valid"; throws InputError when a
  // valid kernel (with its dilation) is larger than the input.
  ConvGeometry forward_geometry(std::size_t h, std::size_t w, std::size_t c, std::size_t out_c, std::size_t groups,
                                const std::string& where) const;
  // The output shape in this data_format.
  Shape shape_of(std::size_t h, std::size_t w, std::size_t c) const;
};

// Splits the batch over plugfit's threads (parallel.hpp), each chunk of samples worked through a
// few images at a time so the patches stay in cache. A training forward (keep_patches) writes
// the patches of the whole batch into a buffer that the next backward reads instead of
// rebuilding them (when they fit in kKeepLimit floats); otherwise each thread rebuilds its
// patches in its own cache-sized scratch. Buffers grow to the largest batch seen, never shrink.
// Determinism: outputs (y, dx) are written by one chunk per sample and dkernel is each chunk's
// partial sum added in chunk order: equal bit for bit for a fixed thread count, but only to
// rounding across thread counts (a chunk's GEMMs have fewer rows, which OpenBLAS may sum
// differently, and dkernel's chunks are summed apart).
class ConvEngine {
 public:
  static constexpr std::size_t kKeepLimit = std::size_t(1) << 24;  // 64 MB of kept patches

  void configure(const ConvGeometry& geometry) { g_ = geometry; }
  const ConvGeometry& geometry() const { return g_; }

  // y (batch * out_h * out_w, out_c) = patches(x) * kernel; x (batch, in_h, in_w, in_c).
  // keep_patches: a training step, whose backward follows with the same x.
  void forward(const float* x, std::size_t batch, const float* kernel, float* y, bool keep_patches = false) {
    run({x, nullptr, kernel, y, nullptr, nullptr}, batch, keep_patches);
  }
  // For y = forward(x) and dy = d(loss)/dy: dkernel = patches(x)^T * dy (overwritten) and,
  // unless dx is null, dx = col2im(dy * kernel^T) (overwritten).
  void backward(const float* x, const float* dy, std::size_t batch, const float* kernel, float* dkernel, float* dx) {
    run({x, dy, kernel, nullptr, dkernel, dx}, batch, false);
  }
  // The transposed convolution (the adjoint of forward): y = col2im(x * kernel^T), y shaped as
  // this geometry's input.
  void transposed_forward(const float* x, std::size_t batch, const float* kernel, float* y) {
    run({nullptr, x, kernel, nullptr, nullptr, y}, batch, false);
  }
  // Its backward: dx = forward(dy) unless dx is null, dkernel = patches(dy)^T * x (overwritten).
  void transposed_backward(const float* x, const float* dy, std::size_t batch, const float* kernel, float* dkernel,
                           float* dx) {
    run({dy, x, kernel, dx, dkernel, nullptr}, batch, false);
  }

 private:
  // P = patches(x) when x; y = P * kernel when y; dkernel = P^T * dy when dkernel;
  // dx = col2im(dy * kernel^T) when dx.
  struct Pass {
    const float* x;
    const float* dy;
    const float* kernel;
    float* y;
    float* dkernel;
    float* dx;
  };
  void run(const Pass& pass, std::size_t batch, bool keep_patches);
  // Samples [begin, end) of the batch on thread chunk `chunk`; dkernel is this chunk's own.
  void run_samples(const Pass& pass, std::size_t begin, std::size_t end, int chunk, float* dkernel);
  bool is_pointwise() const;  // 1x1, stride 1, one group: the patches are x itself
  void im2col(const float* x, std::size_t images, float* patches) const;
  void col2im(const float* dpatches, std::size_t images, float* dx) const;

  ConvGeometry g_;
  // Where this pass's patches come from: none (no x), x itself (pointwise), im2col into the
  // thread's scratch, im2col into kept_ (a training forward), or kept_ as the forward left it.
  enum class PatchSource { none, input, scratch, write_kept, read_kept };
  PatchSource source_ = PatchSource::none;
  std::size_t cache_images_ = 1;   // images per GEMM step of one thread
  std::size_t step_floats_ = 0;    // one thread's scratch: patches of cache_images_ images
  const float* kept_x_ = nullptr;  // the input whose patches kept_ holds (batch kept_batch_)
  std::size_t kept_batch_ = 0;
  std::vector<float> kept_, scratch_, dscratch_, partials_;
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
