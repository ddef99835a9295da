#include "plot.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <unistd.h>

#include <plugfit/config.hpp>
#include <plugfit/error.hpp>

namespace plugfit {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

// The text of a field for an error message: quoted, shortened when long.
std::string shown(const std::string& text) {
  return quoted(text.size() > 40 ? text.substr(0, 37) + "..." : text);
}

// A JSON value for an error message, shortened when long.
std::string shown_json(const Json& value) {
  const std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  return text.size() > 40 ? text.substr(0, 37) + "..." : text;
}

// A metric value as written by CSVLogger (Python's str(float)) or by hand: NaN for "NA" or empty.
bool parse_value(std::string_view text, double& out) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.empty() || text == "NA") {
    out = kNaN;
    return true;
  }
  if (text.front() == '+') text.remove_prefix(1);
  if (text.empty() || text.front() == '+' || text.front() == ' ') return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec == std::errc::result_out_of_range) {  // "1e999": Python reads it as inf
    out = text.front() == '-' ? -HUGE_VAL : HUGE_VAL;
    return end == text.data() + text.size();
  }
  return ec == std::errc() && end == text.data() + text.size();
}

bool parse_epoch(std::string_view text, int& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size() && out >= 0;
}

// One CSV record (Python's csv module, excel dialect, any one-character delimiter): its fields
// and the line it starts on. Quoted fields may hold the separator, doubled quotes and line breaks.
struct CsvRecord {
  std::vector<std::string> fields;
  std::size_t line = 0;
};

class CsvReader {
 public:
  CsvReader(const std::string& text, char separator, const std::string& origin)
      : text_(text), sep_(separator), origin_(origin) {}

  // The next record, false at the end of the text.
  bool next(CsvRecord& record) {
    if (pos_ >= text_.size()) return false;
    record.fields.clear();
    record.line = line_;
    std::string field;
    for (;;) {
      field.clear();
      const std::size_t column = record.fields.size() + 1;
      if (pos_ < text_.size() && text_[pos_] == '"') {
        ++pos_;
        for (;;) {
          if (pos_ >= text_.size())
            throw InputError(origin_ + ":" + std::to_string(record.line) + ": column " + std::to_string(column) +
                             " opens a quote that is never closed");
          const char c = text_[pos_++];
          if (c == '"') {
            if (pos_ < text_.size() && text_[pos_] == '"') {
              field += '"';
              ++pos_;
              continue;
            }
            break;
          }
          if (c == '\n') ++line_;
          field += c;
        }
        if (pos_ < text_.size() && text_[pos_] != sep_ && text_[pos_] != '\r' && text_[pos_] != '\n')
          throw InputError(origin_ + ":" + std::to_string(line_) + ": column " + std::to_string(column) +
                           " has text after its closing quote");
      } else {
        while (pos_ < text_.size() && text_[pos_] != sep_ && text_[pos_] != '\r' && text_[pos_] != '\n')
          field += text_[pos_++];
      }
      record.fields.push_back(field);
      if (pos_ < text_.size() && text_[pos_] == sep_) {
        ++pos_;
        continue;
      }
      // The end of the record: "\r\n", "\n", a lone "\r", or the end of the text.
      if (pos_ < text_.size() && text_[pos_] == '\r') ++pos_;
      if (pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
      ++line_;
      return true;
    }
  }

 private:
  const std::string& text_;
  char sep_;
  const std::string& origin_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
};

bool blank(const CsvRecord& record) { return record.fields.size() == 1 && record.fields[0].empty(); }

std::string read_text(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw InputError(path + ": cannot be read (it is a folder)");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot be read (" + std::strerror(errno) + ")");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw InputError(path + ": cannot be read (" + std::strerror(errno) + ")");
  return text.str();
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// HistoryTable and the readers

void HistoryTable::set_row(int epoch, const std::vector<std::pair<std::string, double>>& row) {
  auto at = std::lower_bound(epochs.begin(), epochs.end(), epoch);
  const auto index = static_cast<std::size_t>(at - epochs.begin());
  const bool replace = at != epochs.end() && *at == epoch;
  if (!replace) {
    epochs.insert(at, epoch);
    for (auto& [key, column] : values) column.insert(column.begin() + static_cast<std::ptrdiff_t>(index), kNaN);
  } else {
    for (auto& [key, column] : values) column[index] = kNaN;
  }
  for (const auto& [key, value] : row) {
    auto it = values.find(key);
    if (it == values.end()) {
      keys.push_back(key);
      it = values.emplace(key, std::vector<double>(epochs.size(), kNaN)).first;
    }
    it->second[index] = value;
  }
}

bool HistoryTable::has_finite_values() const {
  for (const auto& [key, column] : values)
    if (std::any_of(column.begin(), column.end(), [](double v) { return std::isfinite(v); })) return true;
  return false;
}

HistoryTable parse_history_csv(const std::string& text, const std::string& origin) {
  // CSVLogger's separator is the character after "epoch" in the header.
  char separator = ',';
  const std::size_t skip = text.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0;  // a UTF-8 byte order mark
  if (text.compare(skip, 5, "epoch") == 0 && text.size() > skip + 5 && text[skip + 5] != '\r' && text[skip + 5] != '\n')
    separator = text[skip + 5];
  const std::string body = text.substr(skip);
  CsvReader reader(body, separator, origin);
  CsvRecord record;
  while (reader.next(record) && blank(record)) {
  }
  if (record.fields.empty() || blank(record)) throw InputError(origin + " is empty (expected a CSVLogger header \"epoch,...\")");
  const std::vector<std::string> header = record.fields;
  const std::size_t header_line = record.line;
  std::size_t epoch_column = header.size();
  std::set<std::string> seen;
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i].empty())
      throw InputError(origin + ":" + std::to_string(header_line) + ": column " + std::to_string(i + 1) +
                       " of the header has no name");
    if (!seen.insert(header[i]).second)
      throw InputError(origin + ":" + std::to_string(header_line) + ": column " + std::to_string(i + 1) + " repeats " +
                       quoted(header[i]));
    if (header[i] == "epoch") epoch_column = i;
  }
  if (epoch_column == header.size())
    throw InputError(origin + ":" + std::to_string(header_line) + ": the header has no \"epoch\" column (expected "
                     "CSVLogger's format, \"epoch,loss,...\")");

  HistoryTable table;
  for (std::size_t i = 0; i < header.size(); ++i)
    if (i != epoch_column) {
      table.keys.push_back(header[i]);
      table.values[header[i]];
    }
  std::vector<std::pair<std::string, double>> row;
  while (reader.next(record)) {
    if (blank(record)) continue;
    const std::string where = origin + ":" + std::to_string(record.line) + ": ";
    if (record.fields.size() != header.size())
      throw InputError(where + std::to_string(record.fields.size()) + " field" + (record.fields.size() == 1 ? "" : "s") +
                       " where the header has " + std::to_string(header.size()));
    int epoch = 0;
    if (!parse_epoch(record.fields[epoch_column], epoch))
      throw InputError(where + "column " + std::to_string(epoch_column + 1) + " (\"epoch\"): " +
                       shown(record.fields[epoch_column]) + " is not an epoch number");
    row.clear();
    for (std::size_t i = 0; i < header.size(); ++i) {
      if (i == epoch_column) continue;
      double value = 0.0;
      if (!parse_value(record.fields[i], value))
        throw InputError(where + "column " + std::to_string(i + 1) + " (" + quoted(header[i]) + "): " +
                         shown(record.fields[i]) + " is not a number");
      row.emplace_back(header[i], value);
    }
    table.set_row(epoch, row);
  }
  return table;
}

HistoryTable parse_history_jsonl(const std::string& text, const std::string& origin) {
  HistoryTable table;
  std::size_t line_number = 0;
  std::vector<std::pair<std::string, double>> row;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const std::string where = origin + ":" + std::to_string(line_number);
    Json object;
    try {
      object = Json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      std::string reason = e.what();
      if (const auto pos = reason.find(": "); pos != std::string::npos) reason = reason.substr(pos + 2);
      throw InputError(where + ":" + std::to_string(std::max<std::size_t>(e.byte, 1)) + ": malformed JSON: " + reason);
    }
    if (!object.is_object()) throw InputError(where + ": expected a JSON object per line, got " + shown_json(object));
    const auto epoch_it = object.find("epoch");
    if (epoch_it == object.end())
      throw InputError(where + ": the object has no \"epoch\" (expected {\"epoch\": 0, \"loss\": ...})");
    if (!epoch_it->is_number_integer() || epoch_it->get<long long>() < 0 ||
        epoch_it->get<long long>() > std::numeric_limits<int>::max())
      throw InputError(where + ": \"epoch\" must be a non-negative integer, got " + shown_json(*epoch_it));
    row.clear();
    for (const auto& [key, value] : object.items()) {
      if (key == "epoch") continue;
      if (value.is_null()) row.emplace_back(key, kNaN);
      else if (value.is_number()) row.emplace_back(key, value.get<double>());
      else throw InputError(where + ": " + quoted(key) + " must be a number or null, got " + shown_json(value));
    }
    table.set_row(static_cast<int>(epoch_it->get<long long>()), row);
  }
  return table;
}

HistoryTable read_history_file(const std::string& path) {
  const std::string text = read_text(path);
  const bool jsonl = ends_with(path, ".jsonl");
  HistoryTable table = jsonl ? parse_history_jsonl(text, path) : parse_history_csv(text, path);
  if (jsonl && table.epochs.empty()) throw InputError(path + " holds no epochs (expected one JSON object per line)");
  if (table.keys.empty())
    throw InputError(path + " has no metric columns besides \"epoch\" (nothing to plot)");
  if (table.epochs.empty()) throw InputError(path + " has a header but no epochs yet (nothing to plot)");
  if (!table.has_finite_values())
    throw InputError(path + " holds no numeric values to plot (every value is NA or not finite)");
  return table;
}

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

std::string write_file_atomically(const std::string& path, const std::string& text) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  // Unique per process, in the target's folder so the rename stays on one file system.
  const fs::path temp = target.parent_path() / ("." + target.filename().string() + "." + std::to_string(getpid()) + ".tmp");
  std::FILE* f = std::fopen(temp.c_str(), "wb");
  if (f == nullptr) return std::strerror(errno);
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const int write_errno = errno;
  if (std::fclose(f) != 0 || !written) {
    const int err = written ? errno : write_errno;
    std::error_code ignored;
    fs::remove(temp, ignored);
    return std::strerror(err);
  }
  std::error_code ec;
  fs::rename(temp, target, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    return ec.message();
  }
  return {};
}

}  // namespace plugfit
