// HistoryPlot: rewrites the SVG each epoch, its file and its state across a resume.
#include <doctest/doctest.h>

#include <filesystem>

#include "svg_checker.hpp"
#include "training/callbacks/history_plot.hpp"
#include "training/plot.hpp"

using namespace plugfit;
using namespace plugfit::test;
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// HistoryPlot

TEST_CASE("HistoryPlot rewrites a well-formed SVG at every epoch end, atomically") {
  test::TempDir temp;
  const fs::path file = temp.path / "curves.svg";
  auto cb = make_callback("HistoryPlot", {{"filename", file.string()}, {"title", "Live & well"}}, nullptr, 0, 3);
  // Written at the start: a path that cannot be written fails before any epoch.
  XmlDocument doc = parse_xml(read_file(file));
  REQUIRE_MESSAGE(doc.error.empty(), doc.error);
  CHECK(doc.count("path") == 0);
  CHECK(doc.has_text("Live & well"));
  CHECK(doc.has_text("waiting for the first epoch to end"));

  run_epochs(*cb, {make_logs({{"loss", 0.9}, {"accuracy", 0.5}, {"val_loss", 1.0}, {"val_accuracy", 0.4}})});
  doc = parse_xml(read_file(file));
  REQUIRE_MESSAGE(doc.error.empty(), doc.error);
  CHECK(doc.count("path") == 4);
  CHECK(doc.has_text("epoch 1 of 3"));
  run_epochs(*cb, {make_logs({{"loss", 0.7}, {"accuracy", 0.6}, {"val_loss", 0.8}, {"val_accuracy", 0.55}})}, 1);
  doc = parse_xml(read_file(file));
  REQUIRE_MESSAGE(doc.error.empty(), doc.error);
  for (const auto* p : doc.all("path")) CHECK(path_points(*p) == 2);
  CHECK(doc.has_text("epoch 2 of 3"));
  CHECK(dynamic_cast<HistoryPlot&>(*cb).render() == read_file(file));
  // Nothing but the SVG in the folder: the temporary files were renamed over it.
  std::size_t entries = 0;
  for (const auto& e : fs::directory_iterator(temp.path)) entries += e.path() == file ? 1 : 100;
  CHECK(entries == 1);

  CHECK_THROWS_WITH_AS(make_callback("HistoryPlot", {{"filename", (temp.path / "no/such/dir.svg").string()}}),
                       doctest::Contains("HistoryPlot: cannot write"), InputError);
  CHECK_THROWS_WITH_AS(make_callback("HistoryPlot", {{"filname", "x.svg"}}), doctest::Contains("filname"), InputError);
}

TEST_CASE("HistoryPlot: its rows are its state; a resumed run draws the whole history") {
  test::TempDir temp;
  const fs::path file = temp.path / "h.svg";
  auto first = make_callback("HistoryPlot", {{"filename", file.string()}});
  CHECK(first->state_key() == "HistoryPlot{filename=" + file.string() + "}");
  run_epochs(*first, {make_logs({{"loss", 0.9}, {"val_loss", kNaN}}), make_logs({{"loss", 0.8}, {"val_loss", 0.85}})});
  const Json state = Json::parse(first->state().dump());  // the checkpoint after epoch 1 (NaN as null)
  CHECK(state["rows"].size() == 2);
  CHECK(state["rows"][0]["logs"]["val_loss"].is_null());
  run_epochs(*first, {make_logs({{"loss", 0.75}, {"val_loss", 0.8}})}, 2);  // epoch 2, then the crash
  first.reset();

  auto resumed = make_callback("HistoryPlot", {{"filename", file.string()}}, &state, 2);
  const auto& rows = dynamic_cast<HistoryPlot&>(*resumed).rows();
  REQUIRE(rows.size() == 2);
  CHECK(rows[1].first == 1);
  run_epochs(*resumed, {make_logs({{"loss", 0.7}, {"val_loss", 0.78}})}, 2);
  const XmlDocument doc = parse_xml(read_file(file));
  REQUIRE_MESSAGE(doc.error.empty(), doc.error);
  const auto paths = doc.all("path");
  REQUIRE(paths.size() == 2);
  CHECK(path_points(*paths[0]) == 3);  // loss: epochs 0, 1, 2
  CHECK(path_points(*paths[1]) == 2);  // val_loss: epoch 0 was NaN
  CHECK(doc.has_text("epoch 3 of 10"));

  // A state from a checkpoint taken after a later epoch: the rows past the resumed epoch go.
  const Json later = resumed->state();
  auto again = make_callback("HistoryPlot", {{"filename", file.string()}}, &later, 1);
  CHECK(dynamic_cast<HistoryPlot&>(*again).rows().size() == 1);
  // Not resumed: a fresh history.
  auto fresh = make_callback("HistoryPlot", {{"filename", file.string()}});
  CHECK(dynamic_cast<HistoryPlot&>(*fresh).rows().empty());

  auto bad = test::builtins().create_callback("HistoryPlot", {});
  CHECK_THROWS_WITH_AS(bad->load_state({{"rows", {{{"epoch", "x"}}}}}), doctest::Contains("HistoryPlot: the saved state"),
                       InputError);
}
