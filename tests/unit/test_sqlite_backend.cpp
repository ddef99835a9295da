// The sqlite: checkpoint backend plugin, loaded by name from the build tree and opened by URI as the
// host opens it: round trips bit for bit, list order, replace, remove, the index, reading a missing
// database, a flipped byte caught by its checksum, a truncated file, a newer schema, a reader in one
// process while another saves, and a file-size limit hit mid-save keeping the previous checkpoint.
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <utility>

#include "checkpoint/store.hpp"
#include "plugin_loading/loader.hpp"
#include "test_support.hpp"

using namespace plugfit;
using namespace plugfit::test;
namespace fs = std::filesystem;

namespace {

// The plugin, loaded once by name. Tests that fork do so before they open a database: an SQLite
// connection must not cross fork().
struct Plugin {
  Registry registry;
  PluginLoader loader{registry};
  Plugin() { loader.load("sqlite_backend"); }
};

Plugin& plugin() {
  static Plugin instance;
  return instance;
}

std::unique_ptr<CheckpointBackend> open_db(const fs::path& file) {
  return open_backend(parse_checkpoint_uri("sqlite:" + file.string()), plugin().registry, &plugin().loader);
}

// Distinct values in every tensor (so that a byte found in the file belongs to one), a 0-d and an
// empty tensor, NaN and -0 (so that equality has to be bitwise), unicode and spaces in names.
CheckpointRecord sample(float base, std::size_t n = 1000) {
  CheckpointRecord r;
  r.info = {{"kind", "full"}, {"epoch", static_cast<int>(base)}, {"note", "ünïcödé and spaces"}, {"x", 0.1}};
  NamedTensor a{"weights/dense/kernel", {n / 10, 10}, std::vector<float>(n)};
  NamedTensor b{"optimizer/m/dense/kernel", {n / 10, 10}, std::vector<float>(n)};
  for (std::size_t i = 0; i < n; ++i) {
    a.values[i] = base + static_cast<float>(i) * 1e-3f;
    b.values[i] = -base - static_cast<float>(i) * 1e-3f;
  }
  if (n > 2) {
    a.values[1] = std::numeric_limits<float>::quiet_NaN();
    a.values[2] = -0.0f;
  }
  NamedTensor scalar{"weights/scale factor ü☃", {}, {base}};
  NamedTensor empty{"weights/empty", {0, 3}, {}};
  r.tensors = {a, b, scalar, empty};
  return r;
}

bool same_bits(const CheckpointRecord& got, const CheckpointRecord& want) {
  if (got.info != want.info || got.tensors.size() != want.tensors.size()) return false;
  for (std::size_t i = 0; i < want.tensors.size(); ++i) {
    const NamedTensor &g = got.tensors[i], &w = want.tensors[i];
    if (g.name != w.name || g.shape != w.shape || g.values.size() != w.values.size() ||
        !plugfit::test::same_memory(g.values.data(), w.values.data(), w.values.size() * sizeof(float)))
      return false;
  }
  return true;
}

std::string read_all(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The offset of bytes in file (which must hold them once).
std::size_t find_in_file(const fs::path& file, const void* bytes, std::size_t size) {
  const std::string data = read_all(file);
  const std::string_view needle(static_cast<const char*>(bytes), size);
  const std::size_t at = data.find(needle);
  REQUIRE(at != std::string::npos);
  CHECK(data.find(needle, at + 1) == std::string::npos);
  return at;
}

void flip_byte(const fs::path& file, std::size_t at) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(at));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(at));
  f.put(static_cast<char>(c ^ 0x10));
}

// Every value of the record's tensors is its info's "fill": a mix of two saves shows.
CheckpointRecord filled(int fill, std::size_t n) {
  CheckpointRecord r;
  r.info = {{"fill", fill}};
  r.tensors.push_back({"weights/a", {n}, std::vector<float>(n, static_cast<float>(fill))});
  r.tensors.push_back({"weights/b", {n}, std::vector<float>(n, static_cast<float>(fill))});
  return r;
}

bool uniform(const CheckpointRecord& r) {
  if (r.tensors.size() != 2) return false;
  const auto fill = static_cast<float>(r.info.value("fill", -1));
  for (const auto& t : r.tensors)
    for (float v : t.values)
      if (v != fill) return false;
  return true;
}

int wait_exit_code(pid_t child) {
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("the plugin loads by name and provides the sqlite: scheme") {
  Registry registry;
  PluginLoader loader(registry);
  const PluginInfo& info = loader.load("sqlite_backend");
  CHECK(info.version == "0.1.0");
  const TypeEntry* entry = registry.find(TypeKind::checkpoint_backend, "sqlite");
  REQUIRE(entry != nullptr);
  CHECK(entry->name == "sqlite_backend>sqlite");
}

TEST_CASE("a sqlite: URI loads the plugin by itself; the URI is absolute and nothing is created") {
  TempDir dir;
  Registry registry;
  register_builtins(registry);
  PluginLoader loader(registry);
  const auto backend =
      open_backend(parse_checkpoint_uri("sqlite:" + (dir.path / "run.db").string()), registry, &loader);
  CHECK(loader.is_loaded("sqlite_backend"));
  CHECK(backend->uri() == "sqlite:" + (dir.path / "run.db").string());

  const fs::path cwd = fs::current_path();
  fs::current_path(dir.path);
  const auto relative = open_backend(parse_checkpoint_uri("sqlite:sub/../run.db"), registry, &loader);
  fs::current_path(cwd);
  CHECK(relative->uri() == "sqlite:" + (fs::canonical(dir.path) / "run.db").string());
  CHECK(fs::is_empty(dir.path));
}

TEST_CASE("records round-trip bit for bit, and list keeps save order") {
  TempDir dir;
  const fs::path db = dir.path / "run.db";
  const CheckpointRecord first = sample(1.f), second = sample(2.f, 100000);
  {
    auto backend = open_db(db);
    backend->save("ckpt one", first);
    backend->save("ckpt-ü ☃ 2", second);
    CHECK(backend->list() == std::vector<std::string>{"ckpt one", "ckpt-ü ☃ 2"});
    CHECK(same_bits(backend->load("ckpt one"), first));
    CHECK(same_bits(backend->load("ckpt-ü ☃ 2"), second));
  }
  // A new connection reads what the first one committed.
  CHECK(same_bits(open_db(db)->load("ckpt-ü ☃ 2"), second));
  CHECK(fs::exists(db));
}

TEST_CASE("saving again under a name replaces it whole; remove deletes one record") {
  TempDir dir;
  auto backend = open_db(dir.path / "run.db");
  backend->save("same", sample(1.f));
  backend->save("other", sample(5.f));
  backend->save("same", sample(3.f, 20));
  CHECK(same_bits(backend->load("same"), sample(3.f, 20)));
  CHECK(backend->list() == std::vector<std::string>{"other", "same"});
  backend->remove("other");
  backend->remove("never saved");
  CHECK(backend->list() == std::vector<std::string>{"same"});
  CHECK_THROWS_WITH_AS(backend->load("other"), doctest::Contains("does not exist"), InputError);
  backend->save("other", sample(6.f));
  CHECK(backend->list() == std::vector<std::string>{"same", "other"});
}

TEST_CASE("the index round-trips; a missing one is empty") {
  TempDir dir;
  auto backend = open_db(dir.path / "run.db");
  CHECK(backend->read_index() == Json::object());
  const Json index = {{"latest", "ckpt ü"}, {"checkpoints", {{{"name", "ckpt ü"}, {"epoch", 3}}}}};
  backend->write_index(index);
  CHECK(backend->read_index() == index);
  backend->write_index({{"latest", "b"}});
  CHECK(open_db(dir.path / "run.db")->read_index() == Json({{"latest", "b"}}));
}

TEST_CASE("reading a database that does not exist creates nothing; the first save creates its folder") {
  TempDir dir;
  const fs::path db = dir.path / "run.db";
  auto backend = open_db(db);
  CHECK(backend->list().empty());
  CHECK(backend->read_index() == Json::object());
  CHECK_THROWS_WITH_AS(backend->load("c"), doctest::Contains("does not exist"), InputError);
  backend->remove("c");
  CHECK_FALSE(fs::exists(db));
  auto nested = open_db(dir.path / "new" / "dir" / "run.db");
  CHECK(nested->list().empty());
  CHECK_FALSE(fs::exists(dir.path / "new"));
  nested->save("c", sample(1.f));
  CHECK(fs::is_regular_file(dir.path / "new" / "dir" / "run.db"));
  CHECK(open_db(dir.path / "new" / "dir" / "run.db")->list() == std::vector<std::string>{"c"});
  std::ofstream(dir.path / "file").put('x');
  CHECK_THROWS_WITH_AS(open_db(dir.path / "file" / "run.db"), doctest::Contains("is a file, not a folder"), InputError);
  CHECK_THROWS_WITH_AS(open_db(dir.path), doctest::Contains("is a folder"), InputError);
}

TEST_CASE("names are checked like the dir: backend's") {
  TempDir dir;
  auto backend = open_db(dir.path / "run.db");
  for (const char* bad : {"../escape", "a/b", "..", ".hidden", ""}) {
    CHECK_THROWS_AS(backend->save(bad, sample(1.f)), InputError);
    CHECK_THROWS_AS(backend->load(bad), InputError);
    CHECK_THROWS_AS(backend->remove(bad), InputError);
  }
  CheckpointRecord wrong = sample(1.f);
  wrong.tensors[0].values.pop_back();
  CHECK_THROWS_WITH_AS(backend->save("wrong", wrong), doctest::Contains("999 values for shape"), RuntimeFailure);
  CHECK(backend->list().empty());
}

TEST_CASE("a flipped byte inside a tensor's data or the info is caught by its checksum") {
  TempDir dir;
  const fs::path db = dir.path / "run.db";
  const CheckpointRecord victim = sample(2.f);
  open_db(db)->save("good", sample(1.f));
  open_db(db)->save("victim", victim);
  // Closed: the WAL is checkpointed into the file and deleted, so the file holds every byte.
  REQUIRE_FALSE(fs::exists(db.string() + "-wal"));
  SUBCASE("tensor data") {
    flip_byte(db, find_in_file(db, victim.tensors[1].values.data() + 500, 16) + 5);
    const std::string expected = "checkpoint \"victim\" in sqlite:" + db.string() +
                                 " is corrupt: tensor \"optimizer/m/dense/kernel\" fails its checksum";
    CHECK_THROWS_WITH_AS(open_db(db)->load("victim"), doctest::Contains(expected.c_str()), CheckpointCorrupt);
  }
  SUBCASE("info") {
    const std::string info = victim.info.dump();
    flip_byte(db, find_in_file(db, info.data(), info.size()) + 3);
    CHECK_THROWS_WITH_AS(open_db(db)->load("victim"), doctest::Contains("its info fails its checksum"),
                         CheckpointCorrupt);
  }
  CHECK(same_bits(open_db(db)->load("good"), sample(1.f)));
}

TEST_CASE("a truncated database file is CheckpointCorrupt with SQLite's message") {
  TempDir dir;
  const fs::path db = dir.path / "run.db";
  open_db(db)->save("c", sample(1.f, 100000));
  SUBCASE("cut in half") {
    fs::resize_file(db, fs::file_size(db) / 2);
    const std::string expected = "\"c\" in sqlite:" + db.string() + " is corrupt: database disk image is malformed";
    CHECK_THROWS_WITH_AS(open_db(db)->load("c"), doctest::Contains(expected.c_str()), CheckpointCorrupt);
  }
  SUBCASE("cut inside its header") {
    fs::resize_file(db, 50);
    CHECK_THROWS_WITH_AS(open_db(db)->load("c"), doctest::Contains("is corrupt: "), CheckpointCorrupt);
  }
}

TEST_CASE("a database of a newer schema version is refused") {
  TempDir dir;
  const fs::path db = dir.path / "run.db";
  open_db(db)->save("c", sample(1.f));
  {
    std::fstream f(db, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(60);  // PRAGMA user_version: 4 bytes, big-endian, at offset 60 of the header
    f.write("\0\0\0\2", 4);
  }
  CHECK_THROWS_WITH_AS(open_db(db)->list(), doctest::Contains("has checkpoint schema version 2, newer than"),
                       InputError);
}

TEST_CASE("a reader in one process sees whole records while another process saves") {
  TempDir dir;
  const fs::path db = dir.path / "run.db";
  plugin();  // loaded before the fork, so that the child need not load it
  const pid_t child = fork();
  if (child == 0) {
    try {
      auto writer = open_db(db);
      for (int i = 0; i < 20; ++i) {
        char name[16];
        std::snprintf(name, sizeof name, "ckpt-%02d", i);
        writer->save(name, filled(i, 1 << 18));
        writer->save("latest", filled(i, 1 << 18));  // replaced under the reader's feet
      }
    } catch (...) {
      _exit(3);
    }
    _exit(0);
  }
  auto reader = open_db(db);
  int loads = 0, rounds = 0;
  std::string problem;
  int status = 0;
  while (problem.empty() && waitpid(child, &status, WNOHANG) == 0) {
    try {
      const auto names = reader->list();
      ++rounds;
      // "latest" (replaced by every save) and the newest of the others.
      bool newest_seen = false;
      for (auto it = names.rbegin(); it != names.rend(); ++it) {
        if (*it != "latest" && std::exchange(newest_seen, true)) continue;
        if (!uniform(reader->load(*it))) problem = *it + " loaded mixed or incomplete";
        ++loads;
      }
    } catch (const std::exception& e) {
      problem = std::string("a read during a save failed: ") + e.what();
    }
  }
  if (!problem.empty()) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
  }
  CHECK_MESSAGE(problem.empty(), problem);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  INFO(rounds << " lists and " << loads << " loads while the other process saved");
  CHECK(loads > 0);
  const auto names = reader->list();
  REQUIRE(names.size() == 21);
  CHECK(names.front() == "ckpt-00");
  CHECK(names.back() == "latest");
  for (const auto& name : names) CHECK(uniform(reader->load(name)));
  CHECK(reader->load("latest").info["fill"] == 19);
}

TEST_CASE("a file-size limit hit mid-save fails the save and keeps the previous checkpoint") {
  TempDir dir;
  const fs::path db = dir.path / "run.db";
  open_db(db)->save("c", sample(1.f, 1000));  // closed again before the fork
  const pid_t child = fork();
  if (child == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{4 << 20, 4 << 20};  // bytes: room to open the database, not for 32 MB of tensors
    setrlimit(RLIMIT_FSIZE, &limit);
    try {
      open_db(db)->save("c", sample(2.f, 4000000));
      _exit(3);  // should not succeed
    } catch (const RuntimeFailure& e) {
      const std::string what = e.what();
      std::fprintf(stderr, "the save failed as it should: %s\n", what.c_str());
      _exit(what.find("File too large") != std::string::npos && what.find(db.string()) != std::string::npos ? 0 : 4);
    } catch (...) {
      _exit(5);
    }
  }
  CHECK(wait_exit_code(child) == 0);
  auto backend = open_db(db);
  CHECK(backend->list() == std::vector<std::string>{"c"});
  CHECK(same_bits(backend->load("c"), sample(1.f, 1000)));  // the previous record, whole
  backend->save("d", sample(3.f));
  CHECK(same_bits(backend->load("d"), sample(3.f)));
}
