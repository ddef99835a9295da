// One step of each recurrent cell, forward and backward, on the batch rows [b, e) of the
// time-major buffers of recurrent.hpp (rows are independent through time, so a thread owns a
// row range for the whole sequence). Step s reads h_[s] (c_[s]) and writes h_[s+1] (c_[s+1]); a
// masked row carries the state over. Backward, dh_ (dc_) hold d(loss)/d h_[s+1] on entry and
// d h_[s] on exit. Each row's gates are activated and combined in one pass while in cache.
#include <algorithm>

#include "recurrent.hpp"
#include "recurrent_gates.hpp"
#include "recurrent_step_gemm.hpp"

namespace plugfit {

namespace gate = recurrent_gates;  // not Recurrent::gates(), the gate count

// d h_[s] += d(state in, dhd_) times the state dropout mask; dh_ holds what reaches h_[s] past
// the recurrent GEMM (a masked row's carried gradient, GRU's z * dh).
void Recurrent::add_state_gradient(std::size_t b, std::size_t e) {
  const std::size_t U = units_;
  float* dh = dh_.data() + b * U;
  const float* dhd = dhd_.data() + b * U;
  const std::size_t n = (e - b) * U;
  if (state_dropped_) {
    const float* m = state_mask_drop_.data() + b * U;
    for (std::size_t i = 0; i < n; ++i) dh[i] += dhd[i] * m[i];
  } else {
    for (std::size_t i = 0; i < n; ++i) dh[i] += dhd[i];
  }
}

void Recurrent::step_simple(std::size_t s, std::size_t b, std::size_t e) {
  const std::size_t N = batch_, U = units_, at = s * N + b;
  float* pre = pre_.data() + at * U;
  float* act = act_.data() + at * U;
  step_gemm(e - b, U, U, state_in(s) + b * U, U, recurrent_->value_data, U, 1.f, pre, U);
  gate::forward(activation_, pre, act, (e - b) * U);
  const float* h_prev = h_.data() + at * U;
  float* h_next = h_.data() + (at + N) * U;
  for (std::size_t n = 0; n < e - b; ++n) {
    const float* from = mask_at(s, b + n) > 0.f ? act + n * U : h_prev + n * U;
    std::copy_n(from, U, h_next + n * U);
  }
}

void Recurrent::back_simple(std::size_t s, std::size_t b, std::size_t e) {
  const std::size_t N = batch_, U = units_, at = s * N + b;
  float* dh = dh_.data() + b * U;
  const float* pre = pre_.data() + at * U;
  const float* act = act_.data() + at * U;
  float* dp = dpre_.data() + at * U;
  for (std::size_t n = 0; n < e - b; ++n) {
    float* d = dh + n * U;
    if (mask_at(s, b + n) > 0.f) {
      gate::backward(activation_, pre + n * U, act + n * U, d, dp + n * U, U);
      std::fill_n(d, U, 0.f);
    } else {
      std::fill_n(dp + n * U, U, 0.f);  // a masked step passes d h_[s+1] to h_[s] unchanged
    }
  }
  step_gemm(e - b, U, U, dp, U, rt_.data(), U, 0.f, dhd_.data() + b * U, U);
  add_state_gradient(b, e);
}

void Recurrent::step_lstm(std::size_t s, std::size_t b, std::size_t e) {
  const std::size_t N = batch_, U = units_, GU = 4 * U, at = s * N + b;
  float* pre = pre_.data() + at * GU;
  float* act = act_.data() + at * GU;
  step_gemm(e - b, GU, U, state_in(s) + b * U, U, recurrent_->value_data, GU, 1.f, pre, GU);
  const float* c_prev = c_.data() + at * U;
  const float* h_prev = h_.data() + at * U;
  float* c_next = c_.data() + (at + N) * U;
  float* h_next = h_.data() + (at + N) * U;
  float* cc = cc_.data() + at * U;
  float* ac = ac_.data() + at * U;
  for (std::size_t n = 0; n < e - b; ++n) {
    const float* p = pre + n * GU;
    float* g = act + n * GU;
    gate::forward(recurrent_activation_, p, g, 2 * U);                // i, f
    gate::forward(activation_, p + 2 * U, g + 2 * U, U);              // candidate
    gate::forward(recurrent_activation_, p + 3 * U, g + 3 * U, U);    // o
    const std::size_t r = n * U;
    for (std::size_t j = 0; j < U; ++j) cc[r + j] = g[U + j] * c_prev[r + j] + g[j] * g[2 * U + j];
    gate::forward(activation_, cc + r, ac + r, U);
    if (mask_at(s, b + n) > 0.f) {
      for (std::size_t j = 0; j < U; ++j) h_next[r + j] = g[3 * U + j] * ac[r + j];
      std::copy_n(cc + r, U, c_next + r);
    } else {
      std::copy_n(h_prev + r, U, h_next + r);
      std::copy_n(c_prev + r, U, c_next + r);
    }
  }
}

void Recurrent::back_lstm(std::size_t s, std::size_t b, std::size_t e) {
  const std::size_t N = batch_, U = units_, GU = 4 * U, at = s * N + b;
  const float* pre = pre_.data() + at * GU;
  const float* act = act_.data() + at * GU;
  const float* c_prev = c_.data() + at * U;
  const float* cc = cc_.data() + at * U;
  const float* ac = ac_.data() + at * U;
  float* dh = dh_.data() + b * U;
  float* dc = dc_.data() + b * U;
  float* dac = dtmp_.data() + b * U;
  float* dcc = dhd_.data() + b * U;  // scratch until the GEMM below
  float* dp = dpre_.data() + at * GU;
  for (std::size_t n = 0; n < e - b; ++n) {
    const std::size_t r = n * U;
    float* dpn = dp + n * GU;
    if (!(mask_at(s, b + n) > 0.f)) {  // the gradients stay on the carried state
      std::fill_n(dpn, GU, 0.f);
      continue;
    }
    const float* g = act + n * GU;
    float* d = dgate_.data() + (b + n) * GU;  // d/d(gate activations)
    // h = o * f(c): d o and d f(c).
    for (std::size_t j = 0; j < U; ++j) {
      d[3 * U + j] = dh[r + j] * ac[r + j];
      dac[r + j] = dh[r + j] * g[3 * U + j];
      dh[r + j] = 0.f;
    }
    gate::backward(activation_, cc + r, ac + r, dac + r, dcc + r, U);
    // c = f * c_prev + i * g.
    for (std::size_t j = 0; j < U; ++j) {
      const float dct = dc[r + j] + dcc[r + j];
      d[j] = dct * g[2 * U + j];
      d[U + j] = dct * c_prev[r + j];
      d[2 * U + j] = dct * g[j];
      dc[r + j] = dct * g[U + j];
    }
    const float* p = pre + n * GU;
    gate::backward(recurrent_activation_, p, g, d, dpn, 2 * U);
    gate::backward(activation_, p + 2 * U, g + 2 * U, d + 2 * U, dpn + 2 * U, U);
    gate::backward(recurrent_activation_, p + 3 * U, g + 3 * U, d + 3 * U, dpn + 3 * U, U);
  }
  step_gemm(e - b, U, GU, dp, GU, rt_.data(), U, 0.f, dhd_.data() + b * U, U);
  add_state_gradient(b, e);
}

// Keras's GRU: z, r = ra(x W + h R + b); hh = a(x W_h + r * (h R_h + b_rh)) with reset_after, or
// a(x W_h + (r * h) R_h + b_h) without; h' = z * h + (1 - z) * hh.
void Recurrent::step_gru(std::size_t s, std::size_t b, std::size_t e) {
  const std::size_t N = batch_, U = units_, GU = 3 * U, at = s * N + b, rows = e - b;
  float* pre = pre_.data() + at * GU;
  float* act = act_.data() + at * GU;
  float* rec = rec_.data() + at * GU;
  const float* h_in = state_in(s) + b * U;
  const float* R = recurrent_->value_data;
  if (reset_after_) {
    if (use_bias_)
      for (std::size_t n = 0; n < rows; ++n) std::copy_n(bias_->value_data + GU, GU, rec + n * GU);
    step_gemm(rows, GU, U, h_in, U, R, GU, use_bias_ ? 1.f : 0.f, rec, GU);
  } else {
    step_gemm(rows, 2 * U, U, h_in, U, R, GU, 0.f, rec, GU);
  }
  for (std::size_t n = 0; n < rows; ++n) {
    float* p = pre + n * GU;
    const float* q = rec + n * GU;
    for (std::size_t j = 0; j < 2 * U; ++j) p[j] += q[j];
    gate::forward(recurrent_activation_, p, act + n * GU, 2 * U);  // z, r
  }
  if (!reset_after_) {
    float* rh = rh_.data() + at * U;
    for (std::size_t n = 0; n < rows; ++n)
      for (std::size_t j = 0; j < U; ++j) rh[n * U + j] = act[n * GU + U + j] * h_in[n * U + j];
    step_gemm(rows, U, U, rh, U, R + 2 * U, GU, 0.f, rec + 2 * U, GU);
  }
  const float* h_prev = h_.data() + at * U;
  float* h_next = h_.data() + (at + N) * U;
  for (std::size_t n = 0; n < rows; ++n) {
    float* p = pre + n * GU + 2 * U;
    float* g = act + n * GU;
    const float* q = rec + n * GU + 2 * U;
    if (reset_after_)
      for (std::size_t j = 0; j < U; ++j) p[j] += g[U + j] * q[j];
    else
      for (std::size_t j = 0; j < U; ++j) p[j] += q[j];
    gate::forward(activation_, p, g + 2 * U, U);
    const std::size_t r = n * U;
    if (mask_at(s, b + n) > 0.f)
      for (std::size_t j = 0; j < U; ++j) h_next[r + j] = g[j] * h_prev[r + j] + (1.f - g[j]) * g[2 * U + j];
    else
      std::copy_n(h_prev + r, U, h_next + r);
  }
}

void Recurrent::back_gru(std::size_t s, std::size_t b, std::size_t e) {
  const std::size_t N = batch_, U = units_, GU = 3 * U, at = s * N + b, rows = e - b;
  const float* pre = pre_.data() + at * GU;
  const float* act = act_.data() + at * GU;
  const float* rec = rec_.data() + at * GU;
  const float* h_prev = h_.data() + at * U;
  const float* h_in = state_in(s) + b * U;
  const float* RT = rt_.data();
  float* dh = dh_.data() + b * U;
  float* da = dgate_.data() + b * GU;
  float* dp = dpre_.data() + at * GU;
  float* dhd = dhd_.data() + b * U;
  for (std::size_t n = 0; n < rows; ++n) {
    const bool real = mask_at(s, b + n) > 0.f;
    const float* g = act + n * GU;
    float* d = da + n * GU;
    const std::size_t r = n * U;
    for (std::size_t j = 0; j < U; ++j) {
      const float dn = real ? dh[r + j] : 0.f;
      d[j] = dn * (h_prev[r + j] - g[2 * U + j]);
      d[2 * U + j] = dn * (1.f - g[j]);
      if (real) dh[r + j] = dn * g[j];
    }
    gate::backward(activation_, pre + n * GU + 2 * U, g + 2 * U, d + 2 * U, dp + n * GU + 2 * U, U);
  }
  if (reset_after_) {
    float* drec = drec_.data() + at * GU;
    for (std::size_t n = 0; n < rows; ++n) {
      const std::size_t o = n * GU;
      for (std::size_t j = 0; j < U; ++j) {
        const std::size_t k = o + 2 * U + j;
        drec[k] = dp[k] * act[o + U + j];
        da[o + U + j] = dp[k] * rec[k];
      }
      gate::backward(recurrent_activation_, pre + o, act + o, da + o, dp + o, 2 * U);
      std::copy_n(dp + o, 2 * U, drec + o);
    }
    step_gemm(rows, U, GU, drec, GU, RT, U, 0.f, dhd, U);
  } else {
    float* drh = dtmp_.data() + b * U;  // d(loss)/d(r * h)
    step_gemm(rows, U, U, dp + 2 * U, GU, RT + 2 * U * U, U, 0.f, drh, U);
    for (std::size_t n = 0; n < rows; ++n) {
      const std::size_t o = n * GU, r = n * U;
      for (std::size_t j = 0; j < U; ++j) {
        da[o + U + j] = drh[r + j] * h_in[r + j];
        dhd[r + j] = drh[r + j] * act[o + U + j];
      }
      gate::backward(recurrent_activation_, pre + o, act + o, da + o, dp + o, 2 * U);
    }
    step_gemm(rows, U, 2 * U, dp, GU, RT, U, 1.f, dhd, U);
  }
  add_state_gradient(b, e);
}

}  // namespace plugfit
