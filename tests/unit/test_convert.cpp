// convert_checkpoints: every checkpoint copied and verified bit for bit, the index limited to
// what was copied; same_bits tells NaN payloads and -0 apart.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include <plugfit/checkpoint_index.hpp>

#include "checkpoint/convert.hpp"
#include "checkpoint/dir_backend.hpp"
#include "test_support.hpp"

using namespace plugfit;
namespace fs = std::filesystem;

namespace {

CheckpointRecord record_of(float fill, int epoch) {
  CheckpointRecord r;
  r.info = {{"kind", "full"}, {"epoch", epoch}};
  r.tensors.push_back({"weights/dense/kernel", {2, 2}, {fill, -0.0f, std::numeric_limits<float>::quiet_NaN(), 1e-38f}});
  r.tensors.push_back({"weights/empty", {0}, {}});
  return r;
}

}  // namespace

TEST_CASE("convert copies every checkpoint bit for bit and carries the index") {
  test::TempDir temp;
  DirBackend from(temp.path / "a"), to(temp.path / "b");
  for (int e = 1; e <= 3; ++e) from.save("ckpt-000" + std::to_string(e), record_of(float(e), e));
  CheckpointIndex index;
  index.note_saved({"ckpt-0001", 1, 10, "full", "manager", {{"val_loss", 0.5}}});
  index.note_saved({"ckpt-0002", 2, 20, "full", "manager", {{"val_loss", 0.3}}});
  index.note_saved({"ckpt-0003", 3, 30, "full", "manager", {{"val_loss", 0.4}}});
  index.write(from);

  std::vector<std::string> reported;
  const auto names = convert_checkpoints(from, to, std::nullopt,
                                         [&](const std::string& name, const CheckpointRecord&) { reported.push_back(name); });
  CHECK(names == std::vector<std::string>{"ckpt-0001", "ckpt-0002", "ckpt-0003"});
  CHECK(reported == names);
  for (const auto& name : names) CHECK(same_record(to.load(name), from.load(name)));
  CHECK(CheckpointIndex::read(to).to_json() == CheckpointIndex::read(from).to_json());
}

TEST_CASE("convert --only copies one checkpoint; latest and best point only at what was copied") {
  test::TempDir temp;
  DirBackend from(temp.path / "a"), to(temp.path / "b");
  from.save("one", record_of(1, 1));
  from.save("two", record_of(2, 2));
  const auto names = convert_checkpoints(from, to, std::string("one"), [](const std::string&, const CheckpointRecord&) {});
  CHECK(names == std::vector<std::string>{"one"});
  CHECK(to.list() == std::vector<std::string>{"one"});
  // Exported alone into an empty location: no index beside it, and latest is the one copied.
  CHECK(to.read_index() == Json::object());
  CHECK(resolve_checkpoint_name(to, "").value_or("") == "one");

  // Into a location that holds checkpoints, the index says what was copied.
  DirBackend held(temp.path / "c");
  held.save("zero", record_of(0, 0));
  held.write_index({{"format", 1}, {"latest", "zero"}});
  convert_checkpoints(from, held, std::string("two"), [](const std::string&, const CheckpointRecord&) {});
  CHECK(CheckpointIndex::read(held).to_json().value("latest", "") == "two");
}

TEST_CASE("convert refuses one location twice, and an empty source") {
  test::TempDir temp;
  DirBackend a(temp.path / "a"), same(temp.path / "a"), b(temp.path / "b");
  auto ignore = [](const std::string&, const CheckpointRecord&) {};
  CHECK_THROWS_AS(convert_checkpoints(a, same, std::nullopt, ignore), InputError);
  CHECK_THROWS_WITH_AS(convert_checkpoints(a, b, std::nullopt, ignore), doctest::Contains("holds no checkpoints"), InputError);
}

TEST_CASE("same_bits: a NaN payload, -0 and shapes tell tensors apart") {
  NamedTensor a{"w", {2}, {0.0f, 1.0f}};
  NamedTensor b = a;
  CHECK(same_bits(a, b));
  b.values[0] = -0.0f;  // == 0.0f as a float, different bits
  CHECK_FALSE(same_bits(a, b));
  b = a;
  b.shape = {1, 2};
  CHECK_FALSE(same_bits(a, b));
  NamedTensor empty1{"e", {0}, {}}, empty2{"e", {0}, {}};
  CHECK(same_bits(empty1, empty2));
}
