// The hdf5: backend plugin on real files: round trips bit for bit (a trained model's record with
// its Adam slots, and odd tensors: NaN, -0, scalars, empty, names that do not fit Keras's
// layout), list order, replace, remove, the index, the store's layout (FILE the latest, the others
// hard-linked into FILE.checkpoints/, a crash's leftovers), damage detected (a flipped byte in a
// dataset or in the metadata, a truncated file), a file-size limit hit mid-save leaving the old
// files, and the two real Keras files in ../shared/keras_files read as Keras reads them (values
// checked against h5py), the user's file kept byte for byte by the first save.
#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "checkpoint/record.hpp"
#include "checkpoint/store.hpp"
#include "plugin_loading/loader.hpp"
#include "test_skip.hpp"
#include "test_support.hpp"
#include "training/fit.hpp"

using namespace plugfit;
using namespace plugfit::test;
namespace fs = std::filesystem;

namespace {

// Built-in types and the plugin, loaded by name from the build tree as the host does.
struct Host {
  Registry registry;
  PluginLoader loader;
  Host() : loader(make_builtins(registry)) {}
  std::unique_ptr<CheckpointBackend> open(const fs::path& file) {
    return open_backend(parse_checkpoint_uri("hdf5:" + file.string()), registry, &loader);
  }
};

bool same_bits(const NamedTensor& a, const NamedTensor& b) {
  return a.name == b.name && a.shape == b.shape && a.values.size() == b.values.size() &&
         plugfit::test::same_memory(a.values.data(), b.values.data(), a.values.size() * sizeof(float));
}

void check_same(const CheckpointRecord& got, const CheckpointRecord& want) {
  CHECK(got.info == want.info);
  REQUIRE(got.tensors.size() == want.tensors.size());
  for (std::size_t i = 0; i < want.tensors.size(); ++i)
    CHECK_MESSAGE(same_bits(got.tensors[i], want.tensors[i]), want.tensors[i].name);
}

CheckpointRecord sample(float base, std::size_t n = 1000) {
  CheckpointRecord r;
  r.info = {{"kind", "full"},
            {"epoch", static_cast<int>(base)},
            {"note", "ünïcödé and spaces"},
            {"rng", {std::numeric_limits<std::uint64_t>::max(), 1}},
            {"lr", 0.1}};
  NamedTensor kernel{"weights/dense/kernel", {n / 10, 10}, std::vector<float>(n)};
  NamedTensor moment{"optimizer/m/dense/kernel", {n / 10, 10}, std::vector<float>(n)};
  for (std::size_t i = 0; i < n; ++i) {
    kernel.values[i] = base + static_cast<float>(i) * 1e-3f;
    moment.values[i] = -kernel.values[i];
  }
  r.tensors = {kernel,
               {"weights/dense/bias", {10}, std::vector<float>(10, base)},
               moment,
               {"weights/scale factor ü", {}, {base}},
               {"weights/empty/none", {0}, {}},
               {"weights/odd/./name",
                {4},
                {std::numeric_limits<float>::quiet_NaN(), -0.f, std::numeric_limits<float>::infinity(),
                 std::numeric_limits<float>::denorm_min()}},
               {"weights/l/k", {1}, {1.f}},
               {"weights/l/k/j", {1}, {2.f}},  // would need k as a group and a dataset
               {"misc/100%/x", {2}, {3.f, 4.f}}};
  return r;
}

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Flips one bit of the byte at the first place where needle occurs in the file.
void flip_at(const fs::path& file, const std::string& needle, std::size_t offset) {
  const std::string bytes = read_bytes(file);
  const auto at = bytes.find(needle);
  REQUIRE(at != std::string::npos);
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(at + offset));
  f.put(static_cast<char>(bytes[at + offset] ^ 0x10));
}

// Nothing but FILE and its sidecar beside FILE, and no temporary in the sidecar.
void check_no_temporaries(const fs::path& file) {
  for (const auto& entry : fs::directory_iterator(file.parent_path())) {
    const std::string leaf = entry.path().filename().string();
    CHECK_MESSAGE((leaf == file.filename().string() || leaf == file.filename().string() + ".checkpoints"), leaf);
  }
  if (!fs::exists(file.string() + ".checkpoints")) return;  // one checkpoint: FILE alone
  for (const auto& entry : fs::directory_iterator(file.string() + ".checkpoints"))
    CHECK_MESSAGE(entry.path().filename().string().rfind(".tmp-", 0) != 0, entry.path());
}

ino_t inode_of(const fs::path& file) {
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  return st.st_ino;
}

std::string float_bytes(const std::vector<float>& values, std::size_t from, std::size_t count) {
  return std::string(reinterpret_cast<const char*>(values.data() + from), count * sizeof(float));
}

// ../shared/keras_files beside the source tree: this file is SOURCE/tests/unit/; meson names it
// relative to the build root, which holds the test plugins' folder two levels down.
fs::path keras_files() {
  fs::path source = __FILE__;
  if (source.is_relative()) source = fs::path(PLUGFIT_TEST_PLUGIN_DIR).parent_path().parent_path() / source;
  source = source.lexically_normal();  // SOURCE/tests/unit/test_hdf5_backend.cpp
  return source.parent_path().parent_path().parent_path().parent_path() / "shared" / "keras_files";
}

// A plain clone has no ../shared: the Keras cases skip (meson's test_hdf5_keras_files).
bool keras_files_missing() {
  if (fs::is_directory(keras_files())) return false;
  skip_test_case("../shared/keras_files is not beside this clone (CI lays it out; see README)");
  return true;
}

// A copy of one Keras file in dir (the originals are never written).
fs::path keras_copy(const TempDir& dir, const std::string& name) {
  const fs::path original = keras_files() / name;
  REQUIRE_MESSAGE(fs::exists(original), "the Keras sample " << original << " is missing");
  fs::copy_file(original, dir.path / name);
  fs::permissions(dir.path / name, fs::perms::owner_write, fs::perm_options::add);
  return dir.path / name;
}

const NamedTensor& tensor(const CheckpointRecord& r, const std::string& name) {
  const NamedTensor* t = r.find(name);
  REQUIRE_MESSAGE(t != nullptr, name);
  return *t;
}

// x @ kernel + bias, then the activation, in double.
std::vector<double> dense(const std::vector<double>& x, std::size_t rows, const NamedTensor& kernel,
                          const NamedTensor& bias, const std::string& activation) {
  const std::size_t in = kernel.shape[0], out = kernel.shape[1];
  std::vector<double> y(rows * out);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < out; ++j) {
      double s = bias.values[j];
      for (std::size_t i = 0; i < in; ++i) s += x[r * in + i] * kernel.values[i * out + j];
      y[r * out + j] = activation == "relu"      ? std::max(s, 0.0)
                       : activation == "sigmoid" ? 1.0 / (1.0 + std::exp(-s))
                                                 : s;
    }
  return y;
}

Dataset inputs(std::size_t rows, std::size_t features) {
  Dataset d;
  d.x = Tensor::from_shape({rows, features});
  for (std::size_t i = 0; i < d.x.size(); ++i) d.x.data()[i] = std::sin(static_cast<float>(i) * 0.37f);
  return d;
}

}  // namespace

TEST_CASE("a trained model's full record round-trips bit for bit, and rebuilds the same model") {
  TempDir dir;
  Host host;
  auto model = Sequential::from_config(Json::parse(R"({"layers": [
      {"class_name": "Dense", "config": {"units": 8, "activation": "relu"}},
      {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}]})"),
                                       host.registry);
  model->build({4}, 1);
  const Json compile = {{"optimizer", "Adam"}, {"loss", "sparse_categorical_crossentropy"}, {"metrics", {"accuracy"}}};
  compile_from_config(*model, compile, host.registry);
  FitOptions options;
  options.verbose = 0;
  options.batch_size = 16;
  fit(*model, load_dataset("synthetic:samples=64,features=4,classes=3"), options, {});
  const CheckpointRecord record = capture_record(*model, host.registry, compile, {1, 0, 4, 1}, {}, Logs{}, false);
  REQUIRE(record.find("optimizer/v/dense_1/kernel") != nullptr);

  auto backend = host.open(dir.path / "run.h5");
  CHECK(backend->uri() == "hdf5:" + (dir.path / "run.h5").string());
  backend->save("ckpt-0001", record);
  const CheckpointRecord back = backend->load("ckpt-0001");
  check_same(back, record);
  auto rebuilt = model_from_record(back, host.registry, host.loader);
  REQUIRE(rebuilt->parameters().size() == model->parameters().size());
  CHECK(plugfit::test::same_memory(rebuilt->parameters().data(), model->parameters().data(), model->parameters().size_bytes()));
  CHECK(rebuilt->optimizer()->iterations() == model->optimizer()->iterations());
}

TEST_CASE("odd tensors and names round-trip; list keeps save order; replace, remove and the index") {
  TempDir dir;
  Host host;
  auto backend = host.open(dir.path / "sub folder" / "ckpts ü.h5");
  CHECK(backend->list().empty());
  CHECK(backend->read_index() == Json::object());
  const auto first = sample(1.f), second = sample(2.f), third = sample(3.f);
  backend->save("ckpt one", first);
  backend->save("ünïcödé ✓", second);
  backend->save("third", third);
  CHECK(backend->list() == std::vector<std::string>{"ckpt one", "ünïcödé ✓", "third"});
  check_same(backend->load("ckpt one"), first);
  check_same(backend->load("ünïcödé ✓"), second);

  backend->write_index({{"latest", "third"}, {"note", "ü"}});
  backend->save("ckpt one", sample(5.f));  // a re-save replaces the record and moves it last
  CHECK(backend->list() == std::vector<std::string>{"ünïcödé ✓", "third", "ckpt one"});
  CHECK(backend->load("ckpt one").info["epoch"] == 5);
  CHECK(backend->read_index()["note"] == "ü");  // saves keep the index

  backend->remove("ünïcödé ✓");
  backend->remove("never saved");
  CHECK(backend->list() == std::vector<std::string>{"third", "ckpt one"});
  check_same(backend->load("third"), third);
  CHECK_THROWS_WITH_AS(backend->load("ünïcödé ✓"), doctest::Contains("does not exist"), InputError);
  for (const char* bad : {"../escape", "a/b", "..", ".hidden", ""}) {
    CHECK_THROWS_AS(backend->save(bad, first), InputError);
    CHECK_THROWS_AS(backend->load(bad), InputError);
  }
  check_no_temporaries(dir.path / "sub folder" / "ckpts ü.h5");

  CheckpointRecord bad = sample(1.f);
  bad.tensors[1].values.pop_back();
  CHECK_THROWS_WITH_AS(backend->save("bad", bad), doctest::Contains("holds 9 values, which do not fill its shape"), RuntimeFailure);
  CHECK(backend->list().size() == 2);
}

TEST_CASE("the store: FILE holds the latest checkpoint, the others are hard-linked into FILE.checkpoints/") {
  TempDir dir;
  Host host;
  const fs::path file = dir.path / "run.h5", side = dir.path / "run.h5.checkpoints";
  auto backend = host.open(file);
  backend->save("a", sample(1.f));
  const ino_t first = inode_of(file);
  backend->save("b", sample(2.f));
  CHECK(inode_of(side / "a.h5") == first);  // moved aside by a link, not rewritten
  backend->save("c", sample(3.f));
  backend->write_index({{"latest", "c"}});
  CHECK(fs::exists(side / "b.h5"));
  CHECK_FALSE(fs::exists(side / "c.h5"));
  CHECK(Json::parse(read_bytes(side / "index.json")) == Json({{"latest", "c"}}));
  CHECK(backend->list() == std::vector<std::string>{"a", "b", "c"});

  // Re-saving a sidecar checkpoint puts it in FILE and removes its older copy.
  backend->save("a", sample(4.f));
  CHECK_FALSE(fs::exists(side / "a.h5"));
  CHECK(backend->list() == std::vector<std::string>{"b", "c", "a"});
  check_same(backend->load("a"), sample(4.f));

  // A crash between the link and the rename leaves FILE's checkpoint twice: listed once.
  REQUIRE(::link(file.c_str(), (side / "a.h5").c_str()) == 0);
  CHECK(backend->list() == std::vector<std::string>{"b", "c", "a"});
  // A crash after the rename leaves an older copy beside the new FILE: FILE's wins.
  fs::remove(side / "a.h5");
  fs::copy_file(side / "b.h5", side / "a.h5");
  CHECK(backend->list() == std::vector<std::string>{"b", "c", "a"});
  check_same(backend->load("a"), sample(4.f));
  backend->save("d", sample(5.f));  // moving FILE aside replaces that older copy
  check_same(backend->load("a"), sample(4.f));

  // A damaged save-order cache is only a cache: every file is read instead.
  std::ofstream(side / ".save_order.json", std::ios::trunc) << "[[1, 2";
  CHECK(host.open(file)->list() == std::vector<std::string>{"b", "c", "a", "d"});

  // Temporaries of a writer that died are removed by the next write; a live writer's are kept.
  const pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, nullptr, 0);
  const std::string stale = ".tmp-" + std::to_string(dead) + "-0";
  std::ofstream(file.string() + stale) << "x";
  std::ofstream(side / (stale + ".h5")) << "x";
  std::ofstream(side / (".tmp-" + std::to_string(::getpid()) + "-999")) << "x";
  backend->write_index({{"latest", "d"}});
  CHECK_FALSE(fs::exists(file.string() + stale));
  CHECK_FALSE(fs::exists(side / (stale + ".h5")));
  CHECK(fs::exists(side / (".tmp-" + std::to_string(::getpid()) + "-999")));
  fs::remove(side / (".tmp-" + std::to_string(::getpid()) + "-999"));

  // Removing FILE's checkpoint moves the newest other one into FILE; removing the last, FILE.
  backend->remove("d");
  CHECK(backend->list() == std::vector<std::string>{"b", "c", "a"});
  CHECK_FALSE(fs::exists(side / "a.h5"));
  check_same(backend->load("a"), sample(4.f));
  backend->remove("b");
  backend->remove("a");
  CHECK(backend->list() == std::vector<std::string>{"c"});
  check_same(backend->load("c"), sample(3.f));
  backend->remove("c");
  CHECK(backend->list().empty());
  CHECK_FALSE(fs::exists(file));
  CHECK(backend->read_index() == Json({{"latest", "d"}}));
  check_no_temporaries(file);
}

TEST_CASE("the sidecar's files take FILE's format by its name: .keras, .weights.h5, .hdf5, other names .h5") {
  TempDir dir;
  Host host;
  for (const auto& [name, ext] : std::vector<std::pair<std::string, std::string>>{
           {"run.keras", ".keras"}, {"run.weights.h5", ".weights.h5"}, {"run.hdf5", ".hdf5"}, {"run", ".h5"}}) {
    auto backend = host.open(dir.path / name);
    backend->save("first", sample(1.f));
    backend->save("index", sample(2.f));  // "index" never meets index.json
    backend->write_index({{"latest", "index"}});
    CHECK_MESSAGE(fs::exists(dir.path / (name + ".checkpoints") / ("first" + ext)), name);
    CHECK(backend->list() == std::vector<std::string>{"first", "index"});
    check_same(backend->load("first"), sample(1.f));
  }
}

TEST_CASE("a flipped byte in a dataset or in the metadata, and a truncated file, are detected") {
  TempDir dir;
  Host host;
  const fs::path file = dir.path / "run.h5", older = dir.path / "run.h5.checkpoints" / "damaged.h5";
  auto backend = host.open(file);
  const auto damaged = sample(7.f), intact = sample(8.f);
  backend->save("damaged", damaged);
  backend->save("intact", intact);
  SUBCASE("flipped byte in a dataset") {
    flip_at(older, float_bytes(damaged.tensors[0].values, 100, 4), 5);
    CHECK_THROWS_WITH_AS(backend->load("damaged"), doctest::Contains("damaged.h5"), CheckpointCorrupt);
    check_same(backend->load("intact"), intact);
  }
  SUBCASE("flipped byte in the info JSON") {
    flip_at(older, "\"epoch\":7", 8);
    CHECK_THROWS_WITH_AS(backend->load("damaged"), doctest::Contains("damaged.h5"), CheckpointCorrupt);
    check_same(backend->load("intact"), intact);
  }
  SUBCASE("truncated file") {
    fs::resize_file(file, fs::file_size(file) / 2);
    CHECK_THROWS_WITH_AS(backend->load("intact"), doctest::Contains(file.c_str()), CheckpointCorrupt);
    CHECK_THROWS_AS(backend->list(), CheckpointCorrupt);
    check_same(backend->load("damaged"), damaged);  // the other checkpoints stay loadable
    // A save never moves aside a file whose checkpoint it cannot name: it would be lost.
    CHECK_THROWS_WITH_AS(backend->save("new", intact), doctest::Contains("saving checkpoint \"new\" to hdf5:"),
                         RuntimeFailure);
  }
}

TEST_CASE("a file-size limit hit mid-save fails the save, naming the file, and keeps the old file") {
  TempDir dir;
  Host host;
  const fs::path file = dir.path / "run.h5";
  auto backend = host.open(file);
  backend->save("c", sample(1.f, 1000));
  const std::string before = read_bytes(file);
  const pid_t child = fork();
  if (child == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{200000, 200000};  // bytes: the old file fits, the new 4 MB tensor does not
    setrlimit(RLIMIT_FSIZE, &limit);
    try {
      backend->save("c", sample(2.f, 1000000));
      _exit(3);  // should not succeed
    } catch (const RuntimeFailure& e) {
      const std::string what = e.what();
      _exit(what.find("File too large") != std::string::npos && what.find(file.string()) != std::string::npos ? 0 : 4);
    } catch (...) {
      _exit(5);
    }
  }
  int status = 0;
  waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(read_bytes(file) == before);  // untouched
  check_same(backend->load("c"), sample(1.f, 1000));
  check_no_temporaries(file);
}

TEST_CASE("Keras 3's full-model .h5 reads as one checkpoint: config, weights, compile and Adam state") {
  if (keras_files_missing()) return;
  TempDir dir;
  Host host;
  const fs::path file = keras_copy(dir, "keras3_churn_full_model.h5");
  auto backend = host.open(file);
  CHECK(backend->list() == std::vector<std::string>{"keras"});
  const CheckpointRecord r = backend->load("keras");
  const Json& info = r.info;
  CHECK(info["kind"] == "full");
  CHECK(info["input_shape"] == Json::array({12}));
  CHECK(info["model"]["config"]["layers"][0]["class_name"] == "InputLayer");
  CHECK(info["model"]["config"]["layers"][3]["config"]["activation"] == "sigmoid");
  CHECK(info["compile"]["optimizer"]["class_name"] == "Adam");
  CHECK(info["compile"]["loss"]["class_name"] == "BinaryCrossentropy");
  CHECK(info["compile"]["metrics"] == Json::array({"accuracy"}));
  CHECK(info["optimizer"]["iterations"] == 4500);
  CHECK(info["optimizer"]["learning_rate"].get<double>() == static_cast<double>(0.009999999776482582f));
  CHECK(info["training"]["global_step"] == 4500);

  // Values as h5py reads them (model_weights/dense_6/sequential_2/dense_6/kernel, ...).
  const NamedTensor& k6 = tensor(r, "weights/dense_6/kernel");
  CHECK(k6.shape == Shape{12, 64});
  CHECK(k6.values[0] == -0.5499871969223022f);
  CHECK(k6.values[1] == 0.19676384329795837f);
  CHECK(k6.values[2] == 0.11696780472993851f);
  CHECK(k6.values.back() == 0.19796262681484222f);
  CHECK(tensor(r, "weights/dense_6/bias").values[0] == -0.878734290599823f);
  CHECK(tensor(r, "weights/dense_7/kernel").shape == Shape{64, 32});
  CHECK(tensor(r, "weights/dense_7/bias").values[1] == 0.8726141452789307f);
  CHECK(tensor(r, "weights/dense_8/kernel").shape == Shape{32, 1});
  CHECK(tensor(r, "weights/dense_8/kernel").values.back() == 0.49022185802459717f);
  CHECK(tensor(r, "weights/dense_8/bias").values == std::vector<float>{-0.4658878445625305f});
  // momentum -> m, velocity -> v, matched to the weights in order.
  CHECK(tensor(r, "optimizer/m/dense_6/kernel").values[0] == -0.0012255371548235416f);
  CHECK(tensor(r, "optimizer/m/dense_6/kernel").values[1] == 0.0009018727578222752f);
  CHECK(tensor(r, "optimizer/v/dense_6/kernel").values[0] == 6.345591827994213e-05f);
  CHECK(tensor(r, "optimizer/m/dense_8/bias").values[0] == 0.01680753566324711f);
  CHECK(tensor(r, "optimizer/v/dense_8/bias").values[0] == 0.0031922878697514534f);

  // The model plugfit rebuilds predicts as x @ kernel + bias through the file's layers.
  auto model = model_from_record(r, host.registry, host.loader);
  CHECK(model->optimizer()->iterations() == 4500);
  const Dataset x = inputs(5, 12);
  const Tensor got = predict(*model, x, 8);
  std::vector<double> h(x.x.begin(), x.x.end());
  h = dense(h, 5, k6, tensor(r, "weights/dense_6/bias"), "relu");
  h = dense(h, 5, tensor(r, "weights/dense_7/kernel"), tensor(r, "weights/dense_7/bias"), "relu");
  h = dense(h, 5, tensor(r, "weights/dense_8/kernel"), tensor(r, "weights/dense_8/bias"), "sigmoid");
  REQUIRE(got.size() == 5);
  for (std::size_t i = 0; i < 5; ++i) CHECK(std::abs(got.data()[i] - h[i]) < 1e-5);

  // The first save keeps the user's file byte for byte as FILE.checkpoints/keras.h5 (the same
  // inode: a hard link), still checkpoint "keras"; FILE is the new checkpoint.
  const std::string original = read_bytes(file);
  const ino_t inode = inode_of(file);
  backend->save("next", sample(1.f));
  CHECK(backend->list() == std::vector<std::string>{"keras", "next"});
  const fs::path kept = file.string() + ".checkpoints/keras.h5";
  CHECK(read_bytes(kept) == original);
  CHECK(inode_of(kept) == inode);
  check_same(backend->load("keras"), r);
  check_same(backend->load("next"), sample(1.f));
  backend->save("after", sample(2.f));
  CHECK(read_bytes(kept) == original);
  CHECK(backend->list() == std::vector<std::string>{"keras", "next", "after"});
}

TEST_CASE("Keras 2's weights-only .h5 loads by position into the matching model, with Keras's count errors") {
  if (keras_files_missing()) return;
  TempDir dir;
  Host host;
  auto backend = host.open(keras_copy(dir, "keras2_fraud_weights_only.h5"));
  CHECK(backend->list() == std::vector<std::string>{"keras"});
  const CheckpointRecord r = backend->load("keras");
  CHECK(r.info["kind"] == "weights");
  CHECK_FALSE(r.info.contains("model"));
  const Json& keras = r.info["keras"];
  CHECK(keras["weights_by_position"] == true);
  CHECK(keras["keras_version"] == "2.0.5");
  REQUIRE(keras["layers"].size() == 6);
  CHECK(keras["layers"][2]["name"] == "dropout_1");
  CHECK(keras["layers"][2]["weights"].empty());
  CHECK(keras["layers"][0]["weights"] == Json::array({"weights/dense_1/kernel", "weights/dense_1/bias"}));

  const NamedTensor& k1 = tensor(r, "weights/dense_1/kernel");  // dense_1/dense_1/kernel:0
  CHECK(k1.shape == Shape{30, 16});
  CHECK(k1.values[0] == -0.18064691126346588f);
  CHECK(k1.values[1] == -0.08705340325832367f);
  CHECK(k1.values[2] == 0.567237138748169f);
  CHECK(k1.values.back() == 0.009296155534684658f);
  CHECK(tensor(r, "weights/dense_1/bias").values[1] == 0.6364055275917053f);
  CHECK(tensor(r, "weights/dense_2/kernel").shape == Shape{16, 18});
  CHECK(tensor(r, "weights/dense_3/kernel").shape == Shape{18, 20});
  CHECK(tensor(r, "weights/dense_4/kernel").shape == Shape{20, 24});
  CHECK(tensor(r, "weights/dense_5/kernel").values[0] == -0.07866648584604263f);
  CHECK(tensor(r, "weights/dense_5/bias").values == std::vector<float>{1.5532437562942505f});

  auto build = [&](std::vector<std::size_t> units) {
    Json layers = Json::array();
    for (std::size_t i = 0; i < units.size(); ++i) {
      layers.push_back({{"class_name", "Dense"}, {"config", {{"units", units[i]}}}});
      if (i == 1) layers.push_back({{"class_name", "Dropout"}, {"config", {{"rate", 0.5}}}});
    }
    auto model = Sequential::from_config({{"layers", layers}}, host.registry);
    model->build({30}, 1);
    return model;
  };
  auto model = build({16, 18, 20, 24, 1});
  restore_weights(*model, r);
  CHECK(std::equal(k1.values.begin(), k1.values.end(), model->weights()[0]->value_data));
  CHECK(model->weights().back()->value_data[0] == 1.5532437562942505f);
  CHECK_THROWS_WITH_AS(
      restore_weights(*build({16, 18, 20, 1}), r),
      "Layer count mismatch when loading weights from file. Model expected 4 layers, found 5 saved layers.",
      InputError);
}
