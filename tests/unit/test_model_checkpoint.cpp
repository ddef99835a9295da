// ModelCheckpoint against Keras's documented behaviour, on crafted metric sequences.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>

#include <plugfit/registry.hpp>

#include "checkpoint/dir_backend.hpp"
#include "checkpoint/record.hpp"
#include "builtins/builtins.hpp"
#include "training/callback_access.hpp"
#include "training/model_checkpoint.hpp"
#include "training/session.hpp"
#include "test_support.hpp"

using namespace plugfit;
namespace fs = std::filesystem;

namespace {

struct Harness {
  test::TempDir temp;
  fs::path dir = temp.path;
  Registry registry;
  std::unique_ptr<Sequential> model;
  std::unique_ptr<FitSession> session;

  Harness() {
    register_builtins(registry);
    model = Sequential::from_config({{"layers", {{{"class_name", "Dense"}, {"config", {{"units", 2}}}}}}}, registry);
    model->build({3}, 0);
    const Json compile = {{"optimizer", "adam"}, {"loss", "mse"}, {"metrics", {"accuracy", "mse"}}};
    compile_from_config(*model, compile, registry);
    session = std::make_unique<FitSession>(*model, registry, nullptr, compile, 0);
  }

  std::unique_ptr<Callback> make(Json config) {
    config["filepath"] = (dir / config["filepath"].get<std::string>()).string();
    auto cb = registry.create_callback("ModelCheckpoint", config);
    CallbackAccess::set_model(*cb, model.get());
    CallbackAccess::set_session(*cb, session.get());
    Logs logs;
    cb->on_train_begin(logs);
    return cb;
  }
  // Runs on_epoch_end for each value of the monitored metric.
  void epochs(Callback& cb, const std::vector<double>& values, const std::string& key = "val_loss", int first = 0) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      Logs logs;
      logs["loss"] = 1.0;
      logs[key] = values[i];
      const int epoch = first + static_cast<int>(i);
      session->set_position({epoch + 1, 0, 10 * (epoch + 1), 0});  // as fit() does before on_epoch_end
      cb.on_epoch_end(epoch, logs);
    }
  }
  std::vector<std::string> saved(const std::string& folder = "ckpts") const { return DirBackend(dir / folder).list(); }
};

}  // namespace

TEST_CASE("every epoch by default, named by the template with 1-based epochs") {
  Harness h;
  auto cb = h.make({{"filepath", "ckpts/m.{epoch:02d}-{val_loss:.2f}"}});
  h.epochs(*cb, {0.5, 0.6});
  CHECK(h.saved() == std::vector<std::string>{"m.01-0.50", "m.02-0.60"});
}

TEST_CASE("save_best_only saves on improvement only, in mode min for a loss") {
  Harness h;
  auto cb = h.make({{"filepath", "ckpts/e{epoch}"}, {"save_best_only", true}});
  h.epochs(*cb, {0.5, 0.4, 0.45, 0.3, 0.3});
  CHECK(h.saved() == std::vector<std::string>{"e1", "e2", "e4"});
  CHECK(DirBackend(h.dir / "ckpts").read_index()["best"]["name"] == "e4");
}

TEST_CASE("mode auto maximizes accuracy and minimizes mse, from the compiled metrics") {
  Harness h;
  auto acc = h.make({{"filepath", "acc/e{epoch}"}, {"monitor", "val_accuracy"}, {"save_best_only", true}});
  h.epochs(*acc, {0.5, 0.7, 0.6}, "val_accuracy");
  CHECK(h.saved("acc") == std::vector<std::string>{"e1", "e2"});
  auto mse = h.make({{"filepath", "mse/e{epoch}"}, {"monitor", "mse"}, {"save_best_only", true}});
  h.epochs(*mse, {0.5, 0.7, 0.4}, "mse");
  CHECK(h.saved("mse") == std::vector<std::string>{"e1", "e3"});
  CHECK_THROWS_WITH_AS(h.make({{"filepath", "x/e"}, {"monitor", "val_f1"}}),
                       doctest::Contains("cannot tell whether \"val_f1\" should be maximized or minimized"), InputError);
}

TEST_CASE("initial_value_threshold seeds best") {
  Harness h;
  auto cb = h.make({{"filepath", "ckpts/e{epoch}"}, {"save_best_only", true}, {"initial_value_threshold", 0.35}});
  h.epochs(*cb, {0.5, 0.4, 0.3});
  CHECK(h.saved() == std::vector<std::string>{"e3"});
}

TEST_CASE("save_top_k keeps the k best, save_last keeps the latest under \"last\"") {
  Harness h;
  auto cb = h.make({{"filepath", "ckpts/e{epoch}"}, {"save_top_k", 2}, {"save_last", true}});
  h.epochs(*cb, {0.5, 0.2, 0.4, 0.3, 0.9});
  auto names = h.saved();
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"e2", "e4", "last"});
  CHECK(DirBackend(h.dir / "ckpts").load("last").info["epoch"] == 5);
}

TEST_CASE("save_freq counts batches across epochs and fills {batch}") {
  Harness h;
  auto cb = h.make({{"filepath", "ckpts/b{batch}"}, {"save_freq", 3}, {"monitor", "loss"}});
  Logs logs;
  logs["loss"] = 1.0;
  for (std::int64_t b = 0; b < 7; ++b) cb->on_train_batch_end(b, logs);
  cb->on_epoch_end(0, logs);
  CHECK(h.saved() == std::vector<std::string>{"b3", "b6"});
}

TEST_CASE("save_weights_only writes weights-only records; full records restore Adam") {
  Harness h;
  auto weights = h.make({{"filepath", "w/only"}, {"save_weights_only", true}});
  h.epochs(*weights, {0.5});
  const CheckpointRecord record = DirBackend(h.dir / "w").load("only");
  CHECK(record.info["kind"] == "weights");
  CHECK(record.find("weights/dense/kernel") != nullptr);
  CHECK(record.find("optimizer/m/dense/kernel") == nullptr);
}

TEST_CASE("best survives a resume (the Keras bug), and the state key names the checkpoint") {
  Harness h;
  auto first = h.make({{"filepath", "ckpts/e{epoch}"}, {"save_best_only", true}});
  h.epochs(*first, {0.5, 0.3});
  const Json state = first->state();
  CHECK(state["best"] == 0.3);
  auto resumed = h.make({{"filepath", "ckpts/e{epoch}"}, {"save_best_only", true}});
  resumed->load_state(state);
  h.epochs(*resumed, {0.4, 0.35, 0.2}, "val_loss", 2);
  CHECK(h.saved() == std::vector<std::string>{"e1", "e2", "e5"});
  CHECK(first->state_key() == resumed->state_key());
}

TEST_CASE("options are checked: unknown keys, bad modes, escaping paths, missing template keys") {
  Harness h;
  CHECK_THROWS_WITH_AS(h.make({{"filepath", "c/x"}, {"save_best_onyl", true}}),
                       doctest::Contains("ModelCheckpoint has no option \"save_best_onyl\""), InputError);
  CHECK_THROWS_WITH_AS(h.make({{"filepath", "c/x"}, {"mode", "up"}}), doctest::Contains("mode must be"), InputError);
  CHECK_THROWS_WITH_AS(h.make({{"filepath", "c/../../x"}}), doctest::Contains("would write outside"), InputError);
  // Issue 15: a '..' right after the scheme got past the check.
  for (const char* escaping : {"dir:../x/best", "hdf5:../x.h5", "sqlite:../m.db/best", "dir:a/../../b/c", "../m.keras"})
    CHECK_THROWS_WITH_AS(h.registry.create_callback("ModelCheckpoint", {{"filepath", escaping}}),
                         doctest::Contains("would write outside"), InputError);
  auto cb = h.make({{"filepath", "c/{val_acc:.2f}"}});
  CHECK_THROWS_WITH_AS(h.epochs(*cb, {0.5}), doctest::Contains("no \"val_acc\" in the logs"), InputError);
}

TEST_CASE("a Keras file suffix follows Keras 3's rule: .keras is a whole model, .weights.h5 weights only") {
  Harness h;
  CHECK_THROWS_WITH_AS(h.make({{"filepath", "c/m.keras"}, {"save_weights_only", true}}),
                       doctest::Contains("must end in .weights.h5"), InputError);
  CHECK_THROWS_WITH_AS(h.make({{"filepath", "c/m.weights.h5"}}), doctest::Contains("holds weights only"), InputError);
  CHECK_NOTHROW(h.make({{"filepath", "c/m.keras"}}));
  CHECK_NOTHROW(h.make({{"filepath", "c/m.weights.h5"}, {"save_weights_only", true}}));
  CHECK_NOTHROW(h.make({{"filepath", "c/m.h5"}, {"save_weights_only", true}}));  // Keras 2's weights .h5
}
