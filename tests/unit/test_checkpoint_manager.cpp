#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>

#include "checkpoint/dir_backend.hpp"
#include "checkpoint/store.hpp"
#include "test_support.hpp"

using namespace plugfit;
using namespace plugfit::test;
namespace fs = std::filesystem;

namespace {


CheckpointRecord record(int epoch) {
  CheckpointRecord r;
  r.info = {{"kind", "full"}, {"epoch", epoch}};
  r.tensors.push_back({"weights/w", {2}, {float(epoch), float(epoch)}});
  return r;
}

Logs val_loss(double v) {
  Logs logs;
  logs["val_loss"] = v;
  return logs;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE("max_to_keep keeps the newest, after the new one is saved; best and protected stay") {
  TempDir dir;
  ManagerOptions options;
  options.max_to_keep = 2;
  CheckpointManager manager(std::make_unique<DirBackend>(dir.path), options);
  const std::vector<double> losses{0.5, 0.2, 0.4, 0.3, 0.35};  // best at epoch 2
  for (int e = 1; e <= 5; ++e) manager.save(record(e), e, 0, e * 10, val_loss(losses[std::size_t(e - 1)]));
  CHECK(sorted(manager.backend().list()) == std::vector<std::string>{"ckpt-0002", "ckpt-0004", "ckpt-0005"});
  const Json index = manager.backend().read_index();
  CHECK(index["latest"] == "ckpt-0005");
  CHECK(index["best"]["name"] == "ckpt-0002");
  CHECK(*resolve_checkpoint_name(manager.backend(), "best") == "ckpt-0002");
}

TEST_CASE("keep_every_n_epochs keeps those epochs too; nothing it did not write is deleted") {
  TempDir dir;
  DirBackend(dir.path).save("someone-elses", record(0));
  ManagerOptions options;
  options.max_to_keep = 1;
  options.keep_every_n_epochs = 2;
  options.monitor = "";
  CheckpointManager manager(std::make_unique<DirBackend>(dir.path), options);
  for (int e = 1; e <= 5; ++e) manager.save(record(e), e, 0, e, Logs());
  CHECK(sorted(manager.backend().list()) ==
        std::vector<std::string>{"ckpt-0002", "ckpt-0004", "ckpt-0005", "someone-elses"});
}

TEST_CASE("restore_or_initialize: nothing to restore, then the latest good one, protected from deletion") {
  TempDir dir;
  ManagerOptions options;
  options.max_to_keep = 2;
  CheckpointManager manager(std::make_unique<DirBackend>(dir.path), options);
  std::vector<std::string> warnings;
  auto warn = [&](const std::string& w) { warnings.push_back(w); };
  CHECK_FALSE(manager.restore_or_initialize(warn).has_value());
  manager.save(record(1), 1, 0, 1, val_loss(0.5));
  manager.save(record(2), 2, 0, 2, val_loss(0.4));
  fs::resize_file(dir.path / "ckpt-0002/tensors/weights/w.npy", 10);  // corrupt the latest
  const auto restored = manager.restore_or_initialize(warn);
  REQUIRE(restored.has_value());
  CHECK(restored->first == "ckpt-0001");
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("ckpt-0002") != std::string::npos);
  for (int e = 3; e <= 5; ++e) manager.save(record(e), e, 0, e, val_loss(0.5 - 0.1 * e));
  const auto names = manager.backend().list();
  CHECK(std::find(names.begin(), names.end(), "ckpt-0001") != names.end());  // resumed from: kept
}

TEST_CASE("URIs: schemes, plain paths, names; an unknown scheme lists the known ones") {
  CHECK(parse_checkpoint_uri("dir:ckpts").location == "ckpts");
  CHECK(parse_checkpoint_uri("ckpts/run1").scheme == "dir");
  CHECK(parse_checkpoint_uri("sqlite:run.db#best").name == "best");
  CHECK(parse_checkpoint_uri("./a:b/c").scheme == "dir");
  Registry registry;
  CHECK_THROWS_WITH_AS(open_backend(parse_checkpoint_uri("s3:bucket/x"), registry, nullptr),
                       "no checkpoint backend for \"s3:\" URIs (known: dir; a plugin named s3_backend on the plugin "
                       "path would provide it)",
                       InputError);
}
