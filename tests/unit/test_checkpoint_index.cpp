// plugfit/checkpoint_index.hpp: the URI grammar, the index schema (tolerant of any shape) and
// resolving "latest"/"best", the same code for the host and for plugins.
#include <doctest/doctest.h>

#include <plugfit/checkpoint_index.hpp>

#include "checkpoint/dir_backend.hpp"
#include "checkpoint/store.hpp"
#include "test_support.hpp"

using namespace plugfit;

namespace {

CheckpointRecord tiny_record() {
  CheckpointRecord record;
  record.info = {{"kind", "full"}};
  record.tensors.push_back({"weights/w", {2}, {1.0f, 2.0f}});
  return record;
}

}  // namespace

TEST_CASE("parse_checkpoint_uri: scheme, location and #name") {
  const CheckpointUri sqlite = parse_checkpoint_uri("sqlite:run.db#best");
  CHECK(sqlite.scheme == "sqlite");
  CHECK(sqlite.location == "run.db");
  CHECK(sqlite.name == "best");
  CHECK(sqlite.text() == "sqlite:run.db");
  CHECK(parse_checkpoint_uri("ckpts/run1").scheme == "dir");
  CHECK(parse_checkpoint_uri("./a:b/c").location == "./a:b/c");  // a ':' after a '/' is a path
  CHECK(parse_checkpoint_uri("dir:ckpts#ckpt-0003").name == "ckpt-0003");
  CHECK_THROWS_WITH_AS(parse_checkpoint_uri("dir:#best"), "the checkpoint URI \"dir:#best\" names no location",
                       InputError);
}

TEST_CASE("parse_checkpoint_uri: a bare path's name picks its scheme, as Keras's file names do") {
  for (const char* path : {"model.keras", "m.h5", "runs/m.weights.h5", "m.hdf5", "M.H5", "./a:b/model.keras"}) {
    CAPTURE(path);
    CHECK(parse_checkpoint_uri(path).scheme == "hdf5");
    CHECK(parse_checkpoint_uri(path).location == path);
  }
  CHECK(parse_checkpoint_uri("model.keras#keras").name == "keras");
  CHECK(parse_checkpoint_uri("runs/run.db").scheme == "sqlite");
  CHECK(parse_checkpoint_uri("run.sqlite").scheme == "sqlite");
  for (const char* path : {"ckpts", "ckpts.h5/", "runs/.h5", "model.keras.bak", "model.pt"}) {
    CAPTURE(path);
    CHECK(parse_checkpoint_uri(path).scheme == "dir");
  }
  CHECK(parse_checkpoint_uri("dir:model.keras").scheme == "dir");  // a scheme given wins
}

TEST_CASE("CheckpointIndex round-trips its schema and keeps fields it does not know") {
  CheckpointIndex index;
  index.extra["note"] = "kept";
  const Monitor monitor("M", "val_loss", "min");
  index.note_saved({"a", 1, 10, "full", "manager", {{"val_loss", 0.5}}}, &monitor);
  index.note_saved({"b", 2, 20, "weights", "ModelCheckpoint", {{"val_loss", 0.7}}}, &monitor);
  index.note_saved({"c", 3, 30, "full", "manager", {{"loss", 0.1}}}, &monitor);  // no val_loss: best stays
  const Json json = index.to_json();
  CHECK(json["format"] == 1);
  CHECK(json["latest"] == "c");
  CHECK(json["best"] == Json({{"name", "a"}, {"monitor", "val_loss"}, {"mode", "min"}, {"value", 0.5}}));
  CHECK(json["checkpoints"][1] == Json({{"name", "b"}, {"epoch", 2}, {"global_step", 20}, {"kind", "weights"},
                                        {"writer", "ModelCheckpoint"}, {"metrics", {{"val_loss", 0.7}}}}));
  CHECK(json["note"] == "kept");
  CHECK(CheckpointIndex::from_json(json).to_json() == json);

  // A re-save of the best's name takes its new value; another criterion takes over the best.
  index.note_saved({"a", 4, 40, "full", "manager", {{"val_loss", 0.9}}}, &monitor);
  CHECK(index.best->value == 0.9);
  CHECK(index.checkpoints.back().name == "a");
  const Monitor max("M", "val_loss", "max");
  index.note_saved({"b", 5, 50, "full", "manager", {{"val_loss", 0.2}}}, &max);
  CHECK(index.best->name == "b");
  CHECK(index.best->mode == "max");
  index.note_removed("b");
  CHECK_FALSE(index.best);
  CHECK(index.latest == "a");
  REQUIRE(index.find("c") != nullptr);
  CHECK(index.find("c")->epoch == 3);
}

TEST_CASE("a wrong-shaped index reads as empty parts, never an error") {
  for (const Json& bad : {Json(), Json::array({1, 2}), Json(3), Json("index"),
                          Json({{"checkpoints", "x"}, {"latest", 5}, {"best", {1, 2}}}),
                          Json({{"checkpoints", {7, Json::object(), {{"name", 3}}, {{"name", "ok"}, {"epoch", "x"}}}},
                                {"best", {{"name", "ok"}, {"value", "high"}}}})}) {
    CAPTURE(bad.dump());
    const CheckpointIndex index = CheckpointIndex::from_json(bad);
    CHECK_FALSE(index.latest);
    CHECK_FALSE(index.best);
    CHECK(index.checkpoints.size() <= 1);
    for (const auto& e : index.checkpoints) CHECK(e.name == "ok");
  }
}

TEST_CASE("resolve_checkpoint_name trusts list() over an index that is null, an array or stale") {
  test::TempDir dir;
  DirBackend backend(dir.path.string());
  CHECK_FALSE(resolve_checkpoint_name(backend, ""));
  backend.save("one", tiny_record());
  backend.save("two", tiny_record());
  for (const Json& bad : {Json(), Json::array({"two"}), Json({{"latest", "gone"}, {"best", {{"name", "gone"}}}})}) {
    CAPTURE(bad.dump());
    backend.write_index(bad);
    CHECK(*resolve_checkpoint_name(backend, "") == "two");
    CHECK(*resolve_checkpoint_name(backend, "latest") == "two");
    CHECK(*resolve_checkpoint_name(backend, "one") == "one");
    CHECK_THROWS_WITH_AS(resolve_checkpoint_name(backend, "best"), doctest::Contains("records no best checkpoint"),
                         InputError);
    // A save over a wrong-shaped index starts a good one.
    note_saved(backend, {"two", 2, 2, "full", "manager", Json::object()});
    CHECK(backend.read_index()["latest"] == "two");
  }
  CHECK_THROWS_WITH_AS(resolve_checkpoint_name(backend, "three"), doctest::Contains("no checkpoint \"three\""),
                       InputError);
  const Monitor monitor("M", "loss", "min");
  note_saved(backend, {"one", 1, 1, "full", "manager", {{"loss", 0.25}}}, &monitor);
  CHECK(*resolve_checkpoint_name(backend, "best") == "one");
}
