// The history-file readers: CSVLogger's CSV and JsonLinesLogger's JSON lines, and their errors.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <plugfit/error.hpp>

#include "data/history_file.hpp"
#include "test_support.hpp"

using namespace plugfit;
using namespace plugfit::test;
namespace fs = std::filesystem;

TEST_CASE("HistoryTable::set_row inserts epochs in order, replaces a repeated one, pads new keys with NaN") {
  HistoryTable t;
  t.set_row(1, {{"loss", 0.5}});
  t.set_row(0, {{"loss", 0.9}, {"val_loss", 1.0}});
  t.set_row(1, {{"val_loss", 0.7}});  // a resumed run's row replaces the whole row
  CHECK(t.epochs == std::vector<int>{0, 1});
  CHECK(t.keys == std::vector<std::string>{"loss", "val_loss"});
  CHECK(t.values.at("loss")[0] == 0.9);
  CHECK(std::isnan(t.values.at("loss")[1]));
  CHECK(t.values.at("val_loss") == std::vector<double>{1.0, 0.7});
  CHECK(t.has_finite_values());
  HistoryTable empty;
  empty.set_row(0, {{"loss", kNaN}});
  CHECK_FALSE(empty.has_finite_values());
}

TEST_CASE("parse_history_csv reads CSVLogger's format: CRLF, NA, nan, quoting, its separator") {
  const HistoryTable t = parse_history_csv(
      "epoch,accuracy,loss,val_accuracy,val_loss\r\n"
      "0,0.25,0.5,0.125,0.625\r\n"
      "1,1e-05,0.1,NA,0.3333333333333333\r\n"
      "2,1.0,nan,0.75,inf\r\n",
      "log.csv");
  CHECK(t.epochs == std::vector<int>{0, 1, 2});
  CHECK(t.keys == std::vector<std::string>{"accuracy", "loss", "val_accuracy", "val_loss"});
  CHECK(t.values.at("accuracy") == std::vector<double>{0.25, 1e-05, 1.0});
  CHECK(std::isnan(t.values.at("val_accuracy")[1]));
  CHECK(std::isnan(t.values.at("loss")[2]));
  CHECK(std::isinf(t.values.at("val_loss")[2]));
  CHECK(t.values.at("val_loss")[1] == 1.0 / 3);

  const HistoryTable semi = parse_history_csv("epoch;loss;\"odd;key\";val_loss\r\n0;0.5;1.0;0.25\r\n", "log.tsv");
  CHECK(semi.keys == std::vector<std::string>{"loss", "odd;key", "val_loss"});
  CHECK(semi.values.at("odd;key") == std::vector<double>{1.0});

  // "\n" line ends, no final line end, blank lines; a resumed run's rows replace earlier ones.
  const HistoryTable lf = parse_history_csv("epoch,loss\n0,3\n1,2\n\n1,1.5\n2,1", "log.csv");
  CHECK(lf.epochs == std::vector<int>{0, 1, 2});
  CHECK(lf.values.at("loss") == std::vector<double>{3, 1.5, 1});
}

TEST_CASE("read_history_file: one-sentence errors naming the file, the line and the column") {
  test::TempDir temp;
  auto expect = [&](const std::string& name, const std::string& text, const std::string& message) {
    const fs::path file = temp.path / name;
    write_file(file, text);
    CHECK_THROWS_WITH_AS(read_history_file(file.string()), (file.string() + message).c_str(), InputError);
  };
  expect("a.csv", "epoch,loss,val_loss\r\n0,0.5,0.4\r\n1,abc,0.3\r\n",
         ":3: column 2 (\"loss\"): \"abc\" is not a number");
  expect("b.csv", "epoch,loss,val_loss\r\n0,0.5,0.4\r\n1,0.3\r\n", ":3: 2 fields where the header has 3");
  expect("c.csv", "epoch,loss\r\nx,0.5\r\n", ":2: column 1 (\"epoch\"): \"x\" is not an epoch number");
  expect("d.csv", "epoch,loss\r\n0,\"0.5\r\n", ":2: column 2 opens a quote that is never closed");
  expect("e.csv", "epoch,loss\r\n0,\"0.5\"x\r\n", ":2: column 2 has text after its closing quote");
  expect("f.csv", "loss,val_loss\r\n0.5,0.4\r\n",
         ":1: the header has no \"epoch\" column (expected CSVLogger's format, \"epoch,loss,...\")");
  expect("g.csv", "epoch,loss,loss\r\n", ":1: column 3 repeats \"loss\"");
  expect("h.csv", "", " is empty (expected a CSVLogger header \"epoch,...\")");
  expect("i.csv", "epoch\r\n0\r\n1\r\n", " has no metric columns besides \"epoch\" (nothing to plot)");
  expect("j.csv", "epoch,loss\r\n", " has a header but no epochs yet (nothing to plot)");
  expect("k.csv", "epoch,loss,val_loss\r\n0,NA,nan\r\n1,,inf\r\n",
         " holds no numeric values to plot (every value is NA or not finite)");
  expect("l.jsonl", "{\"epoch\": 0, \"loss\": 0.5}\n{\"epoch\": 1, \"loss\": 0.4,}\n",
         ":2:26: malformed JSON: syntax error while parsing object key - unexpected '}'; expected string literal");
  expect("m.jsonl", "[1, 2]\n", ":1: expected a JSON object per line, got [1,2]");
  expect("m2.jsonl", "{\"epoch\": 0, \"loss\": 1e400}\n", ":1: malformed JSON: number overflow parsing '1e400'");
  expect("n.jsonl", "{\"loss\": 0.5}\n", ":1: the object has no \"epoch\" (expected {\"epoch\": 0, \"loss\": ...})");
  expect("o.jsonl", "{\"epoch\": 0, \"loss\": \"low\"}\n", ":1: \"loss\" must be a number or null, got \"low\"");
  expect("p.jsonl", "{\"epoch\": -1, \"loss\": 1}\n", ":1: \"epoch\" must be a non-negative integer, got -1");
  expect("q.jsonl", "\n\n", " holds no epochs (expected one JSON object per line)");
  CHECK_THROWS_WITH_AS(read_history_file((temp.path / "missing.csv").string()),
                       ((temp.path / "missing.csv").string() + ": cannot be read (No such file or directory)").c_str(),
                       InputError);
  CHECK_THROWS_WITH_AS(read_history_file(temp.path.string()),
                       (temp.path.string() + ": cannot be read (it is a folder)").c_str(), InputError);
}

TEST_CASE("read_history_file reads JSON lines by the .jsonl extension: null is a missing value") {
  test::TempDir temp;
  const fs::path file = temp.path / "log.jsonl";
  write_file(file, "{\"epoch\": 0, \"loss\": 0.5, \"val_loss\": null}\r\n\n{\"epoch\": 1, \"loss\": 0.25, \"val_loss\": 0.5}\n");
  const HistoryTable t = read_history_file(file.string());
  CHECK(t.epochs == std::vector<int>{0, 1});
  CHECK(t.keys == std::vector<std::string>{"loss", "val_loss"});
  CHECK(t.values.at("loss") == std::vector<double>{0.5, 0.25});
  CHECK(std::isnan(t.values.at("val_loss")[0]));
}
