// The recurrent layers' options, weights and the sequence loop around the per-step cells
// (recurrent_cells.cpp). One GEMM projects the inputs of all steps; the weights' gradients are one
// GEMM each over all steps at the end. With threads, each thread owns a range of batch rows
// through the whole sequence (rows never interact), and the weight gradients split by columns.
// The products run on recurrent_step_gemm.hpp's kernel, which sums every element in one order:
// results are then the same bits for any thread count (OpenBLAS's fallback may differ by rounding).
#include "recurrent.hpp"

#include <algorithm>

#include "keras_options.hpp"
#include "recurrent_step_gemm.hpp"
#include "spatial_options.hpp"
#include "util/parallel.hpp"

namespace plugfit {

namespace {

Initializer initializer_or(Config& config, const char* key, const char* fallback) {
  return Initializer::from_json(config.has(key) ? config.raw(key) : Json(fallback));
}

ActivationKind elementwise_activation(Config& config, const char* key, const char* fallback, const std::string& where) {
  const ActivationKind kind = parse_activation(config.has(key) ? config.raw(key) : Json(fallback), where);
  if (activation_is_rowwise(kind))
    throw InputError(where + ": \"" + key + "\" must be an elementwise activation, got \"" + activation_name(kind) + "\"");
  return kind;
}

float dropout_rate(Config& config, const char* key, const std::string& where) {
  const float rate = config.get<float>(key, 0.f);
  if (!(rate >= 0.f && rate < 1.f)) throw InputError(where + ": \"" + key + "\" must be in [0, 1), got " + std::to_string(rate));
  return rate;
}

}  // namespace

Recurrent::Recurrent(Config& config, Cell cell, const char* class_name)
    : cell_(cell), class_name_(class_name) {
  const std::string where = layer_label(config, class_name);
  units_ = config.require<std::size_t>("units");
  if (units_ == 0) throw InputError(where + ": \"units\" must be a positive integer");
  activation_ = elementwise_activation(config, "activation", "tanh", where);
  recurrent_activation_ = cell == Cell::simple ? ActivationKind::sigmoid
                                               : elementwise_activation(config, "recurrent_activation", "sigmoid", where);
  use_bias_ = config.get<bool>("use_bias", true);
  return_sequences_ = config.get<bool>("return_sequences", false);
  go_backwards_ = config.get<bool>("go_backwards", false);
  if (config.get<bool>("return_state", false))
    throw InputError(where + ": \"return_state\" true is not supported, since a Sequential model passes only the output on");
  if (config.get<bool>("stateful", false))
    throw InputError(where + ": \"stateful\" true is not supported; every batch starts from a zero state");
  if (config.get<bool>("time_major", false))
    throw InputError(where + ": \"time_major\" true is not supported; inputs are (batch, steps, features)");
  unroll_ = config.get<bool>("unroll", false);  // Keras's graph optimization: the same numbers either way
  implementation_ = 2;
  if (cell != Cell::simple) {
    implementation_ = config.get<int>("implementation", 2);
    if (implementation_ != 1 && implementation_ != 2)
      throw InputError(where + ": \"implementation\" must be 1 or 2, got " + std::to_string(implementation_));
  }
  unit_forget_bias_ = cell == Cell::lstm && config.get<bool>("unit_forget_bias", true);
  reset_after_ = cell == Cell::gru && config.get<bool>("reset_after", true);
  dropout_ = dropout_rate(config, "dropout", where);
  recurrent_dropout_ = dropout_rate(config, "recurrent_dropout", where);
  if (config.has("seed") && !config.raw("seed").is_null())
    throw InputError(where + ": the option \"seed\" is not supported; the run's seed fixes dropout");
  kernel_init_ = initializer_or(config, "kernel_initializer", "glorot_uniform");
  recurrent_init_ = initializer_or(config, "recurrent_initializer", "orthogonal");
  bias_init_ = initializer_or(config, "bias_initializer", "zeros");
  if (config.has("use_cudnn")) {  // a GPU choice of Keras 3's TensorFlow backend: "auto", true or false
    const Json& v = config.raw("use_cudnn");
    if (!(v.is_boolean() || v == "auto"))
      throw InputError(where + ": \"use_cudnn\" must be \"auto\", true or false, got " + json_excerpt(v));
  }
  accept_keras_layer_options(config);
  reject_keras_extras(config, {"kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                               "activity_regularizer", "kernel_constraint", "recurrent_constraint",
                               "bias_constraint"});
}

std::string Recurrent::label() const { return layer_label(name(), class_name_); }

Shape Recurrent::build(const Shape& input_shape, BuildContext& ctx) {
  if (input_shape.size() != 2)
    throw InputError(label() + " expects input of shape (None, steps, features), got " + shape_str(input_shape));
  steps_ = input_shape[0];
  features_ = input_shape[1];
  if (steps_ == 0 || features_ == 0)
    throw InputError(label() + " needs at least one step and one feature, got input " + shape_str(input_shape));
  const std::size_t width = gates() * units_;
  kernel_ = &ctx.add_weight("kernel", {features_, width}, kernel_init_);
  recurrent_ = &ctx.add_weight("recurrent_kernel", {units_, width}, recurrent_init_);
  if (use_bias_) {
    if (reset_after_) bias_ = &ctx.add_weight("bias", {2, width}, bias_init_);
    else if (unit_forget_bias_) bias_ = &ctx.add_weight("bias", {width}, bias_init_.with_unit_forget_bias(units_));
    else bias_ = &ctx.add_weight("bias", {width}, bias_init_);
  }
  samples_ = &ctx.sample_streams();
  if (return_sequences_) return {steps_, units_};
  return {units_};
}

void Recurrent::draw_dropout_masks(std::size_t batch) {
  // A sample's stream draws its input mask, then its state mask.
  auto draw_row = [](Rng& rng, float* mask, std::size_t cols, float rate) {
    const float keep_scale = 1.f / (1.f - rate);
    for (std::size_t i = 0; i < cols; ++i) mask[i] = rng.uniform() >= rate ? keep_scale : 0.f;
  };
  if (input_dropped_) input_mask_drop_.resize({batch, features_});
  if (state_dropped_) state_mask_drop_.resize({batch, units_});
  const SampleStreams::Batch draws = samples_->next_batch();
  for (std::size_t n = 0; n < batch; ++n) {
    Rng rng = draws.row(n);
    if (input_dropped_) draw_row(rng, input_mask_drop_.data() + n * features_, features_, dropout_);
    if (state_dropped_) draw_row(rng, state_mask_drop_.data() + n * units_, units_, recurrent_dropout_);
  }
}

const float* Recurrent::state_in(std::size_t s) const {
  return (state_dropped_ ? hd_.data() : h_.data()) + s * batch_ * units_;
}

bool Recurrent::split_rows() const {
  // A thread's share is a whole sequence of rows, so one dispatch pays for many GEMMs; below
  // about 2^18 multiply-adds per batch it does not pay at all.
  return threads() > 1 && batch_ > 1 && batch_ * steps_ * units_ * gates() * units_ >= (std::size_t{1} << 18);
}

namespace {

// body(begin, end, chunk) over [0, n): split across the threads or in one piece.
template <class Body>
void maybe_parallel(bool split, std::size_t n, Body&& body) {
  if (split) parallel_for(n, body);
  else body(0, n, 0);
}

}  // namespace

const Tensor& Recurrent::forward(const Tensor& x, bool training) {
  return run_sequence(x, input_mask(), training, go_backwards_);
}

const Tensor& Recurrent::backward(const Tensor& dy) { return backprop_sequence(dy); }

void Recurrent::run_rows(std::size_t b, std::size_t e) {
  const std::size_t N = batch_, U = units_;
  for (std::size_t s = 0; s < steps_; ++s) {
    if (state_dropped_) {
      const float* h = h_.data() + (s * N + b) * U;
      float* hd = hd_.data() + (s * N + b) * U;
      const float* m = state_mask_drop_.data() + b * U;
      for (std::size_t i = 0; i < (e - b) * U; ++i) hd[i] = h[i] * m[i];
    }
    switch (cell_) {
      case Cell::simple: step_simple(s, b, e); break;
      case Cell::lstm: step_lstm(s, b, e); break;
      case Cell::gru: step_gru(s, b, e); break;
    }
  }
}

const Tensor& Recurrent::run_sequence(const Tensor& x, const Tensor* mask, bool training, bool reversed) {
  if (x.dimension() != 3 || x.shape()[1] != steps_ || x.shape()[2] != features_)
    throw InputError(label() + " expects input of shape (None, " + std::to_string(steps_) + ", " +
                     std::to_string(features_) + "), got " + shape_str(Shape(x.shape().begin(), x.shape().end())));
  const std::size_t N = x.shape()[0], T = steps_, F = features_, U = units_, GU = gates() * U;
  if (mask && (mask->dimension() != 2 || mask->shape()[0] != N || mask->shape()[1] != T))
    throw InputError(label() + ": the input mask must be (batch, steps) = (" + std::to_string(N) + ", " +
                     std::to_string(T) + ")");
  batch_ = N;
  reversed_ = reversed;
  has_mask_ = mask != nullptr;
  input_dropped_ = training && dropout_ > 0.f;
  state_dropped_ = training && recurrent_dropout_ > 0.f;
  draw_dropout_masks(N);

  xs_.resize({T, N, F});
  if (has_mask_) step_mask_.resize({T, N});
  for (std::size_t s = 0; s < T; ++s) {
    const std::size_t t = reversed ? T - 1 - s : s;
    for (std::size_t n = 0; n < N; ++n) {
      const float* src = x.data() + (n * T + t) * F;
      float* dst = xs_.data() + (s * N + n) * F;
      if (input_dropped_) {
        const float* m = input_mask_drop_.data() + n * F;
        for (std::size_t f = 0; f < F; ++f) dst[f] = src[f] * m[f];
      } else {
        std::copy_n(src, F, dst);
      }
      if (has_mask_) step_mask_.data()[s * N + n] = mask->data()[n * T + t];
    }
  }
  pre_.resize({T, N, GU});
  act_.resize({T, N, GU});
  h_.resize({T + 1, N, U});
  std::fill_n(h_.data(), N * U, 0.f);
  if (state_dropped_) hd_.resize({T, N, U});
  if (cell_ == Cell::lstm) {
    c_.resize({T + 1, N, U});
    std::fill_n(c_.data(), N * U, 0.f);
    cc_.resize({T, N, U});
    ac_.resize({T, N, U});
  }
  if (cell_ == Cell::gru) rec_.resize({T, N, GU});
  if (cell_ == Cell::gru && !reset_after_) rh_.resize({T, N, U});

  // The input projection of every step at once: pre = xs @ kernel + input bias, split by rows.
  const bool split = split_rows();
  float* pre = pre_.data();
  maybe_parallel(split, T * N, [&](std::size_t r0, std::size_t r1, int) {
    if (use_bias_)
      for (std::size_t r = r0; r < r1; ++r) std::copy_n(bias_->value_data, GU, pre + r * GU);
    step_gemm(r1 - r0, GU, F, xs_.data() + r0 * F, F, kernel_->value_data, GU, use_bias_ ? 1.f : 0.f, pre + r0 * GU,
              GU);
  });
  // Then each thread carries its batch rows through all the steps.
  maybe_parallel(split, N, [&](std::size_t b, std::size_t e, int) { run_rows(b, e); });
  if (return_sequences_) {
    y_.resize({N, T, U});
    for (std::size_t s = 0; s < T; ++s)
      for (std::size_t n = 0; n < N; ++n)
        std::copy_n(h_.data() + ((s + 1) * N + n) * U, U, y_.data() + (n * T + s) * U);
  } else {
    y_.resize({N, U});
    std::copy_n(h_.data() + T * N * U, N * U, y_.data());
  }
  return y_;
}

void Recurrent::backprop_rows(const Tensor& dy, std::size_t b, std::size_t e) {
  const std::size_t T = steps_, U = units_;
  float* dh = dh_.data();
  for (std::size_t s = T; s-- > 0;) {
    if (return_sequences_) {
      for (std::size_t n = b; n < e; ++n) {
        const float* d = dy.data() + (n * T + s) * U;
        for (std::size_t j = 0; j < U; ++j) dh[n * U + j] += d[j];
      }
    } else if (s == T - 1) {
      std::copy_n(dy.data() + b * U, (e - b) * U, dh + b * U);
    }
    switch (cell_) {
      case Cell::simple: back_simple(s, b, e); break;
      case Cell::lstm: back_lstm(s, b, e); break;
      case Cell::gru: back_gru(s, b, e); break;
    }
  }
}

void Recurrent::weight_gradient_columns(std::size_t c0, std::size_t c1) {
  const std::size_t rows = steps_ * batch_, F = features_, U = units_, GU = gates() * U;
  const float* dpre = dpre_.data();
  const float* drec = reset_after_ ? drec_.data() : dpre;
  const float* states = state_dropped_ ? hd_.data() : h_.data();  // h_[0..T-1]: the steps' inputs
  step_gemm(true, F, c1 - c0, rows, xs_.data(), F, dpre + c0, GU, 0.f, kernel_->grad_data + c0, GU);
  float* dR = recurrent_->grad_data;
  if (cell_ == Cell::gru && !reset_after_) {  // the candidate's columns multiply r * h, not h
    const std::size_t mid = std::clamp(2 * U, c0, c1);
    if (mid > c0) step_gemm(true, U, mid - c0, rows, states, U, drec + c0, GU, 0.f, dR + c0, GU);
    if (c1 > mid) step_gemm(true, U, c1 - mid, rows, rh_.data(), U, drec + mid, GU, 0.f, dR + mid, GU);
  } else {
    step_gemm(true, U, c1 - c0, rows, states, U, drec + c0, GU, 0.f, dR + c0, GU);
  }
  if (use_bias_) {
    float* gb = bias_->grad_data;
    std::fill(gb + c0, gb + c1, 0.f);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = c0; c < c1; ++c) gb[c] += dpre[r * GU + c];
    if (reset_after_) {
      std::fill(gb + GU + c0, gb + GU + c1, 0.f);
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = c0; c < c1; ++c) gb[GU + c] += drec[r * GU + c];
    }
  }
}

const Tensor& Recurrent::backprop_sequence(const Tensor& dy) {
  const std::size_t N = batch_, T = steps_, F = features_, U = units_, GU = gates() * U;
  dh_.resize({N, U});
  dhd_.resize({N, U});
  dtmp_.resize({N, U});
  dgate_.resize({N, GU});
  dpre_.resize({T, N, GU});
  std::fill(dh_.begin(), dh_.end(), 0.f);
  if (cell_ == Cell::lstm) {
    dc_.resize({N, U});
    std::fill(dc_.begin(), dc_.end(), 0.f);
  }
  if (reset_after_) drec_.resize({T, N, GU});
  rt_.resize({GU, U});  // the backward steps multiply by R^T: laid out once, not packed per step
  const float* R = recurrent_->value_data;
  for (std::size_t u = 0; u < U; ++u)
    for (std::size_t c = 0; c < GU; ++c) rt_.data()[c * U + u] = R[u * GU + c];
  const bool split = split_rows();
  maybe_parallel(split, N, [&](std::size_t b, std::size_t e, int) { backprop_rows(dy, b, e); });
  // The weights' gradients over all steps at once, split by columns, in blocks of the step
  // kernel's 64 when the width allows: each column's sum then runs over the same rows in the same
  // order whatever the split.
  const std::size_t block = GU % 64 == 0 ? 64 : 1;
  maybe_parallel(split, GU / block, [&](std::size_t c0, std::size_t c1, int) {
    weight_gradient_columns(c0 * block, c1 * block);
  });
  if (needs_input_gradient()) {
    dxs_.resize({T, N, F});
    maybe_parallel(split, T * N, [&](std::size_t r0, std::size_t r1, int) {
      sgemm(false, true, r1 - r0, F, GU, dpre_.data() + r0 * GU, GU, kernel_->value_data, GU, 0.f,
            dxs_.data() + r0 * F, F);
    });
    dx_.resize({N, T, F});
    for (std::size_t s = 0; s < T; ++s) {
      const std::size_t t = reversed_ ? T - 1 - s : s;
      for (std::size_t n = 0; n < N; ++n) {
        const float* src = dxs_.data() + (s * N + n) * F;
        float* dst = dx_.data() + (n * T + t) * F;
        if (input_dropped_) {
          const float* m = input_mask_drop_.data() + n * F;
          for (std::size_t f = 0; f < F; ++f) dst[f] = src[f] * m[f];
        } else {
          std::copy_n(src, F, dst);
        }
      }
    }
  }
  return dx_;
}

Json Recurrent::get_config() const {
  Json config = {{"name", name()},
                 {"units", units_},
                 {"activation", activation_name(activation_)},
                 {"use_bias", use_bias_},
                 {"return_sequences", return_sequences_},
                 {"return_state", false},
                 {"go_backwards", go_backwards_},
                 {"stateful", false},
                 {"unroll", unroll_},
                 {"kernel_initializer", kernel_init_.to_json()},
                 {"recurrent_initializer", recurrent_init_.to_json()},
                 {"bias_initializer", bias_init_.to_json()},
                 {"dropout", dropout_},
                 {"recurrent_dropout", recurrent_dropout_}};
  if (cell_ != Cell::simple) {
    config["recurrent_activation"] = activation_name(recurrent_activation_);
    config["implementation"] = implementation_;
  }
  if (cell_ == Cell::lstm) config["unit_forget_bias"] = unit_forget_bias_;
  if (cell_ == Cell::gru) config["reset_after"] = reset_after_;
  return config;
}

}  // namespace plugfit
