// The dir: backend on a real folder: round trips bit for bit, list order, replace, remove, the
// index, checksums catching a flipped byte and a truncation, confined names, and a file-size
// limit hit mid-save leaving the previous checkpoint whole.
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "checkpoint/dir_backend.hpp"
#include "test_support.hpp"

using namespace plugfit;
using namespace plugfit::test;
namespace fs = std::filesystem;

namespace {


CheckpointRecord sample(float base, std::size_t n = 1000) {
  CheckpointRecord r;
  r.info = {{"kind", "full"}, {"epoch", static_cast<int>(base)}, {"note", "ünïcödé and spaces"}};
  NamedTensor a{"weights/dense/kernel", {n / 10, 10}, std::vector<float>(n)};
  for (std::size_t i = 0; i < n; ++i) a.values[i] = base + static_cast<float>(i) * 1e-3f;
  NamedTensor b{"optimizer/m/dense/kernel", {n / 10, 10}, a.values};
  NamedTensor scalar{"weights/scale factor ü", {}, {base}};
  r.tensors = {a, b, scalar};
  return r;
}

void flip_byte(const fs::path& file, std::size_t at) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(at));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(at));
  f.put(static_cast<char>(c ^ 0x10));
}

}  // namespace

TEST_CASE("records round-trip bit for bit, and list keeps save order") {
  TempDir dir;
  DirBackend backend(dir.path / "ckpts");
  const auto first = sample(1.f), second = sample(2.f);
  backend.save("ckpt one", first);
  backend.save("ckpt-2", second);
  CHECK(backend.list() == std::vector<std::string>{"ckpt one", "ckpt-2"});
  const CheckpointRecord back = backend.load("ckpt one");
  CHECK(back.info == first.info);
  REQUIRE(back.tensors.size() == first.tensors.size());
  for (std::size_t i = 0; i < first.tensors.size(); ++i) CHECK(back.tensors[i] == first.tensors[i]);
  CHECK(backend.uri() == "dir:" + (dir.path / "ckpts").string());
}

TEST_CASE("a dir: location that is a file is bad input, not an empty folder") {
  TempDir dir;
  std::ofstream(dir.path / "model.pt") << "not a folder";
  CHECK_THROWS_WITH_AS(DirBackend(dir.path / "model.pt"), doctest::Contains("model.pt is a file, not a folder"),
                       InputError);
}

TEST_CASE("saving again under a name replaces it whole; remove deletes one record") {
  TempDir dir;
  DirBackend backend(dir.path);
  backend.save("same", sample(1.f));
  backend.save("other", sample(5.f));
  backend.save("same", sample(3.f));
  CHECK(backend.load("same").info["epoch"] == 3);
  CHECK(backend.list() == std::vector<std::string>{"other", "same"});
  backend.remove("other");
  CHECK(backend.list() == std::vector<std::string>{"same"});
  for (const auto& entry : fs::directory_iterator(dir.path))
    CHECK(entry.path().filename().string().rfind(".", 0) != 0);  // nothing temporary left behind
}

TEST_CASE("the index is written atomically and reads back; a missing one is empty") {
  TempDir dir;
  DirBackend backend(dir.path);
  CHECK(backend.read_index() == Json::object());
  backend.write_index({{"latest", "a"}});
  CHECK(backend.read_index()["latest"] == "a");
  std::ofstream(dir.path / "index.json") << "{broken";
  CHECK(backend.read_index() == Json::object());
}

TEST_CASE("a flipped byte or a truncated file is detected by checksum") {
  TempDir dir;
  DirBackend backend(dir.path);
  backend.save("c", sample(1.f));
  const fs::path kernel = dir.path / "c/tensors/weights/dense/kernel.npy";
  SUBCASE("flipped byte in a tensor") {
    flip_byte(kernel, 500);
    CHECK_THROWS_WITH_AS(backend.load("c"), doctest::Contains("tensors/weights/dense/kernel.npy fails its checksum"),
                         CheckpointCorrupt);
  }
  SUBCASE("truncated tensor") {
    fs::resize_file(kernel, 100);
    CHECK_THROWS_WITH_AS(backend.load("c"), doctest::Contains("has 100 bytes, the manifest says"), CheckpointCorrupt);
  }
  SUBCASE("flipped byte in the JSON") {
    flip_byte(dir.path / "c/info.json", 3);
    CHECK_THROWS_AS(backend.load("c"), CheckpointCorrupt);
  }
  SUBCASE("edited manifest") {
    std::string text;
    {
      std::ifstream in(dir.path / "c/manifest.json");
      text.assign(std::istreambuf_iterator<char>(in), {});
    }
    text.replace(text.find("\"saved_ns\": ") + 12, 1, "9");
    std::ofstream(dir.path / "c/manifest.json") << text;
    CHECK_THROWS_WITH_AS(backend.load("c"), doctest::Contains("manifest fails its checksum"), CheckpointCorrupt);
  }
}

TEST_CASE("names that would leave the folder are refused") {
  TempDir dir;
  DirBackend backend(dir.path / "inner");
  for (const char* bad : {"../escape", "a/b", "/etc", "..", ".hidden", ""}) {
    CHECK_THROWS_AS(backend.save(bad, sample(1.f)), InputError);
    CHECK_THROWS_AS(backend.load(bad), InputError);
  }
  CheckpointRecord sneaky = sample(1.f);
  sneaky.tensors[0].name = "weights/../../../escape";
  CHECK_THROWS_WITH_AS(backend.save("ok", sneaky), doctest::Contains("has an empty, \".\" or \"..\" component"),
                       RuntimeFailure);
  CHECK_FALSE(fs::exists(dir.path / "escape.npy"));
  CHECK(backend.list().empty());
}

TEST_CASE("a file-size limit hit mid-save fails the save and keeps the previous checkpoint") {
  TempDir dir;
  DirBackend backend(dir.path);
  backend.save("c", sample(1.f, 1000));
  const pid_t child = fork();
  if (child == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{20000, 20000};  // bytes: the 400 KB tensor cannot be written
    setrlimit(RLIMIT_FSIZE, &limit);
    try {
      DirBackend(dir.path).save("c", sample(2.f, 100000));
      _exit(3);  // should not succeed
    } catch (const RuntimeFailure& e) {
      _exit(std::string(e.what()).find("File too large") != std::string::npos ? 0 : 4);
    }
  }
  int status = 0;
  waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(backend.load("c").info["epoch"] == 1);  // the previous record, whole
  for (const auto& entry : fs::directory_iterator(dir.path))
    CHECK(entry.path().filename().string().rfind(".tmp-", 0) != 0);
}

// Issue 15: the clean-up removed any .tmp-*-* entry whose second-to-last field was not a live PID,
// a user's files too. It now removes only plugfit's own folders of dead processes.
TEST_CASE("the clean-up of a dead writer's folders leaves files that merely look alike") {
  TempDir dir;
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);  // a PID no process has now
  const std::string dead = std::to_string(child);
  fs::create_directories(dir.path);
  const fs::path stale = dir.path / (".tmp-c-" + dead + "-0.plugfit");
  fs::create_directories(stale / "weights");
  std::ofstream(dir.path / (".tmp-notes-" + dead + "-1")) << "the user's";
  fs::create_directories(dir.path / (".tmp-drafts-" + dead + "-2"));
  fs::create_directories(dir.path / (".trash-old-" + dead + "-x.plugfit"));
  DirBackend(dir.path).save("c", sample(1.f));
  CHECK_FALSE(fs::exists(stale));
  CHECK(fs::exists(dir.path / (".tmp-notes-" + dead + "-1")));
  CHECK(fs::exists(dir.path / (".tmp-drafts-" + dead + "-2")));
  CHECK(fs::exists(dir.path / (".trash-old-" + dead + "-x.plugfit")));
}
