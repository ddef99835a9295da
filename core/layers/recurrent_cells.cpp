// One step of each recurrent cell, forward and backward, on the time-major buffers of
// recurrent.hpp. Step s reads h_[s] (c_[s]) and writes h_[s+1] (c_[s+1]); a masked row carries
// the state over. Backward, dh_ (dc_) hold d(loss)/d h_[s+1] on entry and d h_[s] on exit.
#include <algorithm>

#include "recurrent.hpp"
#include "recurrent_gemm.hpp"

namespace plugfit {

namespace {

// f over `width` columns from `offset` in each of `rows` rows of a (rows, stride) buffer.
void activate_block(ActivationKind kind, float* buffer, std::size_t rows, std::size_t stride, std::size_t offset,
                    std::size_t width) {
  for (std::size_t n = 0; n < rows; ++n) activation_forward(kind, buffer + n * stride + offset, 1, width);
}

// dpre = dact * f'(pre) over the same block.
void derive_block(ActivationKind kind, const float* pre, const float* act, const float* dact, float* dpre,
                  std::size_t rows, std::size_t stride, std::size_t offset, std::size_t width) {
  for (std::size_t n = 0; n < rows; ++n) {
    const std::size_t o = n * stride + offset;
    activation_backward(kind, pre + o, act + o, dact + o, dpre + o, 1, width);
  }
}

}  // namespace

void Recurrent::step_simple(std::size_t s, std::size_t N) {
  const std::size_t U = units_;
  float* pre = pre_.data() + s * N * U;
  float* act = act_.data() + s * N * U;
  sgemm(false, false, N, U, U, state_in(s, N), U, recurrent_->value_data, U, 1.f, pre, U);
  std::copy_n(pre, N * U, act);
  activation_forward(activation_, act, N, U);
  const float* h_prev = h_.data() + s * N * U;
  float* h_next = h_.data() + (s + 1) * N * U;
  for (std::size_t n = 0; n < N; ++n) {
    const float* from = mask_at(s, n) > 0.f ? act + n * U : h_prev + n * U;
    std::copy_n(from, U, h_next + n * U);
  }
}

void Recurrent::back_simple(std::size_t s, std::size_t N) {
  const std::size_t U = units_;
  float* dh = dh_.data();
  float* da = dgate_.data();
  for (std::size_t n = 0; n < N; ++n) {
    const bool real = mask_at(s, n) > 0.f;
    for (std::size_t j = 0; j < U; ++j) {
      const std::size_t i = n * U + j;
      da[i] = real ? dh[i] : 0.f;
      if (real) dh[i] = 0.f;  // a masked step passes d h_[s+1] to h_[s] unchanged
    }
  }
  float* dp = dpre_.data() + s * N * U;
  activation_backward(activation_, pre_.data() + s * N * U, act_.data() + s * N * U, da, dp, N, U);
  sgemm(false, true, N, U, U, dp, U, recurrent_->value_data, U, 0.f, dhd_.data(), U);
  float* dhd = dhd_.data();
  const float* m = state_dropped_ ? state_mask_drop_.data() : nullptr;
  for (std::size_t i = 0; i < N * U; ++i) dh[i] += m ? dhd[i] * m[i] : dhd[i];
}

void Recurrent::step_lstm(std::size_t s, std::size_t N) {
  const std::size_t U = units_, GU = 4 * U;
  float* pre = pre_.data() + s * N * GU;
  float* act = act_.data() + s * N * GU;
  sgemm(false, false, N, GU, U, state_in(s, N), U, recurrent_->value_data, GU, 1.f, pre, GU);
  std::copy_n(pre, N * GU, act);
  activate_block(recurrent_activation_, act, N, GU, 0, 2 * U);  // i, f
  activate_block(activation_, act, N, GU, 2 * U, U);            // c
  activate_block(recurrent_activation_, act, N, GU, 3 * U, U);  // o
  const float* c_prev = c_.data() + s * N * U;
  const float* h_prev = h_.data() + s * N * U;
  float* c_next = c_.data() + (s + 1) * N * U;
  float* h_next = h_.data() + (s + 1) * N * U;
  float* cc = cc_.data() + s * N * U;
  float* ac = ac_.data() + s * N * U;
  for (std::size_t n = 0; n < N; ++n) {
    const float* g = act + n * GU;
    for (std::size_t j = 0; j < U; ++j) cc[n * U + j] = g[U + j] * c_prev[n * U + j] + g[j] * g[2 * U + j];
  }
  std::copy_n(cc, N * U, ac);
  activation_forward(activation_, ac, N, U);
  for (std::size_t n = 0; n < N; ++n) {
    const bool real = mask_at(s, n) > 0.f;
    const float* o = act + n * GU + 3 * U;
    for (std::size_t j = 0; j < U; ++j) {
      const std::size_t i = n * U + j;
      h_next[i] = real ? o[j] * ac[i] : h_prev[i];
      c_next[i] = real ? cc[i] : c_prev[i];
    }
  }
}

void Recurrent::back_lstm(std::size_t s, std::size_t N) {
  const std::size_t U = units_, GU = 4 * U;
  const float* act = act_.data() + s * N * GU;
  const float* c_prev = c_.data() + s * N * U;
  const float* cc = cc_.data() + s * N * U;
  const float* ac = ac_.data() + s * N * U;
  float* dh = dh_.data();
  float* dc = dc_.data();
  float* da = dgate_.data();
  float* dac = dtmp_.data();
  // h = o * f(c): d o and d f(c); a masked row's gradients stay on the carried state.
  for (std::size_t n = 0; n < N; ++n) {
    const bool real = mask_at(s, n) > 0.f;
    const float* o = act + n * GU + 3 * U;
    float* da_o = da + n * GU + 3 * U;
    for (std::size_t j = 0; j < U; ++j) {
      const std::size_t i = n * U + j;
      da_o[j] = real ? dh[i] * ac[i] : 0.f;
      dac[i] = real ? dh[i] * o[j] : 0.f;
      if (real) dh[i] = 0.f;
    }
  }
  float* dcc = dhd_.data();  // scratch until the GEMM below
  activation_backward(activation_, cc, ac, dac, dcc, N, U);
  // c = f * c_prev + i * g.
  for (std::size_t n = 0; n < N; ++n) {
    const bool real = mask_at(s, n) > 0.f;
    const float* g = act + n * GU;
    float* d = da + n * GU;
    for (std::size_t j = 0; j < U; ++j) {
      const std::size_t i = n * U + j;
      if (!real) {
        d[j] = d[U + j] = d[2 * U + j] = 0.f;
        continue;
      }
      const float dct = dc[i] + dcc[i];
      d[j] = dct * g[2 * U + j];
      d[U + j] = dct * c_prev[i];
      d[2 * U + j] = dct * g[j];
      dc[i] = dct * g[U + j];
    }
  }
  const float* pre = pre_.data() + s * N * GU;
  float* dp = dpre_.data() + s * N * GU;
  derive_block(recurrent_activation_, pre, act, da, dp, N, GU, 0, 2 * U);
  derive_block(activation_, pre, act, da, dp, N, GU, 2 * U, U);
  derive_block(recurrent_activation_, pre, act, da, dp, N, GU, 3 * U, U);
  sgemm(false, true, N, U, GU, dp, GU, recurrent_->value_data, GU, 0.f, dhd_.data(), U);
  const float* dhd = dhd_.data();
  const float* m = state_dropped_ ? state_mask_drop_.data() : nullptr;
  for (std::size_t i = 0; i < N * U; ++i) dh[i] += m ? dhd[i] * m[i] : dhd[i];
}

// Keras's GRU: z, r = ra(x W + h R + b); hh = a(x W_h + r * (h R_h + b_rh)) with reset_after, or
// a(x W_h + (r * h) R_h + b_h) without; h' = z * h + (1 - z) * hh.
void Recurrent::step_gru(std::size_t s, std::size_t N) {
  const std::size_t U = units_, GU = 3 * U;
  float* pre = pre_.data() + s * N * GU;
  float* act = act_.data() + s * N * GU;
  float* rec = rec_.data() + s * N * GU;
  const float* h_in = state_in(s, N);
  const float* R = recurrent_->value_data;
  if (reset_after_) {
    if (use_bias_)
      for (std::size_t n = 0; n < N; ++n) std::copy_n(bias_->value_data + GU, GU, rec + n * GU);
    sgemm(false, false, N, GU, U, h_in, U, R, GU, use_bias_ ? 1.f : 0.f, rec, GU);
  } else {
    sgemm(false, false, N, 2 * U, U, h_in, U, R, GU, 0.f, rec, GU);
  }
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t j = 0; j < 2 * U; ++j) {
      pre[n * GU + j] += rec[n * GU + j];
      act[n * GU + j] = pre[n * GU + j];
    }
  activate_block(recurrent_activation_, act, N, GU, 0, 2 * U);
  if (!reset_after_) {
    float* rh = rh_.data() + s * N * U;
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t j = 0; j < U; ++j) rh[n * U + j] = act[n * GU + U + j] * h_in[n * U + j];
    sgemm(false, false, N, U, U, rh, U, R + 2 * U, GU, 0.f, rec + 2 * U, GU);
  }
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t j = 0; j < U; ++j) {
      const std::size_t k = n * GU + 2 * U + j;
      pre[k] += reset_after_ ? act[n * GU + U + j] * rec[k] : rec[k];
      act[k] = pre[k];
    }
  activate_block(activation_, act, N, GU, 2 * U, U);
  const float* h_prev = h_.data() + s * N * U;
  float* h_next = h_.data() + (s + 1) * N * U;
  for (std::size_t n = 0; n < N; ++n) {
    const bool real = mask_at(s, n) > 0.f;
    for (std::size_t j = 0; j < U; ++j) {
      const std::size_t i = n * U + j;
      const float z = act[n * GU + j], hh = act[n * GU + 2 * U + j];
      h_next[i] = real ? z * h_prev[i] + (1.f - z) * hh : h_prev[i];
    }
  }
}

void Recurrent::back_gru(std::size_t s, std::size_t N) {
  const std::size_t U = units_, GU = 3 * U;
  const float* pre = pre_.data() + s * N * GU;
  const float* act = act_.data() + s * N * GU;
  const float* rec = rec_.data() + s * N * GU;
  const float* h_prev = h_.data() + s * N * U;
  const float* h_in = state_in(s, N);
  const float* R = recurrent_->value_data;
  float* dh = dh_.data();
  float* da = dgate_.data();
  float* dp = dpre_.data() + s * N * GU;
  float* dhd = dhd_.data();
  for (std::size_t n = 0; n < N; ++n) {
    const bool real = mask_at(s, n) > 0.f;
    for (std::size_t j = 0; j < U; ++j) {
      const std::size_t i = n * U + j;
      const float z = act[n * GU + j], hh = act[n * GU + 2 * U + j];
      const float d = real ? dh[i] : 0.f;
      da[n * GU + j] = d * (h_prev[i] - hh);
      da[n * GU + 2 * U + j] = d * (1.f - z);
      if (real) dh[i] = d * z;
    }
  }
  derive_block(activation_, pre, act, da, dp, N, GU, 2 * U, U);
  if (reset_after_) {
    float* drec = drec_.data() + s * N * GU;
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t j = 0; j < U; ++j) {
        const std::size_t k = n * GU + 2 * U + j;
        drec[k] = dp[k] * act[n * GU + U + j];
        da[n * GU + U + j] = dp[k] * rec[k];
      }
    derive_block(recurrent_activation_, pre, act, da, dp, N, GU, 0, 2 * U);
    for (std::size_t n = 0; n < N; ++n) std::copy_n(dp + n * GU, 2 * U, drec + n * GU);
    sgemm(false, true, N, U, GU, drec, GU, R, GU, 0.f, dhd, U);
  } else {
    float* drh = dtmp_.data();  // d(loss)/d(r * h)
    sgemm(false, true, N, U, U, dp + 2 * U, GU, R + 2 * U, GU, 0.f, drh, U);
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t j = 0; j < U; ++j) {
        const std::size_t i = n * U + j;
        da[n * GU + U + j] = drh[i] * h_in[i];
        dhd[i] = drh[i] * act[n * GU + U + j];
      }
    derive_block(recurrent_activation_, pre, act, da, dp, N, GU, 0, 2 * U);
    sgemm(false, true, N, U, 2 * U, dp, GU, R, GU, 1.f, dhd, U);
  }
  const float* m = state_dropped_ ? state_mask_drop_.data() : nullptr;
  for (std::size_t i = 0; i < N * U; ++i) dh[i] += m ? dhd[i] * m[i] : dhd[i];
}

}  // namespace plugfit
