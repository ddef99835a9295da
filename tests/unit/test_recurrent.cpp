// SimpleRNN, LSTM and GRU: inference against torch.nn / numpy references (recurrent_reference.py),
// central-difference gradients through time (sequences, go_backwards, masks, dropout), LSTM with
// swish against float64 autograd, Keras's mask and dropout semantics, the Orthogonal and
// unit_forget_bias initializers, the vectorized gates, threads over batch rows, bad inputs.
#include <doctest/doctest.h>

#include <cmath>
#include <deque>
#include <string>

#include <plugfit/registry.hpp>
#include <plugfit/testing.hpp>

#include "layers/build_context.hpp"
#include "layers/recurrent.hpp"
#include "layers/recurrent_gates.hpp"
#include "layers/recurrent_step_gemm.hpp"
#include "test_support.hpp"
#include "util/parallel.hpp"

using namespace plugfit;
using namespace plugfit::test;

namespace {

constexpr std::size_t N = 2, T = 4, F = 3, U = 2;

// A layer built alone; weights from formulas the reference script repeats (phase 1, 2, 3 for
// kernel, recurrent_kernel, bias), or left to their initializers.
struct BuiltLayer {
  std::unique_ptr<Layer> layer;
  std::deque<Weight> weights;
  std::vector<float> values, grads;
  Rng rng;
  SampleStreams samples{rng};

  BuiltLayer(const std::string& class_name, const Json& config, const Shape& input_shape, bool formula_weights = true,
             std::uint64_t seed = 7)
      : rng(seed) {
    layer = builtins().create_layer(class_name, config);
    layer->set_name("rnn");
    WeightCollector ctx(weights, "rnn", rng, samples);
    layer->build(input_shape, ctx);
    std::size_t total = 0;
    for (auto& w : weights) total += w.size;
    values.resize(total), grads.resize(total);
    std::size_t offset = 0;
    double phase = 1.0;
    for (auto& w : weights) {
      w.bind(values.data() + offset, grads.data() + offset);
      if (formula_weights)
        for (std::size_t i = 0; i < w.size; ++i) w.value_data[i] = float(0.5 * std::sin(0.7 * double(i) + phase));
      else
        w.initializer.fill(w.value_data, w.shape, rng);
      offset += w.size;
      phase += 1.0;
    }
  }
  Weight& weight(const std::string& name) {
    for (auto& w : weights)
      if (w.name == "rnn/" + name) return w;
    FAIL("no weight " << name);
    return weights.front();
  }
};

Tensor reference_input() {
  Tensor x = Tensor::from_shape({N, T, F});
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = float(std::sin(0.3 * double(i)) + 0.1 * std::cos(1.3 * double(i)));
  return x;
}

// python3 tests/unit/recurrent_reference.py (float64 torch / numpy), outputs (2, 4, 2).
const std::vector<float> kLstm = {-0.02722348f, -0.01054762f, -0.02335573f, -0.11281856f, -0.07134466f, -0.19265393f, -0.13794673f, -0.13981130f, -0.11580542f, 0.11460628f, -0.12052662f, 0.14821910f, -0.04954323f, 0.15583276f, -0.03448761f, 0.05547005f};
const std::vector<float> kLstmBackwards = {-0.12510752f, -0.06190920f, -0.10011772f, -0.14604234f, -0.05815880f, -0.15901619f, -0.04591060f, -0.10767249f, -0.00728542f, 0.01548529f, -0.02443063f, 0.12361717f, -0.12414399f, 0.15129289f, -0.13972327f, 0.14749066f};
const std::vector<float> kGru = {-0.12167177f, 0.02890210f, -0.17557130f, 0.05682622f, -0.23858796f, -0.04870767f, -0.26812703f, -0.13178578f, -0.14465826f, -0.07865433f, -0.23125199f, -0.10189626f, -0.23854333f, 0.03286010f, -0.25312621f, 0.08693599f};
const std::vector<float> kGruResetBefore = {-0.09462900f, 0.14465932f, -0.11402530f, 0.21546475f, -0.16194301f, 0.09841338f, -0.17413532f, 0.01666169f, -0.12739806f, 0.00135965f, -0.18827103f, 0.03048195f, -0.16495578f, 0.21007651f, -0.16787274f, 0.26234671f};
// The same script: LSTM with activation swish, d(sum(y * cos(0.9 i)))/d(weights, x) in float64.
const std::vector<float> kSwishKernelGrad = {-6.517254758e-03f, 1.258362282e-02f, -2.992675379e-03f, -1.196882628e-02f, 7.343193279e-03f, 3.692457084e-02f, 3.289365458e-03f, 9.393626368e-03f, -6.756647111e-03f, 3.171076262e-02f, -3.154955046e-03f, -1.849068819e-03f, 2.837218270e-02f, 7.305703881e-02f, 2.742677576e-03f, 2.224308513e-02f, -5.181497288e-03f, 4.234612982e-02f, -2.573807800e-03f, 9.052243175e-03f, 4.697412632e-02f, 8.814232182e-02f, 4.155698830e-03f, 3.367150085e-02f};
const std::vector<float> kSwishRecurrentGrad = {-1.708121854e-04f, 1.514339461e-04f, 2.348070813e-05f, 3.943275838e-06f, 1.857635173e-04f, -1.976213048e-03f, 2.962564904e-05f, 1.643334919e-06f, 5.501640524e-04f, 7.019019501e-04f, 9.010508374e-05f, 1.505513278e-03f, 1.545784159e-03f, 2.951934237e-03f, 1.794240706e-04f, 1.111285719e-03f};
const std::vector<float> kSwishBiasGrad = {-1.570940231e-03f, -2.123395354e-02f, -2.114821938e-03f, -2.761594793e-03f, 7.301622216e-02f, 9.485350066e-02f, -4.085833063e-03f, 9.701651379e-03f};
const std::vector<float> kSwishInputGrad = {-2.578178164e-02f, -5.845288355e-03f, 1.671496925e-02f, 1.537828184e-02f, 1.258754271e-03f, -1.342578812e-02f, -4.538703722e-03f, -1.174635682e-02f, -1.368144338e-02f, -3.375973550e-02f, -1.486659396e-02f, 1.069968948e-02f, 9.188604680e-04f, 7.344180468e-03f, 1.047293108e-02f, 3.615716832e-02f, 8.461079510e-03f, -2.303291920e-02f, -2.893808399e-02f, -1.433442011e-02f, 6.703509730e-03f, -4.010473408e-02f, -1.248997240e-02f, 2.073114125e-02f};
const std::vector<float> kSimpleRnn = {0.07480855f, -0.41590520f, 0.42379272f, -0.23671008f, 0.65013221f, 0.12069092f, 0.59753736f, 0.15717886f, -0.15859363f, -0.16023062f, -0.37495602f, -0.19629045f, -0.45926565f, -0.50834903f, -0.19282699f, -0.42639532f};

void check_against(const std::string& class_name, Json config, const std::vector<float>& want) {
  CAPTURE(class_name);
  CAPTURE(config.dump());
  config["units"] = U;
  config["return_sequences"] = true;
  BuiltLayer built(class_name, config, {T, F});
  const Tensor x = reference_input();
  const Tensor& y = built.layer->forward(x, false);
  REQUIRE(y.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(std::fabs(y.data()[i] - want[i]) < 1e-5f);
  // Without return_sequences: the last output.
  config["return_sequences"] = false;
  BuiltLayer last(class_name, config, {T, F});
  const Tensor& y_last = last.layer->forward(x, false);
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t j = 0; j < U; ++j) CHECK(std::fabs(y_last(n, j) - want[(n * T + T - 1) * U + j]) < 1e-5f);
}

// Row 0 real everywhere, row 1 padded after 2 steps, row 2 after 3 (the checker's batch is 3).
Tensor end_padding_mask(std::size_t steps) {
  Tensor mask = Tensor::from_shape({3, steps});
  for (std::size_t n = 0; n < 3; ++n)
    for (std::size_t t = 0; t < steps; ++t) mask(n, t) = (n == 0 || t < n + 1) ? 1.f : 0.f;
  return mask;
}

void check_gradients(const std::string& class_name, Json config, const Tensor* mask = nullptr, bool training = true,
                     double epsilon = 1e-3) {
  config["units"] = 3;
  auto layer = builtins().create_layer(class_name, config);
  layer->set_input_mask(mask);
  testing::GradientCheckOptions options;
  options.training = training;
  options.epsilon = epsilon;
  const auto result = testing::check_layer_gradients(*layer, {4, 2}, options);
  INFO(class_name << " " << config.dump() << (mask ? " masked" : "") << "\n" << result.report);
  CHECK(result.passed);
}

}  // namespace

TEST_CASE("LSTM, GRU and SimpleRNN inference equals torch.nn and numpy within 1e-5") {
  check_against("LSTM", {{"unit_forget_bias", false}}, kLstm);
  check_against("LSTM", {{"go_backwards", true}}, kLstmBackwards);  // outputs in processing order
  check_against("GRU", Json::object(), kGru);
  check_against("GRU", {{"reset_after", false}}, kGruResetBefore);
  check_against("SimpleRNN", Json::object(), kSimpleRnn);
}

TEST_CASE("gradients through time: sequences, go_backwards, masks, GRU both resets, dropout") {
  const Tensor mask = end_padding_mask(4);
  for (const char* cls : {"LSTM", "GRU", "SimpleRNN"}) {
    for (bool sequences : {false, true})
      for (bool backwards : {false, true}) {
        const Json config = {{"return_sequences", sequences}, {"go_backwards", backwards}};
        check_gradients(cls, config);
        check_gradients(cls, config, &mask);
      }
    check_gradients(cls, {{"dropout", 0.3}, {"recurrent_dropout", 0.4}, {"return_sequences", true}});
    check_gradients(cls, {{"use_bias", false}});
    if (std::string(cls) != "LSTM") check_gradients(cls, {{"activation", "swish"}, {"return_sequences", true}});
  }
  for (bool sequences : {false, true}) {
    check_gradients("GRU", {{"reset_after", false}, {"return_sequences", sequences}});
    check_gradients("GRU", {{"reset_after", false}, {"return_sequences", sequences}}, &mask);
    check_gradients("GRU", {{"reset_after", false}, {"recurrent_dropout", 0.4}, {"dropout", 0.2}});
  }
  check_gradients("LSTM", {{"recurrent_activation", "hard_sigmoid"}, {"return_sequences", true}});
  // LSTM with swish: its gradients equal float64 autograd (the test below); at epsilon 1e-3 the
  // float32 difference quotient on recurrent_kernel, the smallest gradients, is off by up to 2e-3
  // across seeds, 10x less at 1e-2 (rounding noise falls as 1/epsilon), so it is checked at 1e-2.
  for (bool sequences : {false, true})
    for (bool backwards : {false, true}) {
      const Json config = {{"activation", "swish"}, {"return_sequences", sequences}, {"go_backwards", backwards}};
      check_gradients("LSTM", config, nullptr, true, 1e-2);
      check_gradients("LSTM", config, &mask, true, 1e-2);
    }
}

TEST_CASE("a masked step carries the state and the output over, as Keras") {
  for (const char* cls : {"LSTM", "GRU", "SimpleRNN"}) {
    CAPTURE(cls);
    BuiltLayer full(cls, {{"units", U}, {"return_sequences", true}}, {T, F});
    BuiltLayer shorter(cls, {{"units", U}, {"return_sequences", true}}, {2, F});
    const Tensor x = reference_input();
    Tensor mask = Tensor::from_shape({N, T});
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t t = 0; t < T; ++t) mask(n, t) = t < 2 ? 1.f : 0.f;
    full.layer->set_input_mask(&mask);
    const Tensor y = full.layer->forward(x, false);
    CHECK(full.layer->output_mask() == &mask);
    Tensor x2 = Tensor::from_shape({N, 2, F});
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t t = 0; t < 2; ++t)
        for (std::size_t f = 0; f < F; ++f) x2(n, t, f) = x(n, t, f);
    const Tensor& y2 = shorter.layer->forward(x2, false);
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t t = 0; t < T; ++t)
        for (std::size_t j = 0; j < U; ++j) CHECK(y(n, t, j) == y2(n, std::min<std::size_t>(t, 1), j));
    BuiltLayer last(cls, {{"units", U}}, {T, F});
    last.layer->set_input_mask(&mask);
    const Tensor& y_last = last.layer->forward(x, false);
    CHECK(last.layer->output_mask() == nullptr);
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t j = 0; j < U; ++j) CHECK(y_last(n, j) == y2(n, 1, j));
  }
}

TEST_CASE("dropout: one mask per batch for inputs and one for the state, seeded, inference untouched") {
  // Input dropout alone, kernel R = 0, every step the same input: each step's output is the same
  // iff the input mask is reused at every step.
  {
    BuiltLayer built("SimpleRNN", {{"units", 4}, {"dropout", 0.5}, {"return_sequences", true}}, {T, 6});
    std::fill_n(built.weight("recurrent_kernel").value_data, 16, 0.f);
    Tensor x = Tensor::from_shape({5, T, 6});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = float(1 + (i % 6));
    const Tensor& y = built.layer->forward(x, true);
    for (std::size_t n = 0; n < 5; ++n)
      for (std::size_t t = 1; t < T; ++t)
        for (std::size_t j = 0; j < 4; ++j) CHECK(y(n, t, j) == y(n, 0, j));
  }
  // Recurrent dropout alone: linear, kernel 0, bias 1, R = I gives h_t = m * h_{t-1} + 1 with m
  // 0 or 2 per unit: 1, 1, 1, 1 or 1, 3, 7, 15 when the state mask is fixed.
  {
    BuiltLayer built("SimpleRNN", {{"units", 8}, {"activation", "linear"}, {"recurrent_dropout", 0.5},
                                   {"return_sequences", true}}, {T, 1});
    std::fill_n(built.weight("kernel").value_data, 8, 0.f);
    std::fill_n(built.weight("bias").value_data, 8, 1.f);
    float* R = built.weight("recurrent_kernel").value_data;
    for (std::size_t i = 0; i < 64; ++i) R[i] = i % 9 == 0 ? 1.f : 0.f;
    Tensor x = Tensor::from_shape({6, T, 1});
    x.fill(0.f);
    const Tensor& y = built.layer->forward(x, true);
    int kept = 0, dropped = 0;
    for (std::size_t n = 0; n < 6; ++n)
      for (std::size_t j = 0; j < 8; ++j) {
        const bool grows = y(n, 1, j) == 3.f;
        (grows ? kept : dropped) += 1;
        for (std::size_t t = 0; t < T; ++t) CHECK(y(n, t, j) == (grows ? float((2 << t) - 1) : 1.f));
      }
    CHECK(kept > 0);
    CHECK(dropped > 0);
  }
  const Json config = {{"units", 3}, {"dropout", 0.4}, {"recurrent_dropout", 0.4}};
  const Tensor x = reference_input();
  BuiltLayer a("LSTM", config, {T, F}, true, 3), b("LSTM", config, {T, F}, true, 3), c("LSTM", config, {T, F}, true, 4);
  const Tensor ya = a.layer->forward(x, true);
  const Tensor yb = b.layer->forward(x, true);
  const Tensor yc = c.layer->forward(x, true);
  CHECK(ya == yb);
  CHECK(ya != yc);
  BuiltLayer plain("LSTM", {{"units", 3}}, {T, F}, true, 3);
  CHECK(a.layer->forward(x, false) == plain.layer->forward(x, false));
}

TEST_CASE("Keras's weights: names, shapes, Orthogonal and unit_forget_bias") {
  BuiltLayer lstm("LSTM", {{"units", 5}}, {T, F}, false);
  CHECK(lstm.weight("kernel").shape == Shape{F, 20});
  CHECK(lstm.weight("recurrent_kernel").shape == Shape{5, 20});
  const Weight& bias = lstm.weight("bias");
  REQUIRE(bias.shape == Shape{20});
  for (std::size_t i = 0; i < 20; ++i) CHECK(bias.value_data[i] == (i >= 5 && i < 10 ? 1.f : 0.f));
  // Q of Orthogonal: (5, 20) has orthonormal rows.
  const float* q = lstm.weight("recurrent_kernel").value_data;
  for (std::size_t a = 0; a < 5; ++a)
    for (std::size_t b = 0; b < 5; ++b) {
      double dot = 0.0;
      for (std::size_t k = 0; k < 20; ++k) dot += double(q[a * 20 + k]) * q[b * 20 + k];
      CHECK(std::fabs(dot - (a == b ? 1.0 : 0.0)) < 1e-5);
    }
  BuiltLayer gru("GRU", {{"units", 4}, {"recurrent_initializer", {{"class_name", "Orthogonal"}, {"config", {{"gain", 2.0}}}}}},
                 {T, 12}, false);
  CHECK(gru.weight("bias").shape == Shape{2, 12});
  const float* g = gru.weight("recurrent_kernel").value_data;  // (4, 12): rows of norm 2
  for (std::size_t a = 0; a < 4; ++a) {
    double dot = 0.0;
    for (std::size_t k = 0; k < 12; ++k) dot += double(g[a * 12 + k]) * g[a * 12 + k];
    CHECK(std::fabs(dot - 4.0) < 1e-4);
  }
  // A tall matrix (features 30 > columns 12): orthonormal columns.
  BuiltLayer tall("GRU", {{"units", 4}, {"reset_after", false}, {"kernel_initializer", "orthogonal"}}, {T, 30}, false);
  CHECK(tall.weight("bias").shape == Shape{12});
  const float* k = tall.weight("kernel").value_data;
  for (std::size_t a = 0; a < 12; ++a)
    for (std::size_t b = 0; b < 12; ++b) {
      double dot = 0.0;
      for (std::size_t r = 0; r < 30; ++r) dot += double(k[r * 12 + a]) * k[r * 12 + b];
      CHECK(std::fabs(dot - (a == b ? 1.0 : 0.0)) < 1e-5);
    }
}

TEST_CASE("get_config round-trips with Keras's names") {
  for (const char* cls : {"LSTM", "GRU", "SimpleRNN"}) {
    auto layer = builtins().create_layer(cls, {{"units", 3}, {"return_sequences", true}, {"go_backwards", true},
                                               {"dropout", 0.25}, {"unroll", true}});
    layer->set_name("r");
    const Json config = layer->get_config();
    CHECK(config["recurrent_initializer"] == Json({{"class_name", "Orthogonal"}, {"config", {{"gain", 1.0}}}}));
    auto again = builtins().create_layer(cls, config);
    again->set_name("r");
    CHECK(again->get_config() == config);
  }
  auto lstm = builtins().create_layer("LSTM", {{"units", 2}, {"implementation", 1}, {"time_major", false},
                                               {"use_cudnn", "auto"}, {"kernel_regularizer", nullptr}});
  CHECK(lstm->get_config()["implementation"] == 1);
}

TEST_CASE("bad recurrent inputs: one sentence naming the layer") {
  const auto build = [](const char* cls, Json config, const Shape& shape) {
    return error_of([&] { BuiltLayer built(cls, config, shape); });
  };
  CHECK(build("LSTM", {{"units", 2}}, {5}) ==
        "layer \"rnn\" (LSTM) expects input of shape (None, steps, features), got (None, 5)");
  CHECK(build("GRU", {{"units", 2}}, {2, 3, 4}).find("layer \"rnn\" (GRU) expects input of shape") == 0);
  const auto make = [](const char* cls, Json config) {
    return error_of([&] { (void)builtins().create_layer(cls, config); });
  };
  CHECK(make("LSTM", {{"units", 2}, {"stateful", true}, {"name", "enc"}}) ==
        "layer \"enc\" (LSTM): \"stateful\" true is not supported; every batch starts from a zero state");
  CHECK(make("SimpleRNN", {{"units", 2}, {"return_state", true}, {"name", "s"}}) ==
        "layer \"s\" (SimpleRNN): \"return_state\" true is not supported, since a Sequential model passes only "
        "the output on");
  CHECK(make("GRU", {{"units", 2}, {"time_major", true}}).find("\"time_major\" true is not supported") != std::string::npos);
  CHECK(make("GRU", {{"units", 2}, {"recurrent_dropout", 1.0}}).find("\"recurrent_dropout\" must be in [0, 1)") !=
        std::string::npos);
  CHECK(make("LSTM", {{"units", 2}, {"activation", "softmax"}}).find("elementwise") != std::string::npos);
  CHECK(make("LSTM", {{"units", 2}, {"kernel_regularizer", "l2"}}).find("kernel_regularizer") != std::string::npos);
  CHECK(make("SimpleRNN", {{"units", 2}, {"unit_forget_bias", true}}).find("unit_forget_bias") != std::string::npos);
}

TEST_CASE("the vectorized gate sigmoid and tanh equal libm's within 2e-7") {
  double worst_sigmoid = 0.0, worst_tanh = 0.0;
  for (int i = -400000; i <= 400000; ++i) {
    const float x = float(i) * 1e-4f;  // [-40, 40]
    worst_sigmoid = std::max(worst_sigmoid, std::fabs(double(recurrent_gates::sigmoid(x)) - 1.0 / (1.0 + std::exp(-double(x)))));
    worst_tanh = std::max(worst_tanh, std::fabs(double(recurrent_gates::tanh(x)) - std::tanh(double(x))));
  }
  CHECK(worst_sigmoid < 2e-7);
  CHECK(worst_tanh < 2e-7);
  for (float x : {-1e30f, -1e4f, -100.f, 100.f, 1e4f, 1e30f}) {
    CHECK(recurrent_gates::sigmoid(x) == doctest::Approx(x > 0.f ? 1.0 : 0.0).epsilon(1e-7));
    CHECK(recurrent_gates::tanh(x) == (x > 0.f ? 1.f : -1.f));
  }
  CHECK(recurrent_gates::tanh(1e-20f) == 1e-20f);  // no cancellation near 0
  CHECK(recurrent_gates::sigmoid(0.f) == 0.5f);
}

// The LSTM swish case the central-difference check flags on recurrent_kernel (float32 objective,
// epsilon 1e-3): its analytic gradients equal float64 autograd to float precision, so the path
// is right and the flag is the difference quotient's rounding noise on small gradients.
TEST_CASE("LSTM with activation swish: gradients equal float64 autograd") {
  BuiltLayer built("LSTM", {{"units", U}, {"activation", "swish"}, {"return_sequences", true}}, {T, F});
  built.layer->set_needs_input_gradient(true);
  const Tensor x = reference_input();
  (void)built.layer->forward(x, true);
  Tensor g = Tensor::from_shape({N, T, U});
  for (std::size_t i = 0; i < g.size(); ++i) g.data()[i] = float(std::cos(0.9 * double(i)));
  const Tensor dx = built.layer->backward(g);
  // The gradient checker's measure, ||a - b|| / ||a + b||: the checker flags 5e-3 at epsilon 1e-3.
  const auto close = [](const float* got, const std::vector<float>& want, const char* what) {
    double diff = 0.0, sum = 0.0;
    for (std::size_t i = 0; i < want.size(); ++i) {
      diff += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
      sum += (double(got[i]) + want[i]) * (double(got[i]) + want[i]);
    }
    const double relative = std::sqrt(diff / sum);
    MESSAGE(std::string(what) << ": relative error against float64 autograd " << relative);
    CHECK(relative < 1e-5);
  };
  close(built.weight("kernel").grad_data, kSwishKernelGrad, "kernel");
  close(built.weight("recurrent_kernel").grad_data, kSwishRecurrentGrad, "recurrent_kernel");
  close(built.weight("bias").grad_data, kSwishBiasGrad, "bias");
  REQUIRE(dx.size() == kSwishInputGrad.size());
  close(dx.data(), kSwishInputGrad, "input");
}

TEST_CASE("threads over batch rows: bit-identical per thread count, and across counts on the step kernel") {
  // Large enough to be split (recurrent.cpp's threshold); masks, sequences and dropout included.
  constexpr std::size_t n = 12, t = 9, f = 5, u = 64;  // 64: the AVX-512 step kernel's width
  Tensor x = Tensor::from_shape({n, t, f}), dy = Tensor::from_shape({n, t, u}), mask = Tensor::from_shape({n, t});
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = float(std::sin(0.37 * double(i)));
  for (std::size_t i = 0; i < dy.size(); ++i) dy.data()[i] = float(std::cos(0.23 * double(i)));
  for (std::size_t i = 0; i < mask.size(); ++i) mask.data()[i] = i % t < t - (i / t) % 4 ? 1.f : 0.f;  // end padding
  const std::vector<std::pair<std::string, Json>> cases = {{"LSTM", {{"recurrent_dropout", 0.2}}},
                                                          {"GRU", {{"dropout", 0.1}}},
                                                          {"GRU", {{"reset_after", false}, {"go_backwards", true}}},
                                                          {"SimpleRNN", Json::object()}};
  for (const auto& item : cases) {
    const std::string cls = item.first;
    Json config = item.second;
    config["units"] = u;
    config["return_sequences"] = true;
    CAPTURE(cls);
    CAPTURE(config.dump());
    auto run = [&](int threads) {
      set_threads(threads);
      BuiltLayer built(cls, config, {t, f}, true, 5);
      built.layer->set_needs_input_gradient(true);
      built.layer->set_input_mask(&mask);
      std::vector<float> out;
      const Tensor& y = built.layer->forward(x, true);
      out.insert(out.end(), y.begin(), y.end());
      const Tensor& dx = built.layer->backward(dy);
      out.insert(out.end(), dx.begin(), dx.end());
      out.insert(out.end(), built.grads.begin(), built.grads.end());
      set_threads(1);
      return out;
    };
    const std::vector<float> one = run(1), two = run(2), again = run(2);
    CHECK(two == again);
    REQUIRE(one.size() == two.size());
    double worst = 0.0;
    double worst_output = 0.0;  // the forward outputs: the step kernel's alone
    for (std::size_t i = 0; i < one.size(); ++i) {
      const double d = std::fabs(double(one[i]) - two[i]) / (1.0 + std::fabs(double(one[i])));
      worst = std::max(worst, d);
      if (i < n * t * u) worst_output = std::max(worst_output, d);
    }
    MESSAGE(cls << ": largest difference between 1 and 2 threads " << worst << " (outputs " << worst_output << ")");
    CHECK(worst < 1e-5);
#if defined(__AVX512F__)
    // Gate widths of multiples of 64: every product of the forward pass on the step kernel. The
    // gradients go through OpenBLAS, whose kernels may sum a smaller GEMM's rows in another order.
    CHECK(worst_output == 0.0);
#endif
  }
}

TEST_CASE("the recurrent products equal OpenBLAS's sgemm: tails, A transposed, accumulation") {
  for (std::size_t m : {1, 2, 3, 4, 5, 6, 7, 13, 32})
    for (std::size_t n : {64, 192, 100})  // 100: not a multiple of 64, OpenBLAS itself
      for (float beta : {0.f, 1.f}) {
        const std::size_t k = 70, lda = k + 3, ldb = n + 5, ldc = n + 7;
        std::vector<float> a(std::max(m * lda, k * (m + 3))), b(k * ldb), want(m * ldc);
        for (std::size_t i = 0; i < a.size(); ++i) a[i] = float(std::sin(0.31 * double(i)));
        for (std::size_t i = 0; i < b.size(); ++i) b[i] = float(std::cos(0.17 * double(i)));
        for (std::size_t i = 0; i < want.size(); ++i) want[i] = float(std::sin(0.05 * double(i)));
        for (bool transpose_a : {false, true}) {  // A (m, k) with lda, or A^T of A (k, m) with m + 3
          const std::size_t ld = transpose_a ? m + 3 : lda;
          std::vector<float> got = want, expected = want;
          sgemm(transpose_a, false, m, n, k, a.data(), ld, b.data(), ldb, beta, expected.data(), ldc);
          step_gemm(transpose_a, m, n, k, a.data(), ld, b.data(), ldb, beta, got.data(), ldc);
          double worst = 0.0;
          for (std::size_t i = 0; i < want.size(); ++i) worst = std::max(worst, double(std::fabs(got[i] - expected[i])));
          CAPTURE(m);
          CAPTURE(n);
          CAPTURE(beta);
          CAPTURE(transpose_a);
          CHECK(worst < 1e-4);  // sums of 70 products of size 1: float rounding in another order
        }
      }
}
