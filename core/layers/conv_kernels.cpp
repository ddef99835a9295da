#include "conv_kernels.hpp"

#include <algorithm>
#include <cctype>

#include <cblas.h>

#include <plugfit/error.hpp>

namespace plugfit {

namespace {

// An int or a pair of positive ints, as Keras's standardize_tuple reads it.
void read_pair(Config& config, const char* key, std::size_t fallback, const std::string& where, std::size_t& a,
               std::size_t& b) {
  const Json& v = config.raw(key);
  auto positive = [](const Json& e) { return e.is_number_integer() && e.get<long long>() > 0; };
  if (v.is_null()) {
    if (fallback == 0) throw InputError(where + "\"" + key + "\" is required (an int or a pair of ints)");
    a = b = fallback;
  } else if (positive(v)) {
    a = b = v.get<std::size_t>();
  } else if (v.is_array() && v.size() == 2 && positive(v[0]) && positive(v[1])) {
    a = v[0].get<std::size_t>();
    b = v[1].get<std::size_t>();
  } else {
    throw InputError(where + "\"" + key + "\" must be a positive int or a pair of positive ints, got " + v.dump());
  }
}

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

void sgemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda,
           const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, int(m), int(n),
              int(k), 1.f, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

}  // namespace

std::string conv_where(Config& config, const char* class_name) {
  const Json& name = config.raw("name");
  if (name.is_string()) return "layer \"" + name.get<std::string>() + "\" (" + class_name + "): ";
  return std::string(class_name) + ": ";
}

ConvSpatialOptions ConvSpatialOptions::read(Config& config, const std::string& where, bool allow_strided_dilation) {
  ConvSpatialOptions o;
  read_pair(config, "kernel_size", 0, where, o.kh, o.kw);
  read_pair(config, "strides", 1, where, o.sh, o.sw);
  read_pair(config, "dilation_rate", 1, where, o.dh, o.dw);
  const std::string padding = lower(config.get<std::string>("padding", "valid"));
  if (padding != "valid" && padding != "same")
    throw InputError(where + "\"padding\" must be \"valid\" or \"same\", got \"" + padding + "\"");
  o.same_padding = padding == "same";
  const Json& format = config.raw("data_format");
  const std::string data_format = format.is_string() ? lower(format.get<std::string>()) : "channels_last";
  if (!format.is_null() && !format.is_string())
    throw InputError(where + "\"data_format\" must be \"channels_last\" or \"channels_first\", got " + format.dump());
  if (data_format != "channels_last" && data_format != "channels_first")
    throw InputError(where + "\"data_format\" must be \"channels_last\" or \"channels_first\", got \"" + data_format +
                     "\"");
  o.channels_first = data_format == "channels_first";
  if (!allow_strided_dilation && std::max(o.sh, o.sw) > 1 && std::max(o.dh, o.dw) > 1)
    throw InputError(where + "strides > 1 are not supported together with dilation_rate > 1 (as in Keras), got "
                     "strides (" + std::to_string(o.sh) + ", " + std::to_string(o.sw) + ") and dilation_rate (" +
                     std::to_string(o.dh) + ", " + std::to_string(o.dw) + ")");
  return o;
}

void ConvSpatialOptions::write(Json& out) const {
  out["kernel_size"] = {kh, kw};
  out["strides"] = {sh, sw};
  out["padding"] = same_padding ? "same" : "valid";
  out["data_format"] = channels_first ? "channels_first" : "channels_last";
  out["dilation_rate"] = {dh, dw};
}

void ConvSpatialOptions::image_of(const Shape& input, const std::string& where, std::size_t& h, std::size_t& w,
                                  std::size_t& c) const {
  if (input.size() != 3 || shape_size(input) == 0)
    throw InputError(where + "expects input of shape " +
                     (channels_first ? "(None, channels, height, width)" : "(None, height, width, channels)") +
                     " with no zero size, got " + shape_str(input));
  h = channels_first ? input[1] : input[0];
  w = channels_first ? input[2] : input[1];
  c = channels_first ? input[0] : input[2];
}

ConvGeometry ConvSpatialOptions::forward_geometry(std::size_t h, std::size_t w, std::size_t c, std::size_t out_c,
                                                  std::size_t groups, const std::string& where) const {
  ConvGeometry g;
  g.in_h = h, g.in_w = w, g.in_c = c, g.out_c = out_c, g.groups = groups;
  g.kh = kh, g.kw = kw, g.sh = sh, g.sw = sw, g.dh = dh, g.dw = dw;
  const std::size_t eff_h = (kh - 1) * dh + 1, eff_w = (kw - 1) * dw + 1;
  if (same_padding) {
    g.out_h = (h + sh - 1) / sh;
    g.out_w = (w + sw - 1) / sw;
    const std::size_t need_h = (g.out_h - 1) * sh + eff_h, need_w = (g.out_w - 1) * sw + eff_w;
    g.pad_top = need_h > h ? (need_h - h) / 2 : 0;
    g.pad_left = need_w > w ? (need_w - w) / 2 : 0;
  } else {
    if (eff_h > h || eff_w > w)
      throw InputError(where + "the kernel (" + std::to_string(eff_h) + ", " + std::to_string(eff_w) +
                       ") with its dilation is larger than the input image (" + std::to_string(h) + ", " +
                       std::to_string(w) + ") under padding \"valid\"");
    g.out_h = (h - eff_h) / sh + 1;
    g.out_w = (w - eff_w) / sw + 1;
  }
  return g;
}

Shape ConvSpatialOptions::shape_of(std::size_t h, std::size_t w, std::size_t c) const {
  return channels_first ? Shape{c, h, w} : Shape{h, w, c};
}

bool ConvEngine::is_pointwise() const {
  return g_.kh == 1 && g_.kw == 1 && g_.sh == 1 && g_.sw == 1 && g_.groups == 1 && g_.pad_top == 0 &&
         g_.pad_left == 0 && g_.out_h == g_.in_h && g_.out_w == g_.in_w;
}

void ConvEngine::im2col(const float* x, std::size_t images, float* p) const {
  const std::size_t cg = g_.in_c / g_.groups, row_len = g_.groups * g_.group_patch();
  for (std::size_t n = 0; n < images; ++n) {
    const float* image = x + n * g_.in_h * g_.in_w * g_.in_c;
    for (std::size_t oh = 0; oh < g_.out_h; ++oh)
      for (std::size_t ow = 0; ow < g_.out_w; ++ow, p += row_len) {
        float* dst = p;
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

void ConvEngine::run(const float* x, const float* dy, std::size_t batch, const float* kernel, float* y,
                     float* dkernel, float* dx) {
  const std::size_t kg = g_.group_patch(), fg = g_.out_c / g_.groups, row_len = g_.groups * kg;
  const std::size_t in_image = g_.in_h * g_.in_w * g_.in_c, out_image = g_.positions() * g_.out_c;
  const bool pointwise = is_pointwise();
  // About 1 MB of patches per chunk: large enough for an efficient GEMM, small enough for L2.
  const std::size_t chunk = std::max<std::size_t>(1, (std::size_t(1) << 18) / (g_.positions() * row_len));
  const std::size_t chunk_rows = std::min(chunk, batch) * g_.positions();
  float* patches = pointwise || !x ? nullptr : sized(patches_, chunk_rows * row_len);
  float* dpatches = pointwise || !dx ? nullptr : sized(dpatches_, chunk_rows * row_len);
  if (dkernel && batch == 0) std::fill_n(dkernel, kg * g_.out_c, 0.f);
  for (std::size_t n0 = 0; n0 < batch; n0 += chunk) {
    const std::size_t images = std::min(chunk, batch - n0), m = images * g_.positions();
    const float* p = nullptr;
    if (x) {
      if (pointwise) p = x + n0 * in_image;
      else im2col(x + n0 * in_image, images, patches), p = patches;
    }
    const float* dy_chunk = dy ? dy + n0 * out_image : nullptr;
    for (std::size_t group = 0; group < g_.groups; ++group) {
      if (y)
        sgemm(false, false, m, fg, kg, p + group * kg, row_len, kernel + group * fg, g_.out_c, 0.f,
              y + n0 * out_image + group * fg, g_.out_c);
      if (dkernel)
        sgemm(true, false, kg, fg, m, p + group * kg, row_len, dy_chunk + group * fg, g_.out_c, n0 == 0 ? 0.f : 1.f,
              dkernel + group * fg, g_.out_c);
      if (dx)
        sgemm(false, true, m, kg, fg, dy_chunk + group * fg, g_.out_c, kernel + group * fg, g_.out_c, 0.f,
              (pointwise ? dx + n0 * in_image : dpatches) + group * kg, row_len);
    }
    if (dx && !pointwise) col2im(dpatches, images, dx + n0 * in_image);
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
