// The training step allocates nothing after the first batch: a replaced global operator new
// counts every heap allocation this test binary makes.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <deque>
#include <new>

#include <plugfit/registry.hpp>

#include "layers/build_context.hpp"
#include "plugin_loading/loader.hpp"
#include "training/fit.hpp"
#include "util/parallel.hpp"
#include "test_support.hpp"

namespace {
std::atomic<long> g_allocations{0};

void* counted_alloc(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* counted_aligned_alloc(std::size_t n, std::align_val_t a) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  const auto align = static_cast<std::size_t>(a);
  if (void* p = std::aligned_alloc(align, (std::max<std::size_t>(n, 1) + align - 1) / align * align)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_aligned_alloc(n, a); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_aligned_alloc(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

using namespace plugfit;
using namespace plugfit::test;

namespace {

// The registry with the real custom_layers plugin loaded by name, as the host loads it: its
// MyCustomLayer is written the way the README tells plugin authors to write a layer.
const Registry& registry_with_plugin_layer() {
  static Registry registry;
  static PluginLoader loader((register_builtins(registry), registry));
  static const bool loaded = (loader.load("custom_layers"), true);
  (void)loaded;
  return registry;
}

std::unique_ptr<Sequential> make_model(const char* optimizer, const Json& optimizer_config = {{"learning_rate", 0.01}}) {
  Json layers = Json::array();
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 16}, {"activation", "relu"}}}});
  layers.push_back({{"class_name", "custom_layers>MyCustomLayer"}, {"config", {{"units", 8}}}});
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 3}, {"activation", "softmax"}}}});
  auto model = Sequential::from_config({{"layers", layers}}, registry_with_plugin_layer());
  model->build({4}, 3);
  std::vector<std::unique_ptr<Metric>> metrics;
  metrics.push_back(builtins().create_metric("sparse_categorical_accuracy", Json::object()));
  metrics.back()->set_name("accuracy");
  model->compile(builtins().create_optimizer(optimizer, optimizer_config),
                 builtins().create_loss("sparse_categorical_crossentropy", Json::object()),
                 "sparse_categorical_crossentropy", std::move(metrics));
  return model;
}

// Heap allocations of one training step: forward, loss, metrics, backward, optimizer step.
long step_allocations(Sequential& model, const Tensor& x, const Tensor& y, Tensor& dy) {
  const long before = g_allocations.load();
  const Tensor& out = model.forward(x, true);
  const double loss = model.softmax_fused() ? model.loss().compute_from_softmax(out, y, &dy)
                                            : model.loss().compute(out, y, &dy);
  for (auto& metric : model.metrics()) metric->update(out, y);
  model.backward(dy);
  model.optimizer()->step(model.trainable_parameters(), model.trainable_gradients());
  CHECK(std::isfinite(loss));
  return g_allocations.load() - before;
}

}  // namespace

TEST_CASE("the counter sees allocations") {
  const long before = g_allocations.load();
  auto* p = new std::vector<int>(100);
  delete p;
  CHECK(g_allocations.load() - before == 2);
}

TEST_CASE("a training step with Dense and a plugin-style layer allocates nothing after the first batch") {
  const Dataset data = blobs(32, 1);
  for (const char* optimizer : {"SGD", "Adam", "RMSprop"}) {
    CAPTURE(optimizer);
    auto model = make_model(optimizer);
    Tensor dy;
    step_allocations(*model, data.x, data.y, dy);  // sizes the buffers
    for (int batch = 1; batch < 5; ++batch) CHECK(step_allocations(*model, data.x, data.y, dy) == 0);
  }
}

TEST_CASE("Weight::value() and grad() allocate nothing") {
  auto model = make_model("SGD");
  Weight& kernel = *model->weights()[0];
  const long before = g_allocations.load();
  for (int i = 0; i < 10; ++i) {
    const TensorView& v = kernel.value();
    TensorView& g = kernel.grad();
    g(0, 0) = v(0, 0);
  }
  CHECK(g_allocations.load() - before == 0);
}

TEST_CASE("fit's batch loop allocates nothing per batch (callbacks without batch hooks), with gradient blocks too") {
  // Two runs of one epoch that differ only in the number of batches allocate the same.
  auto allocations_of_fit = [](std::size_t samples, std::size_t block_rows) {
    const Dataset data = blobs(samples, 4);
    auto model = make_model("Adam");
    FitOptions options;
    options.epochs = 1;
    options.batch_size = 16;
    options.verbose = 0;
    options.seed = 5;
    options.gradient_block_rows = block_rows;
    const long before = g_allocations.load();
    fit(*model, data, options, {});
    return g_allocations.load() - before;
  };
  allocations_of_fit(16, 0);  // once-per-process setup (the thread pool) is not the batch loop's
  for (const std::size_t block_rows : {std::size_t{0}, std::size_t{4}}) {
    CAPTURE(block_rows);
    const long eight_batches = allocations_of_fit(8 * 16, block_rows);
    const long thirty_two_batches = allocations_of_fit(32 * 16, block_rows);
    CHECK(thirty_two_batches == eight_batches);
  }
}

TEST_CASE("the Keras activations, losses and metrics allocate nothing per batch") {
  // gelu and mish keep their input for backward; huber is a per-sample loss; AUC, Precision and
  // mae accumulate into state sized at construction.
  Json layers = Json::array();
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 8}, {"activation", "gelu"}}}});
  layers.push_back({{"class_name", "Activation"}, {"config", {{"activation", "mish"}}}});
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 4}, {"activation", "log_softmax"}}}});
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 1}, {"activation", "hard_sigmoid"}}}});
  auto model = Sequential::from_config({{"layers", layers}}, builtins());
  model->build({4}, 3);
  std::vector<std::unique_ptr<Metric>> metrics;
  for (const char* name : {"mae", "AUC", "Precision", "Recall", "hinge"}) metrics.push_back(builtins().create_metric(name, Json::object()));
  model->compile(builtins().create_optimizer("Adam", Json::object()), builtins().create_loss("huber", Json::object()), "huber",
                 std::move(metrics));
  const Dataset data = blobs(32, 1);
  Tensor y = Tensor::from_shape({32, 1});
  for (std::size_t i = 0; i < 32; ++i) y(i, 0) = data.y(i) > 0.f ? 1.f : 0.f;
  Tensor dy;
  step_allocations(*model, data.x, y, dy);
  for (int batch = 1; batch < 5; ++batch) CHECK(step_allocations(*model, data.x, y, dy) == 0);
  for (auto& metric : model->metrics()) (void)metric->result();
}

TEST_CASE("a training step through the convolutions allocates nothing after the first batch") {
  // Both data formats, groups, the depthwise and pointwise stages, the transposed scatter.
  Json layers = Json::array();
  layers.push_back({{"class_name", "Conv2D"}, {"config", {{"filters", 4}, {"kernel_size", 3}, {"activation", "relu"}}}});
  layers.push_back({{"class_name", "Conv2D"},
                    {"config", {{"filters", 4}, {"kernel_size", 3}, {"groups", 2}, {"padding", "same"}, {"strides", 2}}}});
  layers.push_back({{"class_name", "DepthwiseConv2D"}, {"config", {{"kernel_size", 2}, {"depth_multiplier", 2}}}});
  layers.push_back({{"class_name", "SeparableConv2D"}, {"config", {{"filters", 3}, {"kernel_size", 2}, {"activation", "gelu"}}}});
  layers.push_back({{"class_name", "Conv2DTranspose"},
                    {"config", {{"filters", 2}, {"kernel_size", 3}, {"strides", 2}, {"data_format", "channels_first"}}}});
  layers.push_back({{"class_name", "Flatten"}, {"config", Json::object()}});
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 3}, {"activation", "softmax"}}}});
  auto model = Sequential::from_config({{"layers", layers}}, builtins());
  model->build({10, 10, 2}, 3);
  model->compile(builtins().create_optimizer("Adam", Json::object()),
                 builtins().create_loss("sparse_categorical_crossentropy", Json::object()),
                 "sparse_categorical_crossentropy", {});
  Tensor x = Tensor::from_shape({16, 10, 10, 2});
  Rng rng(2);
  for (auto& v : x) v = static_cast<float>(rng.normal());
  Tensor y = Tensor::from_shape({16});
  for (std::size_t i = 0; i < 16; ++i) y(i) = float(i % 3);
  Tensor dy;
  step_allocations(*model, x, y, dy);
  for (int batch = 1; batch < 5; ++batch) CHECK(step_allocations(*model, x, y, dy) == 0);
}

TEST_CASE("BatchNormalization allocates nothing per batch, in a model and on (N, H, W, C) inputs") {
  Json layers = Json::array();
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 6}}}});
  layers.push_back({{"class_name", "BatchNormalization"}, {"config", Json::object()}});
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 3}, {"activation", "softmax"}}}});
  auto model = Sequential::from_config({{"layers", layers}}, builtins());
  model->build({4}, 3);
  model->compile(builtins().create_optimizer("Adam", Json::object()),
                 builtins().create_loss("sparse_categorical_crossentropy", Json::object()),
                 "sparse_categorical_crossentropy", {});
  const Dataset data = blobs(32, 1);
  Tensor dy;
  step_allocations(*model, data.x, data.y, dy);
  for (int batch = 1; batch < 4; ++batch) CHECK(step_allocations(*model, data.x, data.y, dy) == 0);
  long before = g_allocations.load();
  (void)model->forward(data.x, false);
  CHECK(g_allocations.load() - before == 0);

  // The layer alone on images.
  std::deque<Weight> weights;
  Rng rng(1);
  SampleStreams samples(rng);
  WeightCollector ctx(weights, "bn", rng, samples);
  auto bn = builtins().create_layer("BatchNormalization", Json::object());
  bn->build({3, 3, 2}, ctx);
  std::vector<float> values(4 * 2, 1.f), grads(4 * 2);
  for (std::size_t w = 0; w < weights.size(); ++w) weights[w].bind(values.data() + 2 * w, grads.data() + 2 * w);
  Tensor x = Tensor::from_shape({8, 3, 3, 2});
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = float(i % 7) - 3.f;
  for (int batch = 0; batch < 4; ++batch) {
    before = g_allocations.load();
    const Tensor& y = bn->forward(x, batch % 2 == 0);
    (void)bn->backward(y);
    if (batch > 0) CHECK(g_allocations.load() - before == 0);
  }
}

TEST_CASE("the preprocessing layers allocate nothing per batch, in training and inference") {
  const Json specs = Json::parse(R"([
    ["Rescaling", {"scale": 0.5, "offset": 1}],
    ["Normalization", {}],
    ["Normalization", {"mean": 1.0, "variance": 4.0}],
    ["Resizing", {"height": 5, "width": 2}],
    ["RandomFlip", {}],
    ["RandomRotation", {"factor": 0.2}],
    ["RandomZoom", {"height_factor": 0.2}],
    ["RandomTranslation", {"height_factor": 0.2, "width_factor": 0.1}],
    ["RandomContrast", {"factor": 0.3}]])");
  for (const Json& spec : specs) {
    const std::string cls = spec[0];
    CAPTURE(cls);
    std::deque<Weight> weights;
    Rng rng(1);
    SampleStreams samples(rng);
    WeightCollector ctx(weights, "pre", rng, samples);
    auto layer = builtins().create_layer(cls, spec[1]);
    layer->set_name("pre");
    layer->build({3, 4, 2}, ctx);
    std::size_t total = 0;
    for (auto& w : weights) total += w.size;
    std::vector<float> values(total, 1.f), grads(total);
    std::size_t offset = 0;
    for (auto& w : weights) w.bind(values.data() + offset, grads.data() + offset), offset += w.size;
    Tensor x = Tensor::from_shape({6, 3, 4, 2});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = float(i % 11);
    for (int batch = 0; batch < 5; ++batch) {
      const long before = g_allocations.load();
      const Tensor& y = layer->forward(x, batch % 2 == 0);
      (void)layer->backward(y);
      if (batch > 1) CHECK(g_allocations.load() - before == 0);
    }
  }
}

TEST_CASE("the pooling and reshaping layers allocate nothing per batch") {
  auto layer = [](const char* class_name, Json config) { return Json{{"class_name", class_name}, {"config", config}}; };
  // (6, 6, 2) -> pad (8, 8, 2) -> max (4, 4, 2) -> average same stride 1 -> bilinear (8, 8, 2) -> crop (6, 6, 2)
  // -> spatial dropout -> reshape (3, 12, 2) -> nearest (3, 24, 2) -> global max keepdims (1, 1, 2) -> flatten -> dense.
  const Json first = Json::array({
      layer("ZeroPadding2D", {{"padding", 1}}),
      layer("MaxPooling2D", Json::object()),
      layer("AveragePooling2D", {{"pool_size", 2}, {"strides", 1}, {"padding", "same"}}),
      layer("UpSampling2D", {{"interpolation", "bilinear"}}),
      layer("Cropping2D", {{"cropping", 1}}),
      layer("SpatialDropout2D", {{"rate", 0.3}}),
      layer("Reshape", {{"target_shape", {3, -1, 2}}}),
      layer("UpSampling2D", {{"size", {1, 2}}}),
      layer("GlobalMaxPooling2D", {{"keepdims", true}}),
      layer("Flatten", Json::object()),
      layer("Dense", {{"units", 3}, {"activation", "softmax"}}),
  });
  const Json global_average = Json::array({
      layer("Reshape", {{"target_shape", {6, 6, 2}}}),
      layer("MaxPooling2D", {{"pool_size", 3}, {"strides", 2}, {"padding", "same"}, {"data_format", "channels_first"}}),
      layer("GlobalAveragePooling2D", Json::object()),
      layer("Dense", {{"units", 3}, {"activation", "softmax"}}),
  });
  Rng rng(2);
  Tensor x = Tensor::from_shape({32, 6, 6, 2});
  for (auto& v : x) v = static_cast<float>(rng.normal());
  Tensor y = Tensor::from_shape({32});
  for (std::size_t i = 0; i < 32; ++i) y(i) = static_cast<float>(i % 3);
  for (const Json* layers : {&first, &global_average}) {
    auto model = Sequential::from_config({{"layers", *layers}}, builtins());
    model->build({6, 6, 2}, 3);
    std::vector<std::unique_ptr<Metric>> metrics;
    model->compile(builtins().create_optimizer("Adam", Json::object()),
                   builtins().create_loss("sparse_categorical_crossentropy", Json::object()),
                   "sparse_categorical_crossentropy", std::move(metrics));
    Tensor dy;
    step_allocations(*model, x, y, dy);
    for (int batch = 1; batch < 5; ++batch) CHECK(step_allocations(*model, x, y, dy) == 0);
  }
}

TEST_CASE("the sequence layers allocate nothing per batch, masks included") {
  auto layer = [](const char* class_name, Json config) { return Json{{"class_name", class_name}, {"config", config}}; };
  const Json dense_softmax = layer("Dense", {{"units", 3}, {"activation", "softmax"}});
  // ids (8) -> (8, 4) masked -> (8, 5) -> normalized -> (5) over the real steps -> (3)
  const Json masked = Json::array({
      layer("Embedding", {{"input_dim", 20}, {"output_dim", 4}, {"mask_zero", true}}),
      layer("TimeDistributed", {{"layer", {{"class_name", "Dense"}, {"config", {{"units", 5}, {"activation", "relu"}}}}}}),
      layer("LayerNormalization", Json::object()),
      layer("GlobalAveragePooling1D", Json::object()),
      dense_softmax,
  });
  // ids (8) -> (8, 4) -> causal dilated (8, 4) -> max (4, 4) -> channels_first strided (4, 2) -> average (2, 2)
  // -> global max (2) -> repeated (3, 2) -> flatten -> (3)
  const Json convolved = Json::array({
      layer("Embedding", {{"input_dim", 20}, {"output_dim", 4}}),
      layer("Conv1D", {{"filters", 4}, {"kernel_size", 3}, {"padding", "causal"}, {"dilation_rate", 2}, {"activation", "tanh"}}),
      layer("MaxPooling1D", Json::object()),
      layer("Conv1D", {{"filters", 4}, {"kernel_size", 2}, {"strides", 2}, {"padding", "same"}, {"data_format", "channels_first"}}),
      layer("AveragePooling1D", {{"pool_size", 2}, {"strides", 1}, {"padding", "same"}}),
      layer("GlobalMaxPooling1D", Json::object()),
      layer("RepeatVector", {{"n", 3}}),
      layer("Flatten", Json::object()),
      dense_softmax,
  });
  Tensor ids = Tensor::from_shape({16, 8});
  for (std::size_t i = 0; i < ids.size(); ++i) ids.data()[i] = float((i * 7) % 20);
  Tensor y = Tensor::from_shape({16});
  for (std::size_t i = 0; i < 16; ++i) y(i) = static_cast<float>(i % 3);
  for (const Json* layers : {&masked, &convolved}) {
    auto model = Sequential::from_config({{"layers", *layers}}, builtins());
    model->build({8}, 3);
    model->compile(builtins().create_optimizer("Adam", Json::object()),
                   builtins().create_loss("sparse_categorical_crossentropy", Json::object()),
                   "sparse_categorical_crossentropy", {});
    Tensor dy;
    step_allocations(*model, ids, y, dy);
    for (int batch = 1; batch < 5; ++batch) CHECK(step_allocations(*model, ids, y, dy) == 0);
  }
  // Masking on float steps (every third step padding).
  const Json masking = Json::array({
      layer("Masking", Json::object()),
      layer("LayerNormalization", {{"center", false}}),
      layer("GlobalAveragePooling1D", Json::object()),
      dense_softmax,
  });
  Tensor x = Tensor::from_shape({16, 6, 3});
  Rng rng(4);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = (i / 3) % 3 == 2 ? 0.f : static_cast<float>(rng.normal());
  auto model = Sequential::from_config({{"layers", masking}}, builtins());
  model->build({6, 3}, 3);
  model->compile(builtins().create_optimizer("Adam", Json::object()),
                 builtins().create_loss("sparse_categorical_crossentropy", Json::object()),
                 "sparse_categorical_crossentropy", {});
  Tensor dy;
  step_allocations(*model, x, y, dy);
  for (int batch = 1; batch < 5; ++batch) CHECK(step_allocations(*model, x, y, dy) == 0);
}

TEST_CASE("the recurrent layers allocate nothing per batch (dropout, go_backwards, both GRU resets)") {
  auto layer = [](const char* class_name, Json config) { return Json{{"class_name", class_name}, {"config", config}}; };
  const Json layers = Json::array({
      layer("LSTM", {{"units", 6}, {"return_sequences", true}, {"dropout", 0.2}, {"recurrent_dropout", 0.2}}),
      layer("GRU", {{"units", 5}, {"return_sequences", true}, {"go_backwards", true}}),
      layer("GRU", {{"units", 4}, {"return_sequences", true}, {"reset_after", false}, {"recurrent_dropout", 0.3}}),
      layer("SimpleRNN", {{"units", 4}}),
      layer("Dense", {{"units", 3}, {"activation", "softmax"}}),
  });
  Rng rng(2);
  Tensor x = Tensor::from_shape({32, 7, 3});
  for (auto& v : x) v = static_cast<float>(rng.normal());
  Tensor y = Tensor::from_shape({32});
  for (std::size_t i = 0; i < 32; ++i) y(i) = static_cast<float>(i % 3);
  auto model = Sequential::from_config({{"layers", layers}}, builtins());
  model->build({7, 3}, 3);
  std::vector<std::unique_ptr<Metric>> metrics;
  model->compile(builtins().create_optimizer("Adam", Json::object()),
                 builtins().create_loss("sparse_categorical_crossentropy", Json::object()),
                 "sparse_categorical_crossentropy", std::move(metrics));
  Tensor dy;
  step_allocations(*model, x, y, dy);
  for (int batch = 1; batch < 5; ++batch) CHECK(step_allocations(*model, x, y, dy) == 0);
}

TEST_CASE("with 2 threads a training step allocates nothing after the first batch, the split loops included") {
  // Large enough that Dense's GEMMs and the optimizer's update are split across the threads.
  Json layers = Json::array();
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 128}, {"activation", "relu"}}}});
  layers.push_back({{"class_name", "Dense"}, {"config", {{"units", 10}, {"activation", "softmax"}}}});
  auto model = Sequential::from_config({{"layers", layers}}, builtins());
  model->build({784}, 3);
  model->compile(builtins().create_optimizer("Adam", Json::object()),
                 builtins().create_loss("sparse_categorical_crossentropy", Json::object()),
                 "sparse_categorical_crossentropy", {});
  Tensor x = Tensor::from_shape({64, 784}), y = Tensor::from_shape({64});
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(std::sin(double(i)));
  for (std::size_t i = 0; i < 64; ++i) y(i) = static_cast<float>(i % 10);
  set_threads(2);
  Tensor dy;
  step_allocations(*model, x, y, dy);  // sizes the buffers
  for (int batch = 1; batch < 5; ++batch) CHECK(step_allocations(*model, x, y, dy) == 0);
  set_threads(1);
}


TEST_CASE("Bidirectional allocates nothing per batch (masks, dropout, every merge mode)") {
  auto layer = [](const char* class_name, Json config) { return Json{{"class_name", class_name}, {"config", config}}; };
  auto bidirectional = [&](const char* merge, const char* cell, Json inner) {
    return layer("Bidirectional", {{"merge_mode", merge}, {"layer", {{"class_name", cell}, {"config", inner}}}});
  };
  const Json layers = Json::array({
      layer("Embedding", {{"input_dim", 20}, {"output_dim", 4}, {"mask_zero", true}}),
      bidirectional("concat", "LSTM", {{"units", 5}, {"return_sequences", true}, {"dropout", 0.2}, {"recurrent_dropout", 0.2}}),
      bidirectional("mul", "GRU", {{"units", 3}, {"return_sequences", true}}),
      bidirectional("ave", "SimpleRNN", {{"units", 3}, {"return_sequences", true}}),
      bidirectional("sum", "LSTM", {{"units", 4}}),
      layer("Dense", {{"units", 3}, {"activation", "softmax"}}),
  });
  Tensor ids = Tensor::from_shape({16, 8});
  for (std::size_t i = 0; i < ids.size(); ++i) ids.data()[i] = float((i * 7) % 20);
  Tensor y = Tensor::from_shape({16});
  for (std::size_t i = 0; i < 16; ++i) y(i) = static_cast<float>(i % 3);
  auto model = Sequential::from_config({{"layers", layers}}, builtins());
  model->build({8}, 3);
  model->compile(builtins().create_optimizer("Adam", Json::object()),
                 builtins().create_loss("sparse_categorical_crossentropy", Json::object()),
                 "sparse_categorical_crossentropy", {});
  Tensor dy;
  step_allocations(*model, ids, y, dy);
  for (int batch = 1; batch < 5; ++batch) CHECK(step_allocations(*model, ids, y, dy) == 0);
}

TEST_CASE("with 2 threads the recurrent layers allocate nothing per batch, the row split included") {
  auto layer = [](const char* class_name, Json config) { return Json{{"class_name", class_name}, {"config", config}}; };
  // Large enough that recurrent.cpp splits the batch rows and the gradient columns.
  const Json layers = Json::array({
      layer("LSTM", {{"units", 32}, {"return_sequences", true}, {"recurrent_dropout", 0.2}}),
      layer("GRU", {{"units", 24}, {"return_sequences", true}, {"reset_after", false}}),
      layer("GRU", {{"units", 24}}),
      layer("Dense", {{"units", 3}, {"activation", "softmax"}}),
  });
  Rng rng(4);
  Tensor x = Tensor::from_shape({32, 7, 3});
  for (auto& v : x) v = static_cast<float>(rng.normal());
  Tensor y = Tensor::from_shape({32});
  for (std::size_t i = 0; i < 32; ++i) y(i) = static_cast<float>(i % 3);
  auto model = Sequential::from_config({{"layers", layers}}, builtins());
  model->build({7, 3}, 3);
  model->compile(builtins().create_optimizer("Adam", Json::object()),
                 builtins().create_loss("sparse_categorical_crossentropy", Json::object()),
                 "sparse_categorical_crossentropy", {});
  set_threads(2);
  Tensor dy;
  step_allocations(*model, x, y, dy);  // sizes the buffers
  for (int batch = 1; batch < 5; ++batch) CHECK(step_allocations(*model, x, y, dy) == 0);
  set_threads(1);
}
