// Every "known: ..." list printed for an unknown name or option comes from the table the parser
// reads: the registry's names, the keys a type's Config reads, the loader's plugins. A new
// option, callback or backend the lists miss fails here.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <sstream>
#include <string>

#include "checkpoint/store.hpp"
#include "plugin_loading/loader.hpp"
#include "test_support.hpp"

using namespace plugfit;

namespace {

// The names inside "(it knows: a, b, c)" or "(known: a, b; ...)" of an error message.
std::set<std::string> listed(const std::string& message, const std::string& opener) {
  const auto start = message.find(opener);
  REQUIRE_MESSAGE(start != std::string::npos, message);
  const auto begin = start + opener.size();
  const auto end = message.find_first_of(";)", begin);
  std::set<std::string> names;
  std::stringstream items(message.substr(begin, end - begin));
  for (std::string item; std::getline(items, item, ',');) names.insert(item.substr(item.find_first_not_of(' ')));
  return names;
}

std::string creation_error(TypeKind kind, const std::string& name, Json config) {
  config["no_such_option"] = 1;
  try {
    if (kind == TypeKind::callback) (void)test::builtins().create_callback(name, config);
    else if (kind == TypeKind::optimizer) (void)test::builtins().create_optimizer(name, config);
    else (void)test::builtins().create_loss(name, config);
  } catch (const InputError& e) {
    return e.what();
  }
  FAIL("no error for an unknown option of ", name);
  return "";
}

}  // namespace

TEST_CASE("each built-in callback's unknown-option list is every option it documents") {
  const test::TempDir dir;
  const std::string folder = (dir.path / "c").string();
  // The README's callback table (and Keras's double_checkpoint, refused when true); required options get a
  // value so that construction reaches the check.
  struct Expected {
    Json required;
    std::set<std::string> options;
  };
  const std::map<std::string, Expected> documented = {
      {"ModelCheckpoint",
       {{{"filepath", "dir:" + folder + "/m"}},
        {"filepath", "monitor", "mode", "save_best_only", "save_weights_only", "save_freq", "initial_value_threshold",
         "verbose", "save_top_k", "save_last", "async"}}},
      {"EarlyStopping",
       {Json::object(),
        {"monitor", "min_delta", "patience", "verbose", "mode", "baseline", "restore_best_weights",
         "start_from_epoch"}}},
      {"ReduceLROnPlateau",
       {Json::object(), {"monitor", "factor", "patience", "verbose", "mode", "min_delta", "cooldown", "min_lr"}}},
      {"LearningRateScheduler",
       {{{"schedule",
          {{"class_name", "step"}, {"config", {{"initial_learning_rate", 0.1}, {"drop", 0.5}, {"every", 2}}}}}},
        {"schedule", "verbose"}}},
      {"CSVLogger", {{{"filename", folder + ".csv"}}, {"filename", "separator", "append"}}},
      {"TerminateOnNaN", {Json::object(), {"raise_error"}}},
      {"BackupAndRestore", {{{"backup_dir", "dir:" + folder}}, {"backup_dir", "save_freq", "delete_checkpoint", "double_checkpoint"}}},
      {"HistoryPlot", {Json::object(), {"filename", "title"}}},
      {"JsonLinesLogger", {{{"filename", folder + ".jsonl"}}, {"filename", "append"}}},
  };
  std::set<std::string> registered;
  for (const auto& name : test::builtins().names(TypeKind::callback)) registered.insert(name);
  std::set<std::string> covered;
  for (const auto& [name, expected] : documented) covered.insert(name);
  CHECK(registered == covered);  // a new built-in callback needs its row here and in the README
  for (const auto& [name, expected] : documented) {
    CAPTURE(name);
    const std::string message = creation_error(TypeKind::callback, name, expected.required);
    CHECK(message.find("has no option \"no_such_option\"") != std::string::npos);
    CHECK(listed(message, "it knows: ") == expected.options);
  }
}

TEST_CASE("an unknown metric, optimizer or loss lists every registered name") {
  for (const TypeKind kind : {TypeKind::metric, TypeKind::optimizer, TypeKind::loss, TypeKind::callback}) {
    std::string message;
    try {
      (void)test::builtins().resolve(kind, "no_such_type");
    } catch (const InputError& e) {
      message = e.what();
    }
    const auto names = test::builtins().names(kind);
    CHECK(listed(message, "known: ") == std::set<std::string>(names.begin(), names.end()));
  }
  const auto metrics = test::builtins().names(TypeKind::metric);
  for (const char* name : {"accuracy", "acc", "sparse_categorical_accuracy", "binary_accuracy"})
    CHECK(std::find(metrics.begin(), metrics.end(), name) != metrics.end());
}

TEST_CASE("an optimizer's unknown-option list holds its Keras options, clipping included") {
  const auto known = listed(creation_error(TypeKind::optimizer, "Adam", Json::object()), "it knows: ");
  for (const char* key : {"learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad", "clipnorm", "clipvalue",
                          "global_clipnorm", "weight_decay"})
    CHECK(known.count(key) == 1);
}

TEST_CASE("an option read only when present (has() then get()) is listed") {
  Config config(Json{{"typo", 1}}, "Thing");
  (void)config.get<int>("always", 0);
  (void)config.has("sometimes");
  CHECK(config.known_keys() == std::set<std::string>{"always", "sometimes"});
  CHECK_THROWS_WITH_AS(config.check_all_used(), "Thing has no option \"typo\" (it knows: always, sometimes)",
                       InputError);
}

TEST_CASE("an unknown backend scheme lists dir, the registered backends and the loadable backend plugins") {
  Registry registry;
  register_builtins(registry);
  PluginLoader loader(registry);  // the default search path holds the build's plugins
  const auto schemes = known_backend_schemes(registry, &loader);
  for (const char* scheme : {"dir", "sqlite", "hdf5"})
    CHECK(std::find(schemes.begin(), schemes.end(), scheme) != schemes.end());
  std::string message;
  try {
    (void)open_backend(parse_checkpoint_uri("nope:somewhere"), registry, &loader);
  } catch (const InputError& e) {
    message = e.what();
  }
  CHECK(listed(message, "known: ") == std::set<std::string>(schemes.begin(), schemes.end()));
  // Once loaded, a plugin's backend is listed from the registry as well.
  (void)open_backend(parse_checkpoint_uri("sqlite:" + (test::TempDir().path / "x.db").string()), registry, &loader);
  const auto after = known_backend_schemes(registry, nullptr);
  CHECK(std::find(after.begin(), after.end(), "sqlite") != after.end());
}

TEST_CASE("reading a location that does not exist is an error naming it, creating nothing") {
  const test::TempDir dir;
  Registry registry;
  register_builtins(registry);
  PluginLoader loader(registry);
  for (const std::string scheme : {"dir", "sqlite", "hdf5"}) {
    const std::string uri = scheme + ":" + (dir.path / "absent" / "place").string();
    CHECK_THROWS_WITH_AS(open_existing_backend(parse_checkpoint_uri(uri), registry, &loader),
                         ("the checkpoint location " + uri + " does not exist").c_str(), InputError);
  }
  CHECK_FALSE(std::filesystem::exists(dir.path / "absent"));
}

TEST_CASE("a fresh run refuses a location holding checkpoints; overwrite clears them and the index first") {
  const test::TempDir dir;
  Registry registry;
  register_builtins(registry);
  auto backend = open_backend(parse_checkpoint_uri("dir:" + (dir.path / "ck").string()), registry, nullptr);
  start_fresh_run(*backend, false);  // empty: nothing to refuse
  CheckpointRecord record;
  record.info = {{"kind", "full"}};
  backend->save("ckpt-0001", record);
  note_saved(*backend, {"ckpt-0001", 1, 10, "full", "manager", Json::object()});
  CHECK_THROWS_WITH_AS(start_fresh_run(*backend, false),
                       (backend->uri() + " already holds 1 checkpoint of an earlier run; continue it with --resume, "
                                         "train into a new location, or pass --overwrite to remove them first")
                           .c_str(),
                       InputError);
  CHECK(backend->list().size() == 1);
  start_fresh_run(*backend, true);
  CHECK(backend->list().empty());
  CHECK(CheckpointIndex::read(*backend).checkpoints.empty());
}
