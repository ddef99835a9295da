// describe_checkpoints: what plugfit inspect reports, corrupt checkpoints included.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "checkpoint/dir_backend.hpp"
#include "checkpoint/inspect.hpp"
#include "test_support.hpp"

using namespace plugfit;
namespace fs = std::filesystem;

TEST_CASE("describe_checkpoints lists each checkpoint with its epoch, size and layer types; a damaged one as corrupt") {
  test::TempDir temp;
  DirBackend backend(temp.path);
  CheckpointRecord r;
  r.info = {{"kind", "full"},
            {"epoch", 2},
            {"training", {{"global_step", 40}}},
            {"model", {{"config", {{"layers", {{{"class_name", "Dense"}}, {{"class_name", "acme>Scale"}}}}}}}}};
  r.tensors.push_back({"weights/dense/kernel", {3}, {1, 2, 3}});
  backend.save("good", r);
  backend.save("bad", r);
  // Flip a byte of the bad one's tensor file.
  for (const auto& entry : fs::recursive_directory_iterator(temp.path / "bad"))
    if (entry.path().extension() == ".npy") {
      std::fstream f(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(-1, std::ios::end);
      f.put('\x7f');
    }
  // A wrong-shaped index reads as absent.
  test::write_file(temp.path / "index.json", "null");

  const Json out = describe_checkpoints(backend);
  REQUIRE(out["checkpoints"].size() == 2);
  const Json& bad = out["checkpoints"][0]["name"] == "bad" ? out["checkpoints"][0] : out["checkpoints"][1];
  const Json& good = out["checkpoints"][0]["name"] == "good" ? out["checkpoints"][0] : out["checkpoints"][1];
  CHECK(good["status"] == "ok");
  CHECK(good["epoch"] == 2);
  CHECK(good["global_step"] == 40);
  CHECK(good["tensors"] == 1);
  CHECK(good["bytes"] == 12);
  CHECK(good["layer_types"] == Json({"Dense", "acme>Scale"}));
  CHECK(bad["status"] == "corrupt");
  CHECK_FALSE(bad["error"].get<std::string>().empty());
  CHECK(out["latest"].is_null());
}
