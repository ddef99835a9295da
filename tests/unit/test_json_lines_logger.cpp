// JsonLinesLogger: its file, read back with read_history_file, and its state across a resume.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <plugfit/registry.hpp>

#include "data/history_file.hpp"
#include "training/callback_access.hpp"
#include "training/callbacks/json_lines_logger.hpp"
#include "test_support.hpp"

using namespace plugfit;
using namespace plugfit::test;
namespace fs = std::filesystem;


TEST_CASE("JsonLinesLogger: one object per epoch, epoch first, NaN and Inf as null, flushed each epoch") {
  test::TempDir temp;
  const fs::path file = temp.path / "log.jsonl";
  auto cb = make_callback("JsonLinesLogger", {{"filename", file.string()}});
  run_epochs(*cb, {make_logs({{"loss", 0.5}, {"accuracy", 0.25}, {"val_loss", 1.0 / 3}}),
                   make_logs({{"loss", kNaN}, {"accuracy", kInf}, {"val_loss", 1e-05}})});
  const std::string expected =
      "{\"epoch\": 0, \"loss\": 0.5, \"accuracy\": 0.25, \"val_loss\": 0.3333333333333333}\n"
      "{\"epoch\": 1, \"loss\": null, \"accuracy\": null, \"val_loss\": 1e-05}\n";
  CHECK(read_file(file) == expected);  // before on_train_end: flushed
  Logs end;
  cb->on_train_end(end);
  CHECK(read_file(file) == expected);
  // Every line is JSON that reads back to the same values.
  const HistoryTable t = read_history_file(file.string());
  CHECK(t.values.at("val_loss")[0] == 1.0 / 3);
  CHECK(t.values.at("val_loss")[1] == 1e-05);

  // append false starts afresh; append true adds.
  auto again = make_callback("JsonLinesLogger", {{"filename", file.string()}});
  run_epochs(*again, {make_logs({{"loss", 2.0}})});
  again->on_train_end(end);
  CHECK(read_file(file) == "{\"epoch\": 0, \"loss\": 2.0}\n");
  auto appending = make_callback("JsonLinesLogger", {{"filename", file.string()}, {"append", true}});
  run_epochs(*appending, {make_logs({{"loss", 1.5}})}, 1);
  appending->on_train_end(end);
  CHECK(read_file(file) == "{\"epoch\": 0, \"loss\": 2.0}\n{\"epoch\": 1, \"loss\": 1.5}\n");

  CHECK_THROWS_WITH_AS(make_callback("JsonLinesLogger", {}), doctest::Contains("\"filename\" is required"), InputError);
  CHECK_THROWS_WITH_AS(make_callback("JsonLinesLogger", {{"filename", (temp.path / "no/such/x.jsonl").string()}}),
                       doctest::Contains("JsonLinesLogger: cannot open"), InputError);
}

TEST_CASE("JsonLinesLogger resumed: appends, dropping lines of epochs past the checkpoint and torn lines") {
  test::TempDir temp;
  const fs::path file = temp.path / "log.jsonl";
  auto first = make_callback("JsonLinesLogger", {{"filename", file.string()}});
  run_epochs(*first, {make_logs({{"loss", 0.5}}), make_logs({{"loss", 0.4}})});
  const Json state = Json::parse(first->state().dump());  // the checkpoint after epoch 1
  CHECK(state == Json{{"last_epoch", 1}});
  run_epochs(*first, {make_logs({{"loss", 0.3}})}, 2);  // epoch 2 was logged
  first.reset();
  {
    std::ofstream torn(file, std::ios::binary | std::ios::app);
    torn << "{\"epoch\": 3, \"lo";  // then killed mid-line
  }
  auto resumed = make_callback("JsonLinesLogger", {{"filename", file.string()}}, &state, 2);
  CHECK(resumed->state_key() == "JsonLinesLogger{filename=" + file.string() + "}");
  run_epochs(*resumed, {make_logs({{"loss", 0.35}}), make_logs({{"loss", 0.25}})}, 2);
  Logs end;
  resumed->on_train_end(end);
  CHECK(read_file(file) ==
        "{\"epoch\": 0, \"loss\": 0.5}\n{\"epoch\": 1, \"loss\": 0.4}\n{\"epoch\": 2, \"loss\": 0.35}\n"
        "{\"epoch\": 3, \"loss\": 0.25}\n");

  // append true without a resume, onto a file a killed run left without its final line break.
  write_file(file, "{\"epoch\": 0, \"loss\": 1}\n{\"epo");
  auto appending = make_callback("JsonLinesLogger", {{"filename", file.string()}, {"append", true}});
  run_epochs(*appending, {make_logs({{"loss", 0.5}})}, 1);
  appending->on_train_end(end);
  CHECK(read_file(file) == "{\"epoch\": 0, \"loss\": 1}\n{\"epo\n{\"epoch\": 1, \"loss\": 0.5}\n");
}
