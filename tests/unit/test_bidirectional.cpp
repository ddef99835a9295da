// Bidirectional: inference against numpy loops of Keras's cells and merge, and torch.nn's
// bidirectional LSTM (bidirectional_reference.py); central-difference gradients through both
// directions for every merge mode, return_sequences both ways, masks, dropout; Keras's naming of
// the two layers and their weights, get_config, refusals.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "layer_fixture.hpp"
#include "layers/bidirectional.hpp"

using namespace plugfit;
using namespace plugfit::test;

namespace {

constexpr std::size_t N = 2, T = 4, F = 3, U = 2;

// python3 tests/unit/bidirectional_reference.py (float64 numpy, the first also torch.nn).
const std::vector<float> kLstmConcat = {-0.02722348f, -0.01054762f, 0.06927933f, 0.10270536f, -0.02335573f, -0.11281856f, 0.06177493f, 0.16925480f, -0.07134466f, -0.19265393f, 0.11326744f, 0.14152121f, -0.13794673f, -0.13981130f, 0.08371218f, 0.05024699f, -0.11580542f, 0.11460628f, 0.11131476f, -0.14000662f, -0.12052662f, 0.14821910f, 0.06021937f, -0.09514282f, -0.04954323f, 0.15583276f, 0.03533646f, -0.08701668f, -0.03448761f, 0.05547005f, 0.01071776f, -0.01080643f};
const std::vector<float> kLstmConcatMasked = {-0.02722348f, -0.01054762f, 0.06927933f, 0.10270536f, -0.02335573f, -0.11281856f, 0.06177493f, 0.16925480f, -0.07134466f, -0.19265393f, 0.11326744f, 0.14152121f, -0.13794673f, -0.13981130f, 0.08371218f, 0.05024699f, -0.11580542f, 0.11460628f, 0.09574286f, -0.11171629f, -0.12052662f, 0.14821910f, 0.04399548f, -0.06318562f, -0.00000000f, 0.00000000f, 0.00000000f, 0.00000000f, -0.00000000f, 0.00000000f, 0.00000000f, 0.00000000f};
const std::vector<float> kLstmSumMasked = {0.04205585f, 0.09215774f, 0.03841920f, 0.05643624f, 0.04192279f, -0.05113271f, -0.05423455f, -0.08956430f, -0.02006256f, 0.00288999f, -0.07653114f, 0.08503348f, 0.00000000f, 0.00000000f, 0.00000000f, 0.00000000f};
const std::vector<float> kLstmMulMasked = {-0.00188602f, -0.00108330f, -0.00144280f, -0.01909508f, -0.00808103f, -0.02726462f, -0.01154782f, -0.00702510f, -0.01108754f, -0.01280339f, -0.00530263f, -0.00936532f, -0.00000000f, 0.00000000f, -0.00000000f, 0.00000000f};
const std::vector<float> kLstmAveLastMasked = {-0.03433370f, -0.01855297f, -0.01239188f, 0.01825141f};
const std::vector<float> kGruConcatLastMasked = {-0.26812703f, -0.13178578f, 0.39653077f, 0.22226176f, -0.23125199f, -0.10189626f, 0.37733988f, 0.29711005f};

Tensor reference_input() {
  Tensor x = Tensor::from_shape({N, T, F});
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = float(std::sin(0.3 * double(i)) + 0.1 * std::cos(1.3 * double(i)));
  return x;
}

// Row 1 padded after two steps (the reference's mask).
Tensor reference_mask() {
  Tensor mask = Tensor::from_shape({N, T});
  for (std::size_t t = 0; t < T; ++t) mask(0, t) = 1.f, mask(1, t) = t < 2 ? 1.f : 0.f;
  return mask;
}

Json bidirectional(const char* cell, const char* merge, bool sequences, Json inner = Json::object()) {
  inner["units"] = inner.value("units", Json(U));
  inner["return_sequences"] = sequences;
  return {{"merge_mode", merge}, {"layer", {{"class_name", cell}, {"config", inner}}}};
}

// The reference's weights: forward kernel, recurrent_kernel, bias, then the backward layer's,
// 0.5 sin(0.7 i + phase) with phases 1 to 6 in declaration order.
void formula_weights(BuiltLayer& built) {
  double phase = 1.0;
  for (auto& w : built.weights) {
    for (std::size_t i = 0; i < w.size; ++i) w.value_data[i] = float(0.5 * std::sin(0.7 * double(i) + phase));
    phase += 1.0;
  }
}

void check_against(const Json& config, bool masked, const std::vector<float>& want) {
  CAPTURE(config.dump());
  BuiltLayer built("Bidirectional", config, {T, F});
  formula_weights(built);
  const Tensor mask = reference_mask();
  built.layer->set_input_mask(masked ? &mask : nullptr);
  const Tensor& y = built.layer->forward(reference_input(), false);
  REQUIRE(y.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(std::fabs(y.data()[i] - want[i]) < 1e-5f);
}

// Row 0 real everywhere, row 1 padded after 2 steps, row 2 after 3 (the checker's batch is 3).
Tensor end_padding_mask() {
  Tensor mask = Tensor::from_shape({3, T});
  for (std::size_t n = 0; n < 3; ++n)
    for (std::size_t t = 0; t < T; ++t) mask(n, t) = (n == 0 || t < n + 1) ? 1.f : 0.f;
  return mask;
}

void check_gradients(const Json& config, const Tensor* mask = nullptr) {
  auto layer = builtins().create_layer("Bidirectional", config);
  layer->set_input_mask(mask);
  const auto result = testing::check_layer_gradients(*layer, {T, 2});
  INFO(config.dump() << (mask ? " masked" : "") << "\n" << result.report);
  CHECK(result.passed);
}

}  // namespace

TEST_CASE("Bidirectional inference equals numpy's Keras loops and torch.nn's bidirectional LSTM within 1e-5") {
  check_against(bidirectional("LSTM", "concat", true), false, kLstmConcat);
  check_against(bidirectional("LSTM", "concat", true), true, kLstmConcatMasked);
  check_against(bidirectional("LSTM", "sum", true), true, kLstmSumMasked);
  check_against(bidirectional("LSTM", "mul", true), true, kLstmMulMasked);
  check_against(bidirectional("LSTM", "ave", false), true, kLstmAveLastMasked);
  check_against(bidirectional("GRU", "concat", false), true, kGruConcatLastMasked);
}

TEST_CASE("Bidirectional gradients through both directions: every merge mode, sequences, masks, dropout") {
  const Tensor mask = end_padding_mask();
  for (const char* merge : {"concat", "sum", "mul", "ave"})
    for (bool sequences : {false, true}) {
      check_gradients(bidirectional("LSTM", merge, sequences, {{"units", 3}}));
      check_gradients(bidirectional("LSTM", merge, sequences, {{"units", 3}}), &mask);
    }
  for (const char* cell : {"GRU", "SimpleRNN"}) {
    check_gradients(bidirectional(cell, "concat", true, {{"units", 3}}), &mask);
    check_gradients(bidirectional(cell, "sum", false, {{"units", 3}}), &mask);
  }
  check_gradients(bidirectional("LSTM", "concat", true, {{"units", 3}, {"dropout", 0.3}, {"recurrent_dropout", 0.4}}),
                  &mask);
  check_gradients(bidirectional("GRU", "mul", false, {{"units", 3}, {"reset_after", false}, {"recurrent_dropout", 0.4}}));
  // The forward layer itself going backwards: its backward copy goes forwards.
  check_gradients(bidirectional("LSTM", "concat", true, {{"units", 3}, {"go_backwards", true}}), &mask);
  // A custom backward layer of another cell and width (concat allows it).
  Json custom = bidirectional("LSTM", "concat", true, {{"units", 3}});
  custom["backward_layer"] = {{"class_name", "GRU"},
                              {"config", {{"units", 2}, {"return_sequences", true}, {"go_backwards", true}}}};
  check_gradients(custom, &mask);
}

TEST_CASE("Bidirectional names its layers and weights as Keras does, passes the mask on with sequences") {
  BuiltLayer built("Bidirectional", bidirectional("LSTM", "concat", true), {T, F});
  std::vector<std::string> names;
  for (const auto& w : built.weights) names.push_back(w.name);
  CHECK(names == std::vector<std::string>{"l/forward_lstm/kernel", "l/forward_lstm/recurrent_kernel",
                                          "l/forward_lstm/bias", "l/backward_lstm/kernel",
                                          "l/backward_lstm/recurrent_kernel", "l/backward_lstm/bias"});
  CHECK(built.output_shape == Shape{T, 2 * U});
  CHECK(built.weight("forward_lstm/kernel").shape == Shape{F, 4 * U});
  const Tensor mask = reference_mask();
  built.layer->set_input_mask(&mask);
  built.layer->forward(reference_input(), false);
  CHECK(built.layer->output_mask() == &mask);
  BuiltLayer last("Bidirectional", bidirectional("GRU", "sum", false, {{"name", "forward_enc"}}), {T, F});
  CHECK(last.output_shape == Shape{U});
  CHECK(last.weights.front().name == "l/forward_enc/kernel");  // the prefix kept once, as Keras's removeprefix
  CHECK(last.weights.back().name == "l/backward_forward_enc/bias");
  last.layer->set_input_mask(&mask);
  last.layer->forward(reference_input(), false);
  CHECK(last.layer->output_mask() == nullptr);
}

TEST_CASE("Bidirectional's get_config rebuilds an equal layer with both layers spelled out") {
  auto layer = builtins().create_layer("Bidirectional", bidirectional("LSTM", "ave", true, {{"dropout", 0.25}}));
  layer->set_name("bi");
  const Json config = layer->get_config();
  CHECK(config["merge_mode"] == "ave");
  CHECK(config["layer"]["config"]["name"] == "forward_lstm");
  CHECK(config["backward_layer"]["config"]["name"] == "backward_lstm");
  CHECK(config["backward_layer"]["config"]["go_backwards"] == true);
  CHECK(config["backward_layer"]["config"]["dropout"] == 0.25);
  auto again = builtins().create_layer("Bidirectional", config);
  again->set_name("bi");
  CHECK(again->get_config() == config);
}

TEST_CASE("bad Bidirectional configs: one sentence naming the layer and the option") {
  const auto make = [](Json config) {
    config["name"] = "bi";
    return error_of([&] { (void)builtins().create_layer("Bidirectional", config); });
  };
  Json list = bidirectional("LSTM", "concat", true);
  list["merge_mode"] = nullptr;
  CHECK(make(list).find("layer \"bi\" (Bidirectional): merge_mode null (the two outputs as a list) is not supported") == 0);
  CHECK(make(bidirectional("LSTM", "max", true)) ==
        "layer \"bi\" (Bidirectional): \"merge_mode\" must be \"concat\", \"sum\", \"mul\" or \"ave\", got \"max\"");
  CHECK(make({{"merge_mode", "sum"}, {"layer", {{"class_name", "Dense"}, {"config", {{"units", 2}}}}}}) ==
        "layer \"bi\" (Bidirectional): \"layer\" must be a SimpleRNN, LSTM or GRU, got Dense");
  CHECK(make(Json::object()).find("layer \"bi\" (Bidirectional): needs \"layer\"") == 0);
  Json same = bidirectional("LSTM", "concat", true);
  same["backward_layer"] = {{"class_name", "LSTM"}, {"config", {{"units", 2}, {"return_sequences", true}}}};
  CHECK(make(same) == "layer \"bi\" (Bidirectional): the forward and backward layers must differ in go_backwards, "
                      "both have false");
  Json last = bidirectional("LSTM", "concat", true);
  last["backward_layer"] = {{"class_name", "LSTM"}, {"config", {{"units", 2}, {"go_backwards", true}}}};
  CHECK(make(last) == "layer \"bi\" (Bidirectional): the forward and backward layers must agree on return_sequences");
  Json wide = bidirectional("LSTM", "sum", true);
  wide["backward_layer"] = {{"class_name", "LSTM"},
                            {"config", {{"units", 3}, {"return_sequences", true}, {"go_backwards", true}}}};
  CHECK(make(wide) == "layer \"bi\" (Bidirectional): merge_mode \"sum\" needs equal units, got 2 forward and 3 backward");
  CHECK(make(bidirectional("LSTM", "concat", true, {{"stateful", true}})).find("its layer (LSTM): ") != std::string::npos);
  CHECK(build_error("Bidirectional", bidirectional("LSTM", "concat", true), {5}).find(
            "layer \"l\" (Bidirectional): layer \"forward_lstm\" (LSTM) expects input of shape") == 0);
}
