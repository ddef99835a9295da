#include <plugfit/testing.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <thread>

#include "../checkpoint/convert.hpp"

namespace plugfit::testing {

namespace fs = std::filesystem;

namespace {

struct Failure {
  std::string why;
};

void expect(bool ok, const std::string& why) {
  if (!ok) throw Failure{why};
}

void expect_same(const CheckpointRecord& got, const CheckpointRecord& want, const std::string& what) {
  expect(got.info == want.info, what + ": the JSON differs");
  expect(got.tensors.size() == want.tensors.size(), what + ": " + std::to_string(got.tensors.size()) +
                                                        " tensors, expected " + std::to_string(want.tensors.size()));
  for (std::size_t i = 0; i < want.tensors.size(); ++i)
    expect(same_bits(got.tensors[i], want.tensors[i]), what + ": tensor \"" + want.tensors[i].name + "\" differs");
}

// A record whose every value is `fill` (so a mix of two records shows), with an awkward JSON.
CheckpointRecord filled_record(float fill, std::size_t n = 4096) {
  CheckpointRecord r;
  r.info = {{"kind", "full"}, {"fill", fill}, {"nested", {{"list", {1, 2.5, "ü☃"}}, {"null", nullptr}}}};
  r.tensors.push_back({"weights/dense/kernel", {n / 16, 16}, std::vector<float>(n, fill)});
  r.tensors.push_back({"optimizer/m/dense/kernel", {n / 16, 16}, std::vector<float>(n, fill)});
  r.tensors.push_back({"weights/dense/bias", {16}, std::vector<float>(16, fill)});
  return r;
}

bool uniform_record(const CheckpointRecord& r) {
  const double fill = r.info.value("fill", -1.0);
  for (const auto& t : r.tensors)
    for (float v : t.values)
      if (v != static_cast<float>(fill)) return false;
  return !r.tensors.empty();
}

class Scratch {
 public:
  explicit Scratch(const std::string& label) {
    std::string pattern = (fs::temp_directory_path() / ("plugfit-conformance-" + label + "-XXXXXX")).string();
    path_ = mkdtemp(pattern.data());
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string sub(const std::string& name) const {
    const fs::path p = path_ / name;
    fs::create_directories(p);
    return p.string();
  }

 private:
  fs::path path_;
};

void round_trip(const BackendFixture& f, const std::string& folder) {
  auto backend = f.open(folder);
  CheckpointRecord r;
  r.info = {{"kind", "full"}, {"text", "ünïcödé ☃ \"quoted\"\n"}, {"big", 18446744073709551615ULL}, {"pi", 3.141592653589793}};
  NamedTensor odd{"weights/odd values", {2, 3}, {std::numeric_limits<float>::quiet_NaN(), -0.0f,
                                                std::numeric_limits<float>::infinity(), -1e-45f, 3.4e38f, 1.0f}};
  r.tensors = {odd, {"weights/scalar", {}, {42.f}}, {"weights/empty", {0, 4}, {}}, {"weights/cube", {2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}}};
  const CheckpointRecord copy = r;
  backend->save("round trip", r);
  expect_same(r, copy, "saving changed the record it was given");
  expect_same(backend->load("round trip"), r, "the loaded record");
  expect_same(f.open(folder)->load("round trip"), r, "the record loaded by a new backend object");
}

void weights_only(const BackendFixture& f, const std::string& folder) {
  auto backend = f.open(folder);
  CheckpointRecord r;
  r.info = {{"kind", "weights"}};
  r.tensors = {{"weights/dense/kernel", {3, 2}, {1, 2, 3, 4, 5, 6}}};
  backend->save("w", r);
  expect_same(backend->load("w"), r, "the weights-only record");
}

void list_and_remove(const BackendFixture& f, const std::string& folder) {
  auto backend = f.open(folder);
  expect(backend->list().empty(), "a new backend lists records");
  for (const char* name : {"a", "b", "c"}) backend->save(name, filled_record(1.f, 64));
  expect(backend->list() == std::vector<std::string>{"a", "b", "c"}, "list is not in save order");
  backend->save("a", filled_record(2.f, 64));
  expect(backend->list() == std::vector<std::string>{"b", "c", "a"}, "a re-save does not move to the end of list");
  expect(backend->load("a").info["fill"] == 2.0, "a re-save did not replace the record");
  backend->remove("b");
  expect(backend->list() == std::vector<std::string>{"c", "a"}, "remove did not remove exactly one record");
  expect(backend->load("c").info["fill"] == 1.0, "remove damaged another record");
  backend->write_index({{"latest", "a"}, {"n", 2}});
  expect(f.open(folder)->read_index() == Json({{"latest", "a"}, {"n", 2}}), "the index does not round-trip");
  bool threw = false;
  try {
    backend->load("b");
  } catch (const Error&) {
    threw = true;
  }
  expect(threw, "loading a removed record did not fail");
}

void names(const BackendFixture& f, const std::string& folder) {
  auto backend = f.open(folder);
  const std::string odd = "epoch 3 — ünï ☃ (best)";
  backend->save(odd, filled_record(3.f, 64));
  expect(backend->list() == std::vector<std::string>{odd}, "a name with spaces and unicode is not listed as saved");
  expect(backend->load(odd).info["fill"] == 3.0, "a name with spaces and unicode does not load");
  for (const std::string bad : {"../escape", "a/b", "/abs", "..", ""}) {
    bool refused = false;
    try {
      backend->save(bad, filled_record(1.f, 16));
    } catch (const InputError&) {
      refused = true;
    }
    expect(refused, "the name \"" + bad + "\" was not refused");
  }
  expect(backend->list().size() == 1, "a refused name left a record");
}

void large_tensor(const BackendFixture& f, const std::string& folder, std::size_t bytes) {
  auto backend = f.open(folder);
  CheckpointRecord r;
  r.info = {{"kind", "weights"}};
  const std::size_t n = bytes / sizeof(float);
  NamedTensor big{"weights/big", {n}, std::vector<float>(n)};
  for (std::size_t i = 0; i < n; ++i) big.values[i] = static_cast<float>(i % 1000003) * 0.5f;
  r.tensors.push_back(std::move(big));
  backend->save("large", r);
  expect_same(backend->load("large"), r, "the large record");
}

void many(const BackendFixture& f, const std::string& folder, std::size_t count) {
  auto backend = f.open(folder);
  std::vector<std::string> expected;
  for (std::size_t i = 0; i < count; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "ckpt-%05zu", i);
    backend->save(name, filled_record(static_cast<float>(i), 16));
    expected.push_back(name);
  }
  expect(backend->list() == expected, "the list of " + std::to_string(count) + " records is not in save order");
  for (std::size_t i : {std::size_t{0}, count / 2, count - 1})
    expect(backend->load(expected[i]).info["fill"] == static_cast<double>(i), "record " + expected[i] + " is wrong");
}

void corruption(const BackendFixture& f, const std::string& folder) {
  for (const Corruption kind : {Corruption::flip_byte, Corruption::truncate}) {
    const std::string where = folder + (kind == Corruption::flip_byte ? "/flip" : "/truncate");
    fs::create_directories(where);
    auto backend = f.open(where);
    backend->save("good", filled_record(1.f));
    backend->save("victim", filled_record(2.f));
    backend.reset();
    f.corrupt(where, "victim", kind);
    auto reopened = f.open(where);
    bool detected = false;
    try {
      reopened->load("victim");
    } catch (const CheckpointCorrupt&) {
      detected = true;
    } catch (const Error& e) {
      throw Failure{std::string("damage raised ") + e.what() + " instead of CheckpointCorrupt"};
    }
    const char* what = kind == Corruption::flip_byte ? "a flipped byte" : "a truncation";
    expect(detected, std::string(what) + " was not detected");
    if (kind == Corruption::flip_byte) expect(uniform_record(reopened->load("good")), std::string(what) + " damaged another record");
  }
}

// Runs child() in a forked process; returns its pid.
template <class F>
pid_t spawn(F child) {
  const pid_t pid = fork();
  if (pid == 0) {
    try {
      child();
    } catch (...) {
      _exit(3);
    }
    _exit(0);
  }
  return pid;
}

void sigkill_atomicity(const BackendFixture& f, const std::string& folder, int rounds) {
  auto backend = f.open(folder);
  backend->save("x", filled_record(0.f, 1 << 16));
  for (int round = 0; round < rounds; ++round) {
    const pid_t pid = spawn([&] {
      auto writer = f.open(folder);
      for (int i = 1;; ++i) writer->save("x", filled_record(static_cast<float>(i), 1 << 16));
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + (round * 37) % 150));
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    const CheckpointRecord r = f.open(folder)->load("x");
    expect(uniform_record(r), "after SIGKILL in round " + std::to_string(round) + " the record mixes two saves");
  }
}

void concurrent_reader(const BackendFixture& f, const std::string& folder, int loads) {
  auto backend = f.open(folder);
  backend->save("same", filled_record(0.f, 1 << 14));
  const pid_t pid = spawn([&] {
    auto writer = f.open(folder);
    for (int i = 1; i <= 400; ++i) {
      writer->save("same", filled_record(static_cast<float>(i), 1 << 14));
      writer->save("new-" + std::to_string(i), filled_record(static_cast<float>(i), 256));
    }
  });
  int done = 0;
  std::string problem;
  for (; done < loads && problem.empty(); ++done) {
    try {
      auto reader = f.open(folder);
      if (!uniform_record(reader->load("same"))) problem = "a load during a save returned a mixed record";
      for (const auto& name : reader->list())
        if (name.rfind("new-", 0) == 0 && !uniform_record(reader->load(name))) problem = name + " loaded mixed";
    } catch (const std::exception& e) {
      problem = std::string("a load during a save failed: ") + e.what();
    }
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  expect(problem.empty(), problem);
}

}  // namespace

std::vector<CheckResult> run_backend_conformance(const BackendFixture& fixture, const ConformanceOptions& options) {
  Scratch scratch(fixture.label);
  std::vector<CheckResult> results;
  auto check = [&](const std::string& name, auto&& body) {
    CheckResult r{name, false, ""};
    try {
      body(scratch.sub(name));
      r.passed = true;
    } catch (const Failure& e) {
      r.detail = e.why;
    } catch (const std::exception& e) {
      r.detail = std::string("threw: ") + e.what();
    }
    results.push_back(std::move(r));
  };
  check("round_trip", [&](const std::string& d) { round_trip(fixture, d); });
  check("weights_only", [&](const std::string& d) { weights_only(fixture, d); });
  check("list_and_remove", [&](const std::string& d) { list_and_remove(fixture, d); });
  check("names", [&](const std::string& d) { names(fixture, d); });
  check("large_tensor", [&](const std::string& d) { large_tensor(fixture, d, options.large_tensor_bytes); });
  check("many_checkpoints", [&](const std::string& d) { many(fixture, d, options.many); });
  check("corruption", [&](const std::string& d) { corruption(fixture, d); });
  check("sigkill_atomicity", [&](const std::string& d) { sigkill_atomicity(fixture, d, options.kill_rounds); });
  check("concurrent_reader", [&](const std::string& d) { concurrent_reader(fixture, d, options.concurrent_loads); });
  return results;
}

}  // namespace plugfit::testing
