// CSVLogger: Keras's format byte for byte, append and resume; python_float.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "callback_harness.hpp"
#include "training/callbacks/csv_logger.hpp"
#include "training/callbacks/monitor.hpp"

using namespace plugfit;
using namespace plugfit::test;
namespace fs = std::filesystem;


TEST_CASE("python_float prints as Python's str(float)") {
  CHECK(python_float(0.1) == "0.1");
  CHECK(python_float(0.5) == "0.5");
  CHECK(python_float(2.0) == "2.0");
  CHECK(python_float(123.0) == "123.0");
  CHECK(python_float(-2.5) == "-2.5");
  CHECK(python_float(0.0) == "0.0");
  CHECK(python_float(1.0 / 3) == "0.3333333333333333");
  CHECK(python_float(0.0001) == "0.0001");
  CHECK(python_float(1e-05) == "1e-05");
  CHECK(python_float(1.5e-07) == "1.5e-07");
  CHECK(python_float(1e15) == "1000000000000000.0");
  CHECK(python_float(1e16) == "1e+16");
  CHECK(python_float(1.2345678901234567e+19) == "1.2345678901234567e+19");
  CHECK(python_float(0.1 + 0.2) == "0.30000000000000004");
  CHECK(python_float(kNaN) == "nan");
  CHECK(python_float(kInf) == "inf");
  CHECK(python_float(-kInf) == "-inf");
}

TEST_CASE("CSVLogger writes Keras's format byte for byte") {
  Harness h;
  const fs::path file = h.temp.path / "log.csv";
  auto cb = h.make("CSVLogger", {{"filename", file.string()}});
  run_epochs(*cb, {make_logs({{"loss", 0.5}, {"accuracy", 0.25}, {"val_loss", 0.625}, {"val_accuracy", 0.125}}),
                   make_logs({{"loss", 0.1}, {"accuracy", 1e-05}, {"val_loss", 1.0 / 3}, {"extra", 7.0}}),
                   make_logs({{"loss", kNaN}, {"accuracy", 1.0}, {"val_loss", 2.0}, {"val_accuracy", 0.75}})});
  // Flushed after every epoch: complete before on_train_end.
  const std::string expected =
      "epoch,accuracy,loss,val_accuracy,val_loss\r\n"
      "0,0.25,0.5,0.125,0.625\r\n"
      "1,1e-05,0.1,NA,0.3333333333333333\r\n"
      "2,1.0,nan,0.75,2.0\r\n";
  CHECK(read_file(file) == expected);
  h.train_end(*cb);
  CHECK(read_file(file) == expected);
}

TEST_CASE("CSVLogger adds val_ columns when the first epoch has none, written as NA") {
  Harness h;
  const fs::path file = h.temp.path / "log.csv";
  auto cb = h.make("CSVLogger", {{"filename", file.string()}});
  run_epochs(*cb, {make_logs({{"loss", 0.5}, {"accuracy", 0.75}}),
                   make_logs({{"loss", 0.25}, {"accuracy", 1.0}, {"val_loss", 0.5}})});
  h.train_end(*cb);
  CHECK(read_file(file) == "epoch,accuracy,loss,val_accuracy,val_loss\r\n"
                           "0,0.75,0.5,NA,NA\r\n"
                           "1,1.0,0.25,NA,0.5\r\n");
}

TEST_CASE("CSVLogger separator, and quoting of fields that hold it") {
  Harness h;
  const fs::path file = h.temp.path / "log.tsv";
  auto cb = h.make("CSVLogger", {{"filename", file.string()}, {"separator", ";"}});
  run_epochs(*cb, {make_logs({{"loss", 0.5}, {"val_loss", 0.25}, {"odd;key", 1.0}})});
  h.train_end(*cb);
  CHECK(read_file(file) == "epoch;loss;\"odd;key\";val_loss\r\n0;0.5;1.0;0.25\r\n");
  CHECK_THROWS_WITH_AS(h.make("CSVLogger", {{"filename", "x.csv"}, {"separator", ", "}}),
                       doctest::Contains("\"separator\" must be a single character"), InputError);
  CHECK_THROWS_WITH_AS(h.make("CSVLogger", {{"separator", ","}}), doctest::Contains("\"filename\" is required"),
                       InputError);
}

TEST_CASE("CSVLogger append: the header only into an empty file; without append the file restarts") {
  Harness h;
  const fs::path file = h.temp.path / "log.csv";
  write_file(file, "epoch,loss,val_loss\r\n0,0.5,0.5\r\n");
  auto appending = h.make("CSVLogger", {{"filename", file.string()}, {"append", true}});
  run_epochs(*appending, {make_logs({{"loss", 0.25}, {"val_loss", 0.125}})}, 1);
  h.train_end(*appending);
  CHECK(read_file(file) == "epoch,loss,val_loss\r\n0,0.5,0.5\r\n1,0.25,0.125\r\n");

  write_file(file, "");
  auto into_empty = h.make("CSVLogger", {{"filename", file.string()}, {"append", true}});
  run_epochs(*into_empty, {make_logs({{"loss", 0.25}, {"val_loss", 0.125}})});
  h.train_end(*into_empty);
  CHECK(read_file(file) == "epoch,loss,val_loss\r\n0,0.25,0.125\r\n");

  auto overwriting = h.make("CSVLogger", {{"filename", file.string()}});
  run_epochs(*overwriting, {make_logs({{"loss", 2.0}, {"val_loss", 3.0}})});
  h.train_end(*overwriting);
  CHECK(read_file(file) == "epoch,loss,val_loss\r\n0,2.0,3.0\r\n");

  CHECK_THROWS_WITH_AS(h.make("CSVLogger", {{"filename", (h.temp.path / "no/such/dir.csv").string()}}),
                       doctest::Contains("cannot open"), InputError);
}

TEST_CASE("CSVLogger resumed: appends, keeps its columns, drops rows written after the checkpoint") {
  Harness h;
  const fs::path file = h.temp.path / "log.csv";
  auto first = h.make("CSVLogger", {{"filename", file.string()}});  // append false, as in the run file
  run_epochs(*first, {make_logs({{"loss", 0.5}}), make_logs({{"loss", 0.4}})});
  const Json state = Json::parse(first->state().dump());  // the checkpoint after epoch 1
  run_epochs(*first, {make_logs({{"loss", 0.3}})}, 2);    // epoch 2 was logged, then the crash
  first.reset();
  auto resumed = h.make("CSVLogger", {{"filename", file.string()}}, &state, 2);
  CHECK(resumed->state_key() == "CSVLogger{filename=" + file.string() + "}");
  // The resumed epochs log a new key: the columns stay those of the first run.
  run_epochs(*resumed, {make_logs({{"loss", 0.35}, {"learning_rate", 0.1}}), make_logs({{"loss", 0.25}})}, 2);
  h.train_end(*resumed);
  CHECK(read_file(file) == "epoch,loss,val_loss\r\n0,0.5,NA\r\n1,0.4,NA\r\n2,0.35,NA\r\n3,0.25,NA\r\n");
}
