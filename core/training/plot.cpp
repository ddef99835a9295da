#include "plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <sstream>

namespace plugfit {

// ---------------------------------------------------------------------------------------------
// Axes

std::vector<double> nice_ticks(double lo, double hi, int target, bool integer) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {0.0, 1.0};
  if (lo > hi) std::swap(lo, hi);
  if (!(hi > lo)) {
    const double pad = integer ? 1.0 : (lo == 0.0 ? 1.0 : std::abs(lo) * 0.1);
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / std::max(1, target - 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / magnitude;
  double step = (f < 1.5 ? 1.0 : f < 3.0 ? 2.0 : f < 7.0 ? 5.0 : 10.0) * magnitude;
  if (integer) step = std::max(1.0, std::round(step));
  const double first = std::floor(lo / step + 1e-9);
  const double last = std::ceil(hi / step - 1e-9);
  std::vector<double> ticks;
  for (double i = first; i <= last && ticks.size() < 1000; i += 1.0) {
    double t = i * step;
    if (std::abs(t) < step * 1e-9) t = 0.0;
    ticks.push_back(t);
  }
  if (ticks.size() < 2) ticks = {first * step, (first + 1.0) * step};
  return ticks;
}

std::string tick_label(double value, double step) {
  char buf[64];
  if (value == 0.0) value = 0.0;  // no "-0"
  const double step_exp = std::floor(std::log10(std::abs(step)) + 1e-9);
  const int decimals = std::max(0, static_cast<int>(-step_exp));
  if (decimals <= 4 && std::abs(value) < 1e6) {
    std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
    std::string text = buf;
    if (text.find_first_not_of("-0.") == std::string::npos && text[0] == '-') text.erase(0, 1);
    return text;
  }
  if (value == 0.0) return "0";
  const double value_exp = std::floor(std::log10(std::abs(value)) + 1e-9);
  const int digits = std::clamp(static_cast<int>(value_exp - step_exp), 0, 12);
  std::snprintf(buf, sizeof buf, "%.*e", digits, value);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// SVG

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '&': out += "&amp;"; ++i; continue;
      case '<': out += "&lt;"; ++i; continue;
      case '>': out += "&gt;"; ++i; continue;
      case '"': out += "&quot;"; ++i; continue;
      case '\'': out += "&apos;"; ++i; continue;
      default: break;
    }
    if (c < 0x80) {
      if (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') out += static_cast<char>(c);
      ++i;
      continue;
    }
    // A UTF-8 sequence, copied when well formed; anything else becomes U+FFFD.
    const std::size_t length = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    bool ok = length > 0 && i + length <= text.size();
    for (std::size_t k = 1; ok && k < length; ++k) ok = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    if (ok && length == 3) {
      const auto c1 = static_cast<unsigned char>(text[i + 1]);
      ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);  // overlong, surrogates
      if (ok && c == 0xEF && c1 == 0xBF && static_cast<unsigned char>(text[i + 2]) >= 0xBE) ok = false;  // U+FFFE/F
    }
    if (ok && length == 4) {
      const auto c1 = static_cast<unsigned char>(text[i + 1]);
      ok = !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
    }
    if (ok) {
      out.append(text, i, length);
      i += length;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

namespace {

// Layout, in SVG user units (pixels).
constexpr double kPad = 16;            // around the figure
constexpr double kPanelWidth = 460;
constexpr double kPlotHeight = 230;
constexpr double kPlotLeft = 76;       // from the panel's left edge: y tick labels and the y title
constexpr double kPlotRight = 22;      // to the panel's right edge
constexpr double kPlotBelow = 50;      // under the plot: x tick labels and the x title
constexpr double kLegendRow = 20;
constexpr double kCharWidth = 7.0;     // a 12px sans-serif character, about
constexpr int kMaxMarkedPoints = 30;   // series with more points get no markers

const char* const kTrainColor = "#1f77b4";
const char* const kValColor = "#e8710a";
const char* const kRateColor = "#2ca02c";
const char* const kFont = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif";

struct Series {
  std::string key;
  bool validation = false;
  std::string color;
  std::vector<std::pair<double, double>> points;  // (epoch 1-based, value), finite values only
};

struct Panel {
  std::string name;
  std::vector<Series> series;
  std::vector<std::vector<std::size_t>> legend_rows;  // indices into series, row by row
};

bool is_rate(const std::string& name) { return name == "learning_rate" || name == "lr"; }

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  // "12.50" -> "12.5", "3.00" -> "3": shorter files, same picture.
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

double text_width(const std::string& text, double font_size) {
  std::size_t chars = 0;
  for (char c : text)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++chars;
  return static_cast<double>(chars) * kCharWidth * font_size / 12.0;
}

std::vector<Panel> make_panels(const HistoryTable& table) {
  // Base name -> (training key, validation key), the base names in the order first seen.
  std::map<std::string, std::pair<std::string, std::string>> pairs;
  std::vector<std::string> names;
  for (const auto& key : table.keys) {
    const bool validation = key.size() > 4 && key.rfind("val_", 0) == 0;
    const std::string base = validation ? key.substr(4) : key;
    if (pairs.find(base) == pairs.end()) names.push_back(base);
    (validation ? pairs[base].second : pairs[base].first) = key;
  }
  // loss first, the other metrics by name, the learning rate last.
  auto rank = [](const std::string& name) { return name == "loss" ? 0 : is_rate(name) ? 2 : 1; };
  std::stable_sort(names.begin(), names.end(), [&](const std::string& a, const std::string& b) {
    return rank(a) != rank(b) ? rank(a) < rank(b) : a < b;
  });
  std::vector<Panel> panels;
  for (const auto& name : names) {
    Panel panel;
    panel.name = name;
    const auto& [train_key, val_key] = pairs[name];
    for (const auto& key : {train_key, val_key}) {
      if (key.empty()) continue;
      Series series;
      series.key = key;
      series.validation = key != train_key;
      series.color = series.validation ? kValColor : is_rate(name) ? kRateColor : kTrainColor;
      const auto& column = table.values.at(key);
      for (std::size_t i = 0; i < table.epochs.size(); ++i)
        if (std::isfinite(column[i])) series.points.emplace_back(table.epochs[i] + 1.0, column[i]);
      if (!series.points.empty()) panel.series.push_back(std::move(series));
    }
    if (!panel.series.empty()) panels.push_back(std::move(panel));
  }
  return panels;
}

double legend_entry_width(const Series& s) { return 28 + 6 + text_width(s.key, 12) + 18; }

// Lays the legend entries out left to right, wrapping at width.
void layout_legend(Panel& panel, double width) {
  double x = 0;
  for (std::size_t i = 0; i < panel.series.size(); ++i) {
    const double w = legend_entry_width(panel.series[i]);
    if (panel.legend_rows.empty() || (x + w > width && x > 0)) {
      panel.legend_rows.emplace_back();
      x = 0;
    }
    panel.legend_rows.back().push_back(i);
    x += w;
  }
}

struct Axis {
  double lo = 0, hi = 1, step = 1;
  std::vector<double> ticks;
};

Axis y_axis(const Panel& panel) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& s : panel.series)
    for (const auto& [x, y] : s.points) lo = std::min(lo, y), hi = std::max(hi, y);
  Axis axis;
  axis.ticks = nice_ticks(lo, hi, 5);
  axis.lo = axis.ticks.front();
  axis.hi = axis.ticks.back();
  axis.step = axis.ticks[1] - axis.ticks[0];
  return axis;
}

Axis x_axis(const HistoryTable& table) {
  Axis axis;
  axis.lo = table.epochs.front() + 1.0;
  axis.hi = table.epochs.back() + 1.0;
  if (axis.lo == axis.hi) {  // one epoch: centred, one tick
    axis.ticks = {axis.lo};
    axis.lo -= 1.0;
    axis.hi += 1.0;
    return axis;
  }
  const auto nice = nice_ticks(axis.lo, axis.hi, 7, true);
  axis.step = nice[1] - nice[0];
  for (double t : nice)
    if (t >= axis.lo - 1e-9 && t <= axis.hi + 1e-9) axis.ticks.push_back(t);
  if (axis.ticks.empty()) axis.ticks = {axis.lo, axis.hi};
  return axis;
}

class SvgWriter {
 public:
  std::ostringstream out;

  void text(double x, double y, const std::string& content, double size, const char* anchor,
            const std::string& extra = "") {
    out << "<text x=\"" << num(x) << "\" y=\"" << num(y) << "\" font-size=\"" << num(size) << "\"";
    if (std::strcmp(anchor, "start") != 0) out << " text-anchor=\"" << anchor << "\"";
    if (!extra.empty()) out << " " << extra;
    out << ">" << xml_escape(content) << "</text>\n";
  }
  void line(double x1, double y1, double x2, double y2, const std::string& stroke, double width,
            const std::string& extra = "") {
    out << "<line x1=\"" << num(x1) << "\" y1=\"" << num(y1) << "\" x2=\"" << num(x2) << "\" y2=\"" << num(y2)
        << "\" stroke=\"" << stroke << "\" stroke-width=\"" << num(width) << "\"";
    if (!extra.empty()) out << " " << extra;
    out << "/>\n";
  }
};

const char* dash(const Series& s) { return s.validation ? "stroke-dasharray=\"7 4\"" : ""; }

void draw_panel(SvgWriter& svg, const Panel& panel, const Axis& x, double px, double py, double legend_height) {
  const Axis y = y_axis(panel);
  const double left = px + kPlotLeft, right = px + kPanelWidth - kPlotRight;
  const double top = py + legend_height, bottom = top + kPlotHeight;
  // A little room inside the frame so end markers are not cut by it.
  const double inset = 8;
  auto sx = [&](double v) { return left + inset + (v - x.lo) / (x.hi - x.lo) * (right - left - 2 * inset); };
  auto sy = [&](double v) { return bottom - inset - (v - y.lo) / (y.hi - y.lo) * (bottom - top - 2 * inset); };

  svg.out << "<g>\n";
  // Legend, above the plot.
  for (std::size_t r = 0; r < panel.legend_rows.size(); ++r) {
    double lx = left;
    const double ly = py + 14 + static_cast<double>(r) * kLegendRow;
    for (std::size_t i : panel.legend_rows[r]) {
      const Series& s = panel.series[i];
      svg.line(lx, ly - 4, lx + 28, ly - 4, s.color, 2.5, dash(s));
      svg.text(lx + 34, ly, s.key, 12, "start", "fill=\"#222\"");
      lx += legend_entry_width(s);
    }
  }
  // Grid, then the axes and their ticks and labels.
  for (double t : y.ticks) svg.line(left, sy(t), right, sy(t), "#e6e6e6", 1);
  for (double t : x.ticks) svg.line(sx(t), top, sx(t), bottom, "#e6e6e6", 1);
  svg.out << "<rect x=\"" << num(left) << "\" y=\"" << num(top) << "\" width=\"" << num(right - left)
          << "\" height=\"" << num(bottom - top) << "\" fill=\"none\" stroke=\"#888\" stroke-width=\"1\"/>\n";
  for (double t : y.ticks) {
    svg.line(left - 4, sy(t), left, sy(t), "#444", 1);
    svg.text(left - 7, sy(t) + 4, tick_label(t, y.step), 11, "end", "fill=\"#333\"");
  }
  for (double t : x.ticks) {
    svg.line(sx(t), bottom, sx(t), bottom + 4, "#444", 1);
    svg.text(sx(t), bottom + 17, tick_label(t, 1.0), 11, "middle", "fill=\"#333\"");
  }
  svg.text((left + right) / 2, bottom + 38, "epoch", 12, "middle", "fill=\"#222\"");
  const double ty = (top + bottom) / 2, tx = px + 16;
  svg.text(tx, ty, panel.name, 12, "middle",
           "fill=\"#222\" transform=\"rotate(-90 " + num(tx) + " " + num(ty) + ")\"");
  // The series: one path each, then the markers of short ones.
  for (const auto& s : panel.series) {
    svg.out << "<path d=\"";
    for (std::size_t i = 0; i < s.points.size(); ++i)
      svg.out << (i == 0 ? "M" : " L") << num(sx(s.points[i].first)) << "," << num(sy(s.points[i].second));
    svg.out << "\" fill=\"none\" stroke=\"" << s.color
            << "\" stroke-width=\"2.2\" stroke-linejoin=\"round\" stroke-linecap=\"round\"";
    if (s.validation) svg.out << " " << dash(s);
    svg.out << "/>\n";
  }
  for (const auto& s : panel.series) {
    if (s.points.size() > static_cast<std::size_t>(kMaxMarkedPoints)) continue;
    svg.out << "<g fill=\"" << (s.validation ? "#fff" : s.color) << "\" stroke=\"" << s.color
            << "\" stroke-width=\"1.5\">\n";
    for (const auto& [px_, py_] : s.points)
      svg.out << "<circle cx=\"" << num(sx(px_)) << "\" cy=\"" << num(sy(py_)) << "\" r=\"3\"/>\n";
    svg.out << "</g>\n";
  }
  svg.out << "</g>\n";
}

}  // namespace

std::string render_history_svg(const HistoryTable& table, const PlotOptions& options) {
  std::vector<Panel> panels = make_panels(table);
  const std::size_t n = panels.size();
  const std::size_t columns = n == 0 ? 1 : n <= 3 ? n : n == 4 ? 2 : 3;
  const std::size_t rows = n == 0 ? 1 : (n + columns - 1) / columns;
  std::size_t legend_rows = 1;
  for (auto& panel : panels) {
    layout_legend(panel, kPanelWidth - kPlotLeft - kPlotRight);
    legend_rows = std::max(legend_rows, panel.legend_rows.size());
  }
  const double legend_height = 10 + static_cast<double>(legend_rows) * kLegendRow;
  const double panel_height = legend_height + kPlotHeight + kPlotBelow;
  const double header = options.subtitle.empty() ? 40 : 58;
  const double width = std::max(2 * kPad + static_cast<double>(columns) * kPanelWidth,
                                2 * kPad + text_width(options.title, 18) + 20);
  const double height =
      n == 0 ? header + 60 : header + static_cast<double>(rows) * panel_height + static_cast<double>(rows - 1) * 10 + 6;

  SvgWriter svg;
  svg.out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          << "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" << num(width) << "\" height=\""
          << num(height) << "\" viewBox=\"0 0 " << num(width) << " " << num(height) << "\" font-family=\"" << kFont
          << "\">\n"
          << "<title>" << xml_escape(options.title) << "</title>\n"
          << "<rect x=\"0\" y=\"0\" width=\"" << num(width) << "\" height=\"" << num(height) << "\" fill=\"#fff\"/>\n";
  svg.text(kPad, kPad + 14, options.title, 18, "start", "font-weight=\"bold\" fill=\"#111\"");
  if (!options.subtitle.empty()) svg.text(kPad, kPad + 34, options.subtitle, 12, "start", "fill=\"#666\"");
  if (n == 0) {
    svg.text(kPad, header + 24, table.epochs.empty() ? "No epoch has ended yet." : "No finite values to plot yet.", 13,
             "start", "fill=\"#666\"");
  } else {
    const Axis x = x_axis(table);
    for (std::size_t i = 0; i < n; ++i) {
      const double px = kPad + static_cast<double>(i % columns) * kPanelWidth;
      const double py = header + static_cast<double>(i / columns) * (panel_height + 10);
      draw_panel(svg, panels[i], x, px, py, legend_height);
    }
  }
  svg.out << "</svg>\n";
  return svg.out.str();
}

}  // namespace plugfit
