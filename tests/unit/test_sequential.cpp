#include <doctest/doctest.h>

#include <plugfit/registry.hpp>

#include <cstring>

#include "builtins/builtins.hpp"
#include "checkpoint/record.hpp"
#include "checkpoint/store.hpp"
#include "model/sequential.hpp"
#include "plugin_loading/loader.hpp"
#include "registry/registry_access.hpp"
#include "test_support.hpp"
#include "training/fit.hpp"

using namespace plugfit;
using namespace plugfit::test;

namespace {

const Json kMlp = Json::parse(R"({"class_name": "Sequential", "config": {"layers": [
  {"class_name": "Flatten", "config": {"input_shape": [4, 3]}},
  {"class_name": "Dense", "config": {"units": 5, "activation": "relu"}},
  {"class_name": "Dropout", "config": {"rate": 0.2}},
  {"class_name": "Dense", "config": {"units": 2, "activation": "softmax"}}]}})");
}  // namespace

TEST_CASE("layers get Keras's names and weights one flat buffer in layer order") {
  auto model = Sequential::from_config(kMlp, builtins());
  REQUIRE(model->declared_input_shape() == Shape{4, 3});
  model->build({4, 3}, 7);
  CHECK(model->layer(0).name() == "flatten");
  CHECK(model->layer(1).name() == "dense");
  CHECK(model->layer(3).name() == "dense_1");
  REQUIRE(model->weights().size() == 4);
  CHECK(model->weights()[0]->name == "dense/kernel");
  CHECK(model->weights()[0]->shape == Shape{12, 5});
  CHECK(model->weights()[3]->name == "dense_1/bias");
  CHECK(model->num_params() == 12 * 5 + 5 + 5 * 2 + 2);
  std::size_t offset = 0;
  for (Weight* w : model->weights()) {
    CHECK(w->offset == offset);
    CHECK(w->value_data == model->parameters().data() + offset);
    offset += w->size;
  }
  CHECK(model->find_weight("dense_1/kernel") == model->weights()[2]);
  CHECK(model->output_shape() == Shape{2});
}

TEST_CASE("the seed fixes the initial weights; glorot bounds hold; biases start at zero") {
  auto a = Sequential::from_config(kMlp, builtins());
  auto b = Sequential::from_config(kMlp, builtins());
  auto c = Sequential::from_config(kMlp, builtins());
  a->build({4, 3}, 1);
  b->build({4, 3}, 1);
  c->build({4, 3}, 2);
  CHECK(std::equal(a->parameters().begin(), a->parameters().end(), b->parameters().begin()));
  CHECK_FALSE(std::equal(a->parameters().begin(), a->parameters().end(), c->parameters().begin()));
  const float limit = std::sqrt(6.f / (12 + 5));
  for (float v : a->weights()[0]->value()) CHECK(std::fabs(v) <= limit);
  for (float v : a->weights()[1]->value()) CHECK(v == 0.f);
}

TEST_CASE("VarianceScaling draws as Keras defines it: scale 1, fan_avg, uniform is glorot_uniform") {
  auto draw = [](const Json& spec) {
    std::vector<float> values(12 * 5);
    Rng rng(7);
    Initializer::from_json(spec).fill(values.data(), {12, 5}, rng);
    return values;
  };
  const Json glorot = {{"class_name", "VarianceScaling"},
                       {"config", {{"scale", 1.0}, {"mode", "fan_avg"}, {"distribution", "uniform"}, {"seed", nullptr}}}};
  CHECK(draw(glorot) == draw("glorot_uniform"));
  // Keras 2.0-2.2 wrote "normal" for the truncated normal: scale 2, fan_in is he_normal.
  const Json he = {{"class_name", "VarianceScaling"},
                   {"config", {{"scale", 2.0}, {"mode", "fan_in"}, {"distribution", "normal"}}}};
  CHECK(draw(he) == draw("he_normal"));
  CHECK(Initializer::from_json(he).to_json()["config"]["distribution"] == "truncated_normal");
  const Json bad = {{"class_name", "VarianceScaling"}, {"config", {{"mode", "fan_sideways"}}}};
  CHECK_THROWS_WITH_AS(Initializer::from_json(bad),
                       "VarianceScaling: \"mode\" must be fan_in, fan_out or fan_avg, got \"fan_sideways\"", InputError);
}

TEST_CASE("a shape mismatch names the layer and both shapes") {
  auto model = Sequential::from_config(kMlp, builtins());
  CHECK_THROWS_WITH_AS(model->build({28, 28}, 0),
                       "the model expects input of shape (None, 4, 3) but the data has shape (None, 28, 28)",
                       InputError);
  const Json no_flatten = {{"layers", {{{"class_name", "Dense"}, {"config", {{"units", 3}}}}}}};
  auto dense_only = Sequential::from_config(no_flatten, builtins());
  CHECK_THROWS_WITH_AS(dense_only->build({28, 28}, 0),
                       "layer \"dense\" (Dense) expects input of shape (None, features), got (None, 28, 28); put a "
                       "Flatten layer before it",
                       InputError);
}

TEST_CASE("config errors name the layer (its index when its class is unknown) and the problem") {
  CHECK_THROWS_WITH_AS(Sequential::from_config({{"layers", {{{"class_name", "Dense"}}}}}, builtins()),
                       "layer \"dense\" (Dense): the option \"units\" is required", InputError);
  CHECK_THROWS_WITH_AS(Sequential::from_config({{"layers", {{{"class_name", "Conv9D"}}}}}, builtins()),
                       doctest::Contains("layer 0 (Conv9D): unknown layer \"Conv9D\" (known: Activation, "),
                       InputError);
  CHECK_THROWS_WITH_AS(Sequential::from_config({{"class_name", "Functional"}}, builtins()),
                       doctest::Contains("only Sequential models are supported"), InputError);
}

TEST_CASE("get_config rebuilds an equal model") {
  auto a = Sequential::from_config(kMlp, builtins());
  a->build({4, 3}, 3);
  auto b = Sequential::from_config(a->get_config(), builtins());
  b->build(*b->declared_input_shape(), 3);
  CHECK(b->get_config() == a->get_config());
  CHECK(std::equal(a->parameters().begin(), a->parameters().end(), b->parameters().begin()));
}

TEST_CASE("forward maps a batch to the output shape; softmax rows sum to one") {
  auto model = Sequential::from_config(kMlp, builtins());
  model->build({4, 3}, 0);
  Tensor x = xt::ones<float>({6, 4, 3});
  const Tensor& y = model->forward(x, false);
  REQUIRE(y.shape()[0] == 6);
  REQUIRE(y.shape()[1] == 2);
  for (std::size_t r = 0; r < 6; ++r) CHECK(y(r, 0) + y(r, 1) == doctest::Approx(1.0));
}

// ---- Weights that are not trained ----------------------------------------------------------

namespace {

// y = x * gamma (trainable), and a non-trainable moving mean of x that the layer updates itself
// in training, as BatchNormalization does. backward() writes junk into the moving mean's
// gradient: an optimizer that stepped it would move it.
class MovingScale final : public Layer {
 public:
  explicit MovingScale(Config&) {}
  Shape build(const Shape& input_shape, BuildContext& ctx) override {
    features_ = input_shape.at(0);
    gamma_ = &ctx.add_weight("gamma", {features_}, Initializer("ones"));
    moving_mean_ = &ctx.add_weight("moving_mean", {features_}, Initializer("zeros"), /*trainable=*/false);
    expected_.assign(features_, 0.f);
    return input_shape;
  }
  const Tensor& forward(const Tensor& x, bool training) override {
    x_ = &x;
    y_.resize(x.shape());
    const std::size_t rows = x.shape()[0];
    for (std::size_t c = 0; c < features_; ++c) {
      float mean = 0.f;
      for (std::size_t r = 0; r < rows; ++r) {
        mean += x.data()[r * features_ + c] / float(rows);
        y_.data()[r * features_ + c] = x.data()[r * features_ + c] * gamma_->value_data[c];
      }
      if (training) {
        moving_mean_->value_data[c] = 0.9f * moving_mean_->value_data[c] + 0.1f * mean;
        expected_[c] = moving_mean_->value_data[c];
      }
    }
    return y_;
  }
  const Tensor& backward(const Tensor& dy) override {
    const std::size_t rows = dy.shape()[0];
    std::fill_n(gamma_->grad_data, features_, 0.f);
    std::fill_n(moving_mean_->grad_data, features_, 1000.f);
    dx_.resize(dy.shape());
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < features_; ++c) {
        gamma_->grad_data[c] += dy.data()[r * features_ + c] * x_->data()[r * features_ + c];
        dx_.data()[r * features_ + c] = dy.data()[r * features_ + c] * gamma_->value_data[c];
      }
    return dx_;
  }
  Json get_config() const override { return {{"name", name()}}; }

  std::vector<float> expected_;  // the moving mean as the layer last wrote it

 private:
  std::size_t features_ = 0;
  Weight* gamma_ = nullptr;
  Weight* moving_mean_ = nullptr;
  const Tensor* x_ = nullptr;
  Tensor y_, dx_;
};

// The built-in types plus MovingScale (as a built-in, so a record rebuilds it without a plugin),
// and the backend plugins loaded by name from the build tree.
struct WeightsHost {
  Registry registry;
  PluginLoader loader;
  WeightsHost() : loader(make_builtins(registry)) {
    RegistryAccess::builtins(registry).add_layer<MovingScale>("MovingScale");
  }
};

const Json kCompile = {{"optimizer", {{"class_name", "Adam"}, {"config", {{"learning_rate", 0.01}, {"weight_decay", 0.1}}}}},
                       {"loss", "sparse_categorical_crossentropy"},
                       {"metrics", {"accuracy"}}};

std::unique_ptr<Sequential> stateful_model(const Registry& registry, bool freeze_first) {
  Json first = {{"units", 6}, {"activation", "relu"}};
  if (freeze_first) first["trainable"] = false;
  auto model = Sequential::from_config(
      {{"layers",
        {{{"class_name", "Dense"}, {"config", first}},
         {{"class_name", "MovingScale"}, {"config", Json::object()}},
         {{"class_name", "Dense"}, {"config", {{"units", 3}, {"activation", "softmax"}}}}}}},
      registry);
  model->build({4}, 9);
  compile_from_config(*model, kCompile, registry);
  return model;
}

FitOptions quiet_fit(int epochs) {
  FitOptions options;
  options.epochs = epochs;
  options.batch_size = 16;
  options.verbose = 0;
  options.seed = 3;
  return options;
}

std::vector<float> values_of(const Weight& w) { return {w.value_data, w.value_data + w.size}; }

}  // namespace

TEST_CASE("non-trainable weights come after the trainable ones; the optimizer's slots cover the trainable prefix") {
  WeightsHost host;
  auto model = stateful_model(host.registry, false);
  Weight* moving = model->find_weight("moving_scale/moving_mean");
  REQUIRE(moving != nullptr);
  CHECK_FALSE(moving->trainable);
  CHECK(model->find_weight("moving_scale/gamma")->trainable);
  CHECK(model->num_trainable() == model->num_params() - 6);
  CHECK(moving->offset == model->num_trainable());
  for (const Weight* w : model->weights())
    if (w->trainable) CHECK(w->offset + w->size <= model->num_trainable());
  for (const auto& slot : model->optimizer()->slots()) CHECK(slot.values->size() == model->num_trainable());
  CHECK(model->trainable_parameters().size() == model->num_trainable());
}

TEST_CASE("the optimizer never steps a non-trainable weight; the layer's own updates stay") {
  WeightsHost host;
  auto model = stateful_model(host.registry, false);
  fit(*model, blobs(128, 2), quiet_fit(2), {});
  const auto& layer = dynamic_cast<MovingScale&>(model->layer(1));
  CHECK(values_of(*model->find_weight("moving_scale/moving_mean")) == layer.expected_);
  CHECK(layer.expected_ != std::vector<float>(6, 0.f));
}

TEST_CASE("a non-trainable weight round-trips through dir:, sqlite: and hdf5:, without optimizer slots") {
  for (const char* scheme : {"dir:", "sqlite:", "hdf5:"}) {
    CAPTURE(scheme);
    WeightsHost host;
    TempDir dir;
    auto model = stateful_model(host.registry, false);
    fit(*model, blobs(64, 3), quiet_fit(1), {});
    const CheckpointRecord record = capture_record(*model, host.registry, kCompile, {1, 0, 4, 3}, {}, Logs{}, false);
    REQUIRE(record.find("weights/moving_scale/moving_mean") != nullptr);
    CHECK(record.find("optimizer/m/moving_scale/moving_mean") == nullptr);
    CHECK(record.find("optimizer/m/moving_scale/gamma") != nullptr);
    const std::string file = std::string(scheme) == "dir:" ? "ckpts" : std::string(scheme) == "sqlite:" ? "run.db" : "run.h5";
    auto backend = open_backend(parse_checkpoint_uri(scheme + (dir.path / file).string()), host.registry, &host.loader);
    backend->save("ckpt", record);
    auto rebuilt = model_from_record(backend->load("ckpt"), host.registry, host.loader);
    REQUIRE(rebuilt->num_params() == model->num_params());
    CHECK(rebuilt->num_trainable() == model->num_trainable());
    CHECK(plugfit::test::same_memory(rebuilt->parameters().data(), model->parameters().data(), model->parameters().size_bytes()));
    CHECK(values_of(*rebuilt->find_weight("moving_scale/moving_mean")) == values_of(*model->find_weight("moving_scale/moving_mean")));
    for (const auto& slot : rebuilt->optimizer()->slots()) CHECK(slot.values->size() == rebuilt->num_trainable());
  }
}

TEST_CASE("a frozen layer (\"trainable\": false) does not train, keeps the flag in get_config, and stays frozen on resume") {
  WeightsHost host;
  auto model = stateful_model(host.registry, true);
  CHECK_FALSE(model->find_weight("dense/kernel")->trainable);
  CHECK_FALSE(model->find_weight("dense/bias")->trainable);
  CHECK(model->get_config()["config"]["layers"][0]["config"]["trainable"] == false);
  CHECK(model->get_config()["config"]["layers"][2]["config"].count("trainable") == 0);
  const auto frozen_kernel = values_of(*model->find_weight("dense/kernel"));
  const auto frozen_bias = values_of(*model->find_weight("dense/bias"));
  const auto last_kernel = values_of(*model->find_weight("dense_1/kernel"));
  fit(*model, blobs(128, 4), quiet_fit(2), {});  // Adam with weight decay: any step would move them
  CHECK(values_of(*model->find_weight("dense/kernel")) == frozen_kernel);
  CHECK(values_of(*model->find_weight("dense/bias")) == frozen_bias);
  CHECK(values_of(*model->find_weight("dense_1/kernel")) != last_kernel);

  const CheckpointRecord record = capture_record(*model, host.registry, kCompile, {2, 0, 16, 3}, {}, Logs{}, false);
  auto resumed = model_from_record(record, host.registry, host.loader);
  CHECK_FALSE(resumed->find_weight("dense/kernel")->trainable);
  FitOptions more = quiet_fit(3);
  more.initial_epoch = 2;
  fit(*resumed, blobs(128, 4), more, {});
  CHECK(values_of(*resumed->find_weight("dense/kernel")) == frozen_kernel);
  CHECK(values_of(*resumed->find_weight("dense_1/kernel")) != values_of(*model->find_weight("dense_1/kernel")));
}

TEST_CASE("\"trainable\" must be a boolean") {
  CHECK_THROWS_WITH_AS(Sequential::from_config(Json::parse(R"({"layers": [
      {"class_name": "Dense", "config": {"units": 2, "trainable": "no"}}]})"),
                                               builtins()),
                       doctest::Contains("layer \"dense\" (Dense): \"trainable\" must be true or false"), InputError);
}

// ---- Precision options: float32 only ---------------------------------------------------------

TEST_CASE("float32 dtype policies are accepted as Keras writes them") {
  for (const char* dtype : {R"("float32")", "null",
                            R"({"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null})",
                            R"({"class_name": "FloatDTypePolicy", "config": {"name": "float32"}})"}) {
    CAPTURE(dtype);
    const Json config = Json::parse(std::string(R"({"layers": [{"class_name": "Dense", "config": {"units": 2, "dtype": )") +
                                    dtype + R"(, "autocast": true, "lora_rank": null, "quantization_config": null}}]})");
    CHECK_NOTHROW(Sequential::from_config(config, builtins()));
  }
}

TEST_CASE("a non-float32 dtype, a lora_rank or a quantization_config is refused naming the layer and option") {
  const auto refuse = [](const char* options, const char* message) {
    CAPTURE(options);
    const Json config = Json::parse(std::string(R"({"layers": [{"class_name": "Dense", "config": {"units": 2, )") + options + "}}]}");
    CHECK_THROWS_WITH_AS(Sequential::from_config(config, builtins()), doctest::Contains(message), InputError);
  };
  refuse(R"("dtype": "mixed_float16")",
         "layer \"dense\" (Dense): dtype \"mixed_float16\" is not supported; plugfit computes in float32");
  refuse(R"("dtype": "float16")", "layer \"dense\" (Dense): dtype \"float16\" is not supported");
  refuse(R"("dtype": {"class_name": "DTypePolicy", "config": {"name": "mixed_bfloat16"}})",
         "layer \"dense\" (Dense): dtype mixed_bfloat16 is not supported");
  refuse(R"("dtype": {"class_name": "QuantizedDTypePolicy", "config": {"name": "int8_from_float32"}})",
         "layer \"dense\" (Dense): dtype {");
  refuse(R"("name": "head", "lora_rank": 4)", "layer \"head\" (Dense): lora_rank 4 is not supported");
  refuse(R"("quantization_config": {"mode": "int8"})", "layer \"dense\" (Dense): quantization_config");
  refuse(R"("autocast": "yes")", "layer \"dense\" (Dense): autocast must be true or false");
  refuse(R"("lora_alpha": "big")", "layer \"dense\" (Dense): lora_alpha must be a number or null");
}
