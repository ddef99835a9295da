// Training curves: the SVG renderer, checked well formed by the XML checker in svg_checker.hpp.
// HistoryPlot is tested in test_history_plot.cpp, the history-file readers in test_history_file.cpp.
#include <doctest/doctest.h>

#include <filesystem>

#include "svg_checker.hpp"
#include "training/plot.hpp"

using namespace plugfit;
using namespace plugfit::test;
namespace fs = std::filesystem;

TEST_CASE("the XML checker itself tells well-formed from malformed") {
  CHECK(parse_xml("<?xml version=\"1.0\"?>\n<a x=\"1\"><b/>t &amp; u</a>\n").error.empty());
  CHECK_FALSE(parse_xml("<a><b></a></b>").error.empty());
  CHECK_FALSE(parse_xml("<a x=1/>").error.empty());
  CHECK_FALSE(parse_xml("<a x=\"1\" x=\"2\"/>").error.empty());
  CHECK_FALSE(parse_xml("<a>x < y</a>").error.empty());
  CHECK_FALSE(parse_xml("<a>x & y</a>").error.empty());
  CHECK_FALSE(parse_xml("<a/><b/>").error.empty());
  CHECK_FALSE(parse_xml("<a>").error.empty());
}

// ---------------------------------------------------------------------------------------------
// Axes

TEST_CASE("nice_ticks: steps of 1, 2 or 5 times a power of ten, widened to whole steps") {
  auto ticks = nice_ticks(0.31, 0.52, 5);
  REQUIRE(ticks.size() == 6);
  CHECK(ticks.front() == doctest::Approx(0.30));
  CHECK(ticks.back() == doctest::Approx(0.55));
  CHECK(ticks[1] - ticks[0] == doctest::Approx(0.05));

  ticks = nice_ticks(0.0, 1.0, 5);
  REQUIRE(ticks.size() == 6);
  for (std::size_t i = 0; i < ticks.size(); ++i) CHECK(ticks[i] == doctest::Approx(0.2 * double(i)));

  ticks = nice_ticks(1, 100, 7, true);  // 100 epochs
  CHECK(ticks == std::vector<double>{0, 20, 40, 60, 80, 100});
  ticks = nice_ticks(1, 5, 7, true);
  CHECK(ticks == std::vector<double>{1, 2, 3, 4, 5});
  ticks = nice_ticks(1, 2, 7, true);  // never a fractional epoch
  CHECK(ticks == std::vector<double>{1, 2});

  // A constant series: widened around its value.
  ticks = nice_ticks(0.001, 0.001, 5);
  CHECK(ticks.front() <= 0.001);
  CHECK(ticks.back() >= 0.001);
  CHECK(ticks.size() >= 3);
  ticks = nice_ticks(0.0, 0.0, 5);
  CHECK(ticks.front() < 0.0);
  CHECK(ticks.back() > 0.0);
  // Large values, negative values.
  ticks = nice_ticks(-3.2, 7.9, 5);
  CHECK(ticks.front() <= -3.2);
  CHECK(ticks.back() >= 7.9);
  CHECK(std::find(ticks.begin(), ticks.end(), 0.0) != ticks.end());
}

TEST_CASE("tick_label: as many decimals as the step needs, scientific for tiny values") {
  CHECK(tick_label(0.25, 0.05) == "0.25");
  CHECK(tick_label(0.3, 0.05) == "0.30");
  CHECK(tick_label(10, 5) == "10");
  CHECK(tick_label(-0.0, 0.1) == "0.0");
  CHECK(tick_label(0.0010, 0.0001) == "0.0010");
  CHECK(tick_label(1.5e-5, 5e-6) == "1.5e-05");
  CHECK(tick_label(2e-5, 5e-6) == "2.0e-05");
  CHECK(tick_label(0.0, 5e-6) == "0");
  CHECK(tick_label(3e7, 1e7) == "3e+07");
}

TEST_CASE("xml_escape: the five specials, control characters and bad UTF-8") {
  CHECK(xml_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&apos;");
  CHECK(xml_escape(std::string("x\x01y", 3)) == "xy");
  CHECK(xml_escape("caf\xC3\xA9") == "caf\xC3\xA9");
  CHECK(xml_escape("bad\xFF") == "bad\xEF\xBF\xBD");
  CHECK(xml_escape("\xC3") == "\xEF\xBF\xBD");
}

// ---------------------------------------------------------------------------------------------
// The SVG

TEST_CASE("the SVG: well formed, one path per series, legend, axis titles, val dashed, rate panel last") {
  const HistoryTable table = table_of({{"loss", {0.9, 0.6, 0.5}},
                                       {"accuracy", {0.6, 0.7, 0.75}},
                                       {"val_loss", {0.8, 0.7, 0.65}},
                                       {"val_accuracy", {0.62, 0.66, 0.7}},
                                       {"learning_rate", {0.001, 0.001, 0.0005}}});
  const std::string svg = render_history_svg(table, {"My run", "history.csv"});
  const XmlDocument doc = parse_xml(svg);
  REQUIRE_MESSAGE(doc.error.empty(), doc.error);
  REQUIRE(!doc.elements.empty());
  CHECK(doc.elements[0].name == "svg");
  CHECK(doc.elements[0].attributes.at("xmlns") == "http://www.w3.org/2000/svg");
  // Self-contained: nothing to fetch, nothing to run.
  for (const char* banned : {"script", "style", "image", "use", "foreignObject", "link"})
    CHECK_MESSAGE(doc.count(banned) == 0, banned);
  CHECK(svg.find("href") == std::string::npos);
  CHECK(svg.find("url(") == std::string::npos);
  CHECK(svg.find("@import") == std::string::npos);

  // One path per series, in panel order (loss, accuracy, learning_rate); val ones dashed.
  const auto paths = doc.all("path");
  REQUIRE(paths.size() == 5);
  CHECK(paths[0]->attributes.count("stroke-dasharray") == 0);  // loss
  CHECK(paths[1]->attributes.count("stroke-dasharray") == 1);  // val_loss
  CHECK(paths[2]->attributes.count("stroke-dasharray") == 0);  // accuracy
  CHECK(paths[3]->attributes.count("stroke-dasharray") == 1);  // val_accuracy
  CHECK(paths[4]->attributes.count("stroke-dasharray") == 0);  // learning_rate
  for (const auto* p : paths) CHECK(path_points(*p) == 3);
  CHECK(paths[0]->attributes.at("stroke") == paths[2]->attributes.at("stroke"));
  CHECK(paths[0]->attributes.at("stroke") != paths[1]->attributes.at("stroke"));

  // The legend names each series, the axes have titles, the figure its title.
  for (const char* series : {"loss", "val_loss", "accuracy", "val_accuracy", "learning_rate"})
    CHECK_MESSAGE(doc.has_text(series), series);
  const auto texts = doc.texts();
  CHECK(std::count(texts.begin(), texts.end(), "epoch") == 3);
  CHECK(std::count(texts.begin(), texts.end(), "loss") == 2);  // legend and y title
  CHECK(doc.has_text("My run"));
  CHECK(doc.has_text("history.csv"));
  CHECK(doc.all("title").size() == 1);
  // The y titles are rotated.
  std::size_t rotated = 0;
  for (const auto* t : doc.all("text")) rotated += t->attributes.count("transform");
  CHECK(rotated == 3);
  // Tick labels: the epochs 1..3 on each of the three x axes.
  CHECK(std::count(texts.begin(), texts.end(), "1") == 3);
  CHECK(std::count(texts.begin(), texts.end(), "3") == 3);
  CHECK(std::count(texts.begin(), texts.end(), "0.0010") == 1);
  // The learning rate panel comes last: its legend entry follows the accuracy ones.
  const auto at = [&](const std::string& t) { return std::find(texts.begin(), texts.end(), t) - texts.begin(); };
  CHECK(at("val_loss") < at("accuracy"));
  CHECK(at("val_accuracy") < at("learning_rate"));
}

TEST_CASE("the SVG: one epoch, a hundred epochs, NaN and NA points skipped") {
  SUBCASE("one epoch: one point per series, drawn as a marker, one x tick") {
    const XmlDocument doc = parse_xml(render_history_svg(table_of({{"loss", {0.5}}, {"val_loss", {0.6}}}), {}));
    REQUIRE_MESSAGE(doc.error.empty(), doc.error);
    REQUIRE(doc.count("path") == 2);
    for (const auto* p : doc.all("path")) CHECK(path_points(*p) == 1);
    CHECK(doc.count("circle") == 2);
    const auto texts = doc.texts();
    CHECK(std::count(texts.begin(), texts.end(), "1") == 1);
    CHECK(std::count(texts.begin(), texts.end(), "0") == 0);
    CHECK(std::count(texts.begin(), texts.end(), "2") == 0);
  }
  SUBCASE("a hundred epochs: no markers, ticks every 20") {
    std::vector<double> loss, val;
    for (int i = 0; i < 100; ++i) {
      loss.push_back(2.0 / (1 + i));
      val.push_back(2.2 / (1 + i) + 0.05);
    }
    const XmlDocument doc = parse_xml(render_history_svg(table_of({{"loss", loss}, {"val_loss", val}}), {}));
    REQUIRE_MESSAGE(doc.error.empty(), doc.error);
    REQUIRE(doc.count("path") == 2);
    for (const auto* p : doc.all("path")) CHECK(path_points(*p) == 100);
    CHECK(doc.count("circle") == 0);
    for (const char* tick : {"20", "40", "60", "80", "100"}) CHECK_MESSAGE(doc.has_text(tick), tick);
  }
  SUBCASE("NaN, infinite and missing values are skipped; an all-NA series is not drawn") {
    const XmlDocument doc = parse_xml(render_history_svg(
        table_of({{"loss", {0.5, kNaN, 0.4, kInf}}, {"val_loss", {kNaN, 0.6, kNaN, 0.5}}, {"val_mse", {kNaN, kNaN, kNaN, kNaN}}}),
        {}));
    REQUIRE_MESSAGE(doc.error.empty(), doc.error);
    const auto paths = doc.all("path");
    REQUIRE(paths.size() == 2);
    CHECK(path_points(*paths[0]) == 2);
    CHECK(path_points(*paths[1]) == 2);
    CHECK_FALSE(doc.has_text("val_mse"));
    for (const auto* p : paths) CHECK(p->attributes.at("d").find("nan") == std::string::npos);
  }
  SUBCASE("an empty history: a note, no series") {
    const XmlDocument doc = parse_xml(render_history_svg(HistoryTable{}, {}));
    REQUIRE_MESSAGE(doc.error.empty(), doc.error);
    CHECK(doc.count("path") == 0);
    CHECK(doc.has_text("No epoch has ended yet."));
  }
}

TEST_CASE("the SVG escapes XML specials in names and titles") {
  const std::string odd = "a<b>&\"c'";
  const XmlDocument doc =
      parse_xml(render_history_svg(table_of({{odd, {1, 2}}, {"val_" + odd, {2, 3}}}), {"<T&T>", "x & y"}));
  REQUIRE_MESSAGE(doc.error.empty(), doc.error);
  CHECK(doc.count("path") == 2);
  CHECK(doc.has_text(odd));
  CHECK(doc.has_text("val_" + odd));
  CHECK(doc.has_text("<T&T>"));
  CHECK(doc.has_text("x & y"));
}

TEST_CASE("the SVG lays many metrics out in a grid of panels, each legend above its plot") {
  std::vector<std::pair<std::string, std::vector<double>>> columns;
  for (const char* m : {"loss", "accuracy", "mse", "mae", "auc"}) {
    columns.push_back({m, {1, 2}});
    columns.push_back({std::string("val_") + m, {2, 3}});
  }
  columns.push_back({"a_metric_with_a_very_long_name_indeed", {1, 3}});
  columns.push_back({"val_a_metric_with_a_very_long_name_indeed", {2, 1}});
  const XmlDocument doc = parse_xml(render_history_svg(table_of(columns), {}));
  REQUIRE_MESSAGE(doc.error.empty(), doc.error);
  CHECK(doc.count("path") == 12);
  CHECK(doc.count("rect") == 1 + 6);  // the background and one frame per panel
  // No legend text starts inside its panel's plot frame.
  const auto frames = doc.all("rect");
  for (const auto* t : doc.all("text")) {
    if (t->attributes.count("transform") != 0) continue;
    const double x = std::stod(t->attributes.at("x")), y = std::stod(t->attributes.at("y"));
    for (std::size_t f = 1; f < frames.size(); ++f) {
      const double fx = std::stod(frames[f]->attributes.at("x")), fy = std::stod(frames[f]->attributes.at("y"));
      const double fw = std::stod(frames[f]->attributes.at("width")), fh = std::stod(frames[f]->attributes.at("height"));
      CHECK_FALSE_MESSAGE((x > fx + 1 && x < fx + fw - 1 && y > fy + 1 && y < fy + fh - 1), t->text);
    }
  }
}
