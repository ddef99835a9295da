#include "dense.hpp"

#include <algorithm>

#include <cblas.h>

#include "../util/parallel.hpp"
#include "keras_options.hpp"

namespace plugfit {

namespace {

// Below this many multiply-adds a GEMM stays on one thread: waking the workers costs more
// than the split saves (measured: MLP 784-128-10, 2 threads: the 128x10 layer at batch 32,
// 41k multiply-adds, is slower split; the 784x128 one, 3.2M, is faster).
constexpr std::size_t kMinParallelMacs = std::size_t{1} << 18;
// The same for an elementwise pass (the activation's derivative): a few cycles per element.
constexpr std::size_t kMinParallelElements = std::size_t{1} << 16;

void sgemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda,
           const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, int(m), int(n),
              int(k), 1.f, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

}  // namespace

Dense::Dense(Config& config)
    : units_(config.require<std::size_t>("units")),
      activation_(parse_activation(config.raw("activation"), "Dense")),
      use_bias_(config.get<bool>("use_bias", true)),
      kernel_init_(Initializer::from_json(config.has("kernel_initializer") ? config.raw("kernel_initializer")
                                                                              : Json("glorot_uniform"))),
      bias_init_(Initializer::from_json(config.has("bias_initializer") ? config.raw("bias_initializer")
                                                                          : Json("zeros"))) {
  if (units_ == 0) throw InputError("Dense: \"units\" must be a positive integer");
  accept_keras_layer_options(config);
  reject_keras_extras(config, {"kernel_regularizer", "bias_regularizer", "activity_regularizer",
                               "kernel_constraint", "bias_constraint"});
}

Shape Dense::build(const Shape& input_shape, BuildContext& ctx) {
  if (input_shape.size() != 1)
    throw InputError("layer \"" + name() + "\" (Dense) expects input of shape (None, features), got " +
                     shape_str(input_shape) + "; put a Flatten layer before it");
  inputs_ = input_shape[0];
  kernel_ = &ctx.add_weight("kernel", {inputs_, units_}, kernel_init_);
  if (use_bias_) bias_ = &ctx.add_weight("bias", {units_}, bias_init_);
  return {units_};
}

// Every split below gives each chunk disjoint outputs: rows of the batch for y = xW and
// dx = dz W^T, rows of W for dW = x^T dz (each over the whole batch). A fixed thread count gives
// the same bits every run; across thread counts only to rounding, since OpenBLAS may sum a row
// in another order when the GEMM it sits in has another number of rows (its Haswell kernels do
// on AVX-512 CPUs; its SkylakeX ones did not, in this project's tests).
const Tensor& Dense::forward(const Tensor& x, bool /*training*/) {
  const std::size_t batch = x.shape()[0];
  x_ = &x;
  y_.resize({batch, units_});
  const bool keep_input = activation_needs_input(activation_);
  if (keep_input) z_.resize({batch, units_});
  const float* in = x.data();
  const float* kernel = kernel_->value_data;
  float* y = y_.data();
  float* z = keep_input ? z_.data() : nullptr;
  auto rows = [&](std::size_t begin, std::size_t end, int) {
    float* out = y + begin * units_;
    const std::size_t count = end - begin;
    if (use_bias_)
      for (std::size_t r = 0; r < count; ++r) std::copy_n(bias_->value_data, units_, out + r * units_);
    sgemm(false, false, count, units_, inputs_, in + begin * inputs_, inputs_, kernel, units_, use_bias_ ? 1.f : 0.f,
          out, units_);
    if (z) std::copy_n(out, count * units_, z + begin * units_);
    activation_forward(activation_, out, count, units_);
  };
  if (batch * inputs_ * units_ >= kMinParallelMacs) parallel_for(batch, rows);
  else rows(0, batch, 0);
  return y_;
}

const Tensor& Dense::backward(const Tensor& dy) {
  const std::size_t batch = dy.shape()[0];
  const bool parallel = batch * inputs_ * units_ >= kMinParallelMacs;
  const float* dz = dy.data();
  if (!softmax_fused_ && activation_ != ActivationKind::linear) {
    dz_.resize({batch, units_});
    const float* z = activation_needs_input(activation_) ? z_.data() : nullptr;
    const float* y = y_.data();
    const float* d = dy.data();
    float* out = dz_.data();
    auto rows = [&](std::size_t begin, std::size_t end, int) {
      const std::size_t at = begin * units_;
      activation_backward(activation_, z ? z + at : nullptr, y + at, d + at, out + at, end - begin, units_);
    };
    if (batch * units_ >= kMinParallelElements) parallel_for(batch, rows);
    else rows(0, batch, 0);
    dz = out;
  }
  const float* in = x_->data();
  float* grad = kernel_->grad_data;
  auto kernel_rows = [&](std::size_t begin, std::size_t end, int) {
    sgemm(true, false, end - begin, units_, batch, in + begin, inputs_, dz, units_, 0.f, grad + begin * units_,
          units_);
  };
  if (parallel) parallel_for(inputs_, kernel_rows);
  else kernel_rows(0, inputs_, 0);
  if (use_bias_) {
    float* __restrict gb = bias_->grad_data;
    const float* __restrict d = dz;
    std::fill_n(gb, units_, 0.f);
    for (std::size_t r = 0; r < batch; ++r)
      for (std::size_t c = 0; c < units_; ++c) gb[c] += d[r * units_ + c];
  }
  if (needs_input_gradient()) {
    dx_.resize({batch, inputs_});
    const float* kernel = kernel_->value_data;
    float* dx = dx_.data();
    auto rows = [&](std::size_t begin, std::size_t end, int) {
      sgemm(false, true, end - begin, inputs_, units_, dz + begin * units_, units_, kernel, units_, 0.f,
            dx + begin * inputs_, inputs_);
    };
    if (parallel) parallel_for(batch, rows);
    else rows(0, batch, 0);
  }
  return dx_;
}

bool Dense::fuse_softmax_backward() {
  softmax_fused_ = activation_ == ActivationKind::softmax;
  return softmax_fused_;
}

Json Dense::get_config() const {
  return {{"name", name()},
          {"units", units_},
          {"activation", activation_name(activation_)},
          {"use_bias", use_bias_},
          {"kernel_initializer", kernel_init_.to_json()},
          {"bias_initializer", bias_init_.to_json()}};
}

}  // namespace plugfit
