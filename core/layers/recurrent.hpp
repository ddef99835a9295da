// SimpleRNN, LSTM and GRU as Keras 3 defines them (keras/src/layers/rnn/{simple_rnn,lstm,gru}.py),
// with Keras's option names and defaults and its weights: "kernel" (features, G * units),
// "recurrent_kernel" (units, G * units), "bias" (G * units), or (2, 3 * units) for GRU with
// reset_after; gates in Keras's order (LSTM i, f, c, o; GRU z, r, h).
//
// requires: input (None, steps, features). Output (None, units), or (None, steps, units) with
// return_sequences. A mask (mask_support use) skips steps: a masked step carries the state and
// the output over (Keras's zero_output_for_mask false). go_backwards processes the steps last to
// first and, with return_sequences, returns the outputs in processing order (reversed), as Keras.
// dropout / recurrent_dropout (training only) draw ONE mask per batch for the inputs and one for
// the state, reused at every step (keras/src/layers/rnn/dropout_rnn_cell.py), from the model's rng.
//
// The sequence runs through run_sequence()/backprop_sequence(), which a wrapper (Bidirectional)
// can drive with its own mask and direction.
#pragma once

#include <plugfit/layer.hpp>

#include "activations.hpp"

namespace plugfit {

class Recurrent : public Layer {
 public:
  enum class Cell { simple, lstm, gru };

  Shape build(const Shape& input_shape, BuildContext& ctx) override;
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Json get_config() const override;
  MaskSupport mask_support() const override { return MaskSupport::use; }
  const Tensor* output_mask() const override { return return_sequences_ ? input_mask() : nullptr; }

  // The whole sequence: x (N, T, F), mask (N, T) or nullptr, reversed: process the steps last to
  // first. Returns (N, U), or (N, T, U) in processing order with return_sequences. Valid until
  // the next call; backprop_sequence(dy) then returns d(loss)/dx and writes the weights' gradients.
  const Tensor& run_sequence(const Tensor& x, const Tensor* mask, bool training, bool reversed);
  const Tensor& backprop_sequence(const Tensor& dy);

  bool go_backwards() const { return go_backwards_; }
  bool return_sequences() const { return return_sequences_; }
  std::size_t units() const { return units_; }

 protected:
  Recurrent(Config& config, Cell cell, const char* class_name);

 private:
  std::size_t gates() const { return cell_ == Cell::lstm ? 4 : cell_ == Cell::gru ? 3 : 1; }
  std::string label() const;
  void draw_dropout_masks(std::size_t batch);
  // One step s of the processing order (forward) and its gradient (backward), per cell, on the
  // batch rows [b, e) (recurrent_cells.cpp).
  void step_simple(std::size_t s, std::size_t b, std::size_t e);
  void step_lstm(std::size_t s, std::size_t b, std::size_t e);
  void step_gru(std::size_t s, std::size_t b, std::size_t e);
  void back_simple(std::size_t s, std::size_t b, std::size_t e);
  void back_lstm(std::size_t s, std::size_t b, std::size_t e);
  void back_gru(std::size_t s, std::size_t b, std::size_t e);
  void add_state_gradient(std::size_t b, std::size_t e);
  // The whole sequence of the rows [b, e), forward and backward.
  void run_rows(std::size_t b, std::size_t e);
  void backprop_rows(const Tensor& dy, std::size_t b, std::size_t e);
  // The weights' gradients of the columns [c0, c1) of the gate width, summed over steps and rows.
  void weight_gradient_columns(std::size_t c0, std::size_t c1);
  // Whether the batch is worth splitting across threads (a split gives each thread whole rows).
  bool split_rows() const;
  // h_{s} as the recurrent GEMM sees it: with recurrent dropout, times the state mask.
  const float* state_in(std::size_t s) const;
  float mask_at(std::size_t s, std::size_t n) const { return has_mask_ ? step_mask_.data()[s * batch_ + n] : 1.f; }

  Cell cell_;
  const char* class_name_;
  std::size_t units_;
  ActivationKind activation_, recurrent_activation_;
  bool use_bias_, return_sequences_, go_backwards_, unroll_, unit_forget_bias_, reset_after_;
  int implementation_;
  float dropout_, recurrent_dropout_;
  Initializer kernel_init_, recurrent_init_, bias_init_;

  std::size_t features_ = 0, steps_ = 0, batch_ = 0;
  Weight* kernel_ = nullptr;
  Weight* recurrent_ = nullptr;
  Weight* bias_ = nullptr;
  SampleStreams* samples_ = nullptr;

  // Time-major buffers in processing order, so a step's (N, ...) slice is contiguous.
  bool has_mask_ = false, input_dropped_ = false, state_dropped_ = false, reversed_ = false;
  Tensor xs_;         // (T, N, F) inputs, dropout applied
  Tensor pre_;        // (T, N, G*U) gate pre-activations
  Tensor act_;        // (T, N, G*U) gate activations
  Tensor rec_;        // GRU: (T, N, 3U) state projection (+ recurrent bias); its h block r-free
  Tensor rh_;         // GRU reset_after false: (T, N, U) r * h_prev, the input of R_h
  Tensor h_, c_;      // (T+1, N, U) carried states (c: LSTM)
  Tensor hd_;         // (T, N, U) h_prev times the state dropout mask (recurrent dropout only)
  Tensor cc_, ac_;    // LSTM (T, N, U): the step's candidate cell and activation(candidate)
  Tensor step_mask_;  // (T, N)
  Tensor input_mask_drop_, state_mask_drop_;  // (N, F), (N, U): keep / (1 - rate) or 0
  Tensor y_;
  // Backward.
  Tensor dpre_, drec_;   // (T, N, G*U): d/d(pre-activations), input side and state side
  Tensor dh_, dc_, dhd_, dtmp_;  // (N, U): d/dh and d/dc carried back, GEMM output, scratch
  Tensor dgate_;                 // (N, G*U): d/d(gate activations) of one step
  Tensor rt_;                    // (G*U, U): recurrent_kernel transposed once per batch, for d h
  Tensor dxs_, dx_;
};

class SimpleRNN final : public Recurrent {
 public:
  explicit SimpleRNN(Config& config) : Recurrent(config, Cell::simple, "SimpleRNN") {}
};
class LSTM final : public Recurrent {
 public:
  explicit LSTM(Config& config) : Recurrent(config, Cell::lstm, "LSTM") {}
};
class GRU final : public Recurrent {
 public:
  explicit GRU(Config& config) : Recurrent(config, Cell::gru, "GRU") {}
};

}  // namespace plugfit
