#include "conv_kernels.hpp"

#include <algorithm>

#include <cblas.h>

#include <plugfit/error.hpp>

#include "util/parallel.hpp"

namespace plugfit {

namespace {

void sgemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda,
           const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, int(m), int(n),
              int(k), 1.f, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

}  // namespace

ConvSpatialOptions ConvSpatialOptions::read(Config& config, const std::string& label, bool allow_strided_dilation) {
  ConvSpatialOptions o;
  if (config.raw("kernel_size").is_null())
    throw InputError(label + ": kernel_size is required (an integer or a pair of integers)");
  const auto kernel = parse_int_pair(config.raw("kernel_size"), label, "kernel_size", 1);
  const auto strides = int_pair_or(config, "strides", {1, 1}, label, 1);
  const auto dilation = int_pair_or(config, "dilation_rate", {1, 1}, label, 1);
  o.kh = kernel[0], o.kw = kernel[1], o.sh = strides[0], o.sw = strides[1], o.dh = dilation[0], o.dw = dilation[1];
  o.same_padding = parse_same_padding(config, label);
  o.format = parse_data_format(config, label);
  if (!allow_strided_dilation && std::max(o.sh, o.sw) > 1 && std::max(o.dh, o.dw) > 1)
    throw InputError(label + ": strides > 1 are not supported together with dilation_rate > 1 (as in Keras), got "
                     "strides (" + std::to_string(o.sh) + ", " + std::to_string(o.sw) + ") and dilation_rate (" +
                     std::to_string(o.dh) + ", " + std::to_string(o.dw) + ")");
  return o;
}

void ConvSpatialOptions::write(Json& out) const {
  out["kernel_size"] = {kh, kw};
  out["strides"] = {sh, sw};
  out["padding"] = same_padding ? "same" : "valid";
  out["data_format"] = data_format_name(format);
  out["dilation_rate"] = {dh, dw};
}

void ConvSpatialOptions::image_of(const Shape& input, const std::string& label, std::size_t& h, std::size_t& w,
                                  std::size_t& c) const {
  const ImageLayout image = image_layout(input, format, label);
  h = image.h, w = image.w, c = image.c;
}

ConvGeometry ConvSpatialOptions::forward_geometry(std::size_t h, std::size_t w, std::size_t c, std::size_t out_c,
                                                  std::size_t groups, const std::string& where) const {
  ConvGeometry g;
  g.in_h = h, g.in_w = w, g.in_c = c, g.out_c = out_c, g.groups = groups;
  g.kh = kh, g.kw = kw, g.sh = sh, g.sw = sw, g.dh = dh, g.dw = dw;
  const std::size_t eff_h = (kh - 1) * dh + 1, eff_w = (kw - 1) * dw + 1;
  if (!same_padding && (eff_h > h || eff_w > w))
    throw InputError(where + "the kernel (" + std::to_string(eff_h) + ", " + std::to_string(eff_w) +
                     ") with its dilation is larger than the input image (" + std::to_string(h) + ", " +
                     std::to_string(w) + ") under padding \"valid\"");
  const WindowSteps rows = window_steps(h, eff_h, sh, same_padding), cols = window_steps(w, eff_w, sw, same_padding);
  g.out_h = rows.out, g.pad_top = rows.pad_before;
  g.out_w = cols.out, g.pad_left = cols.pad_before;
  return g;
}

Shape ConvSpatialOptions::shape_of(std::size_t h, std::size_t w, std::size_t c) const {
  return image_shape(h, w, c, format);
}

bool ConvEngine::is_pointwise() const {
  return g_.kh == 1 && g_.kw == 1 && g_.sh == 1 && g_.sw == 1 && g_.groups == 1 && g_.pad_top == 0 &&
         g_.pad_left == 0 && g_.out_h == g_.in_h && g_.out_w == g_.in_w;
}

void ConvEngine::im2col(const float* x, std::size_t images, float* p) const {
  const std::size_t cg = g_.in_c / g_.groups, row_len = g_.groups * g_.group_patch();
  // One group with undilated columns: a kernel row's kw taps are kw * in_c consecutive floats.
  const bool row_runs = g_.groups == 1 && g_.dw == 1;
  const std::size_t run = g_.kw * g_.in_c;
  for (std::size_t n = 0; n < images; ++n) {
    const float* image = x + n * g_.in_h * g_.in_w * g_.in_c;
    for (std::size_t oh = 0; oh < g_.out_h; ++oh)
      for (std::size_t ow = 0; ow < g_.out_w; ++ow, p += row_len) {
        float* dst = p;
        const std::size_t iw0 = ow * g_.sw - g_.pad_left;  // wraps around when left of the image
        if (row_runs && iw0 < g_.in_w && iw0 + g_.kw <= g_.in_w) {
          for (std::size_t i = 0; i < g_.kh; ++i, dst += run) {
            const std::size_t ih = oh * g_.sh + i * g_.dh - g_.pad_top;
            if (ih >= g_.in_h) std::fill_n(dst, run, 0.f);
            else std::copy_n(image + (ih * g_.in_w + iw0) * g_.in_c, run, dst);
          }
          continue;
        }
        for (std::size_t group = 0; group < g_.groups; ++group)
          for (std::size_t i = 0; i < g_.kh; ++i) {
            // Unsigned wrap-around makes a row above the image compare >= in_h.
            const std::size_t ih = oh * g_.sh + i * g_.dh - g_.pad_top;
            for (std::size_t j = 0; j < g_.kw; ++j, dst += cg) {
              const std::size_t iw = ow * g_.sw + j * g_.dw - g_.pad_left;
              const bool outside = ih >= g_.in_h || iw >= g_.in_w;
              const std::size_t at = (ih * g_.in_w + iw) * g_.in_c + group * cg;  // read only when inside
              if (cg == 1) *dst = outside ? 0.f : image[at];  // depthwise and one-channel images: no call per tap
              else if (outside) std::fill_n(dst, cg, 0.f);
              else std::copy_n(image + at, cg, dst);
            }
          }
      }
  }
}

void ConvEngine::col2im(const float* p, std::size_t images, float* dx) const {
  const std::size_t cg = g_.in_c / g_.groups, row_len = g_.groups * g_.group_patch();
  std::fill_n(dx, images * g_.in_h * g_.in_w * g_.in_c, 0.f);
  for (std::size_t n = 0; n < images; ++n) {
    float* image = dx + n * g_.in_h * g_.in_w * g_.in_c;
    for (std::size_t oh = 0; oh < g_.out_h; ++oh)
      for (std::size_t ow = 0; ow < g_.out_w; ++ow, p += row_len) {
        const float* src = p;
        for (std::size_t group = 0; group < g_.groups; ++group)
          for (std::size_t i = 0; i < g_.kh; ++i) {
            const std::size_t ih = oh * g_.sh + i * g_.dh - g_.pad_top;
            for (std::size_t j = 0; j < g_.kw; ++j, src += cg) {
              const std::size_t iw = ow * g_.sw + j * g_.dw - g_.pad_left;
              if (ih >= g_.in_h || iw >= g_.in_w) continue;
              float* __restrict to = image + (ih * g_.in_w + iw) * g_.in_c + group * cg;
              for (std::size_t c = 0; c < cg; ++c) to[c] += src[c];
            }
          }
      }
  }
}

void ConvEngine::run(const Pass& pass, std::size_t batch, bool keep_patches) {
  const std::size_t row_len = g_.groups * g_.group_patch(), kernel_size = g_.group_patch() * g_.out_c;
  const std::size_t patch_image = g_.positions() * row_len;
  const bool pointwise = is_pointwise();
  // About 1 MB of patches per step: large enough for an efficient GEMM, small enough for L2.
  cache_images_ = std::max<std::size_t>(1, (std::size_t(1) << 18) / patch_image);
  const int chunks = static_cast<int>(std::min<std::size_t>(batch, static_cast<std::size_t>(threads())));
  step_floats_ = std::min(cache_images_, batch) * patch_image;
  const bool fits = !pointwise && batch * patch_image <= kKeepLimit;
  if (pass.y && pass.x) {  // a forward: keeps its patches for a training step's backward
    kept_x_ = keep_patches && fits ? pass.x : nullptr, kept_batch_ = keep_patches && fits ? batch : 0;
    if (kept_x_) sized(kept_, batch * patch_image);
  }
  if (!pass.x) source_ = PatchSource::none;
  else if (pointwise) source_ = PatchSource::input;
  else if (pass.y) source_ = kept_x_ ? PatchSource::write_kept : PatchSource::scratch;
  else source_ = kept_x_ == pass.x && kept_batch_ == batch ? PatchSource::read_kept : PatchSource::scratch;
  if (source_ == PatchSource::scratch) sized(scratch_, std::size_t(chunks) * step_floats_);
  if (pass.dx && !pointwise) sized(dscratch_, std::size_t(chunks) * step_floats_);
  if (pass.dkernel && chunks > 1) sized(partials_, std::size_t(chunks - 1) * kernel_size);
  if (pass.dkernel && batch == 0) std::fill_n(pass.dkernel, kernel_size, 0.f);
  parallel_for(batch, [&](std::size_t begin, std::size_t end, int chunk) {
    float* dkernel = !pass.dkernel || chunk == 0 ? pass.dkernel : partials_.data() + std::size_t(chunk - 1) * kernel_size;
    run_samples(pass, begin, end, chunk, dkernel);
  });
  if (!pass.dkernel) return;
  // The chunks' partial kernel gradients, added in chunk order: fixed for a fixed thread count.
  for (int chunk = 1; chunk < chunks; ++chunk) {
    const float* __restrict partial = partials_.data() + std::size_t(chunk - 1) * kernel_size;
    float* __restrict sum = pass.dkernel;
    for (std::size_t i = 0; i < kernel_size; ++i) sum[i] += partial[i];
  }
}

void ConvEngine::run_samples(const Pass& pass, std::size_t begin, std::size_t end, int chunk, float* dkernel) {
  const std::size_t kg = g_.group_patch(), fg = g_.out_c / g_.groups, row_len = g_.groups * kg;
  const std::size_t in_image = g_.in_h * g_.in_w * g_.in_c, out_image = g_.positions() * g_.out_c;
  const std::size_t patch_image = g_.positions() * row_len;
  const bool pointwise = is_pointwise();
  float* scratch = source_ == PatchSource::scratch ? scratch_.data() + std::size_t(chunk) * step_floats_ : nullptr;
  float* dpatches = pass.dx && !pointwise ? dscratch_.data() + std::size_t(chunk) * step_floats_ : nullptr;
  for (std::size_t n0 = begin; n0 < end; n0 += cache_images_) {
    const std::size_t images = std::min(cache_images_, end - n0), m = images * g_.positions();
    const float* p = nullptr;
    switch (source_) {
      case PatchSource::none: break;
      case PatchSource::input: p = pass.x + n0 * in_image; break;
      case PatchSource::read_kept: p = kept_.data() + n0 * patch_image; break;
      case PatchSource::write_kept:
      case PatchSource::scratch: {
        float* into = source_ == PatchSource::write_kept ? kept_.data() + n0 * patch_image : scratch;
        im2col(pass.x + n0 * in_image, images, into);
        p = into;
        break;
      }
    }
    const float* dy = pass.dy ? pass.dy + n0 * out_image : nullptr;
    const float beta = n0 == begin ? 0.f : 1.f;
    for (std::size_t group = 0; group < g_.groups; ++group) {
      if (pass.y)
        sgemm(false, false, m, fg, kg, p + group * kg, row_len, pass.kernel + group * fg, g_.out_c, 0.f,
              pass.y + n0 * out_image + group * fg, g_.out_c);
      if (dkernel)
        sgemm(true, false, kg, fg, m, p + group * kg, row_len, dy + group * fg, g_.out_c, beta, dkernel + group * fg,
              g_.out_c);
      if (pass.dx)
        sgemm(false, true, m, kg, fg, dy + group * fg, g_.out_c, pass.kernel + group * fg, g_.out_c, 0.f,
              (pointwise ? pass.dx + n0 * in_image : dpatches) + group * kg, row_len);
    }
    if (pass.dx && !pointwise) col2im(dpatches, images, pass.dx + n0 * in_image);
  }
}

void nchw_to_nhwc(const float* from, std::size_t n, std::size_t c, std::size_t h, std::size_t w, float* to) {
  for (std::size_t b = 0; b < n; ++b)
    for (std::size_t ch = 0; ch < c; ++ch) {
      const float* plane = from + (b * c + ch) * h * w;
      float* out = to + b * h * w * c + ch;
      for (std::size_t i = 0; i < h * w; ++i) out[i * c] = plane[i];
    }
}

void nhwc_to_nchw(const float* from, std::size_t n, std::size_t h, std::size_t w, std::size_t c, float* to) {
  for (std::size_t b = 0; b < n; ++b)
    for (std::size_t ch = 0; ch < c; ++ch) {
      const float* in = from + b * h * w * c + ch;
      float* plane = to + (b * c + ch) * h * w;
      for (std::size_t i = 0; i < h * w; ++i) plane[i] = in[i * c];
    }
}

}  // namespace plugfit
