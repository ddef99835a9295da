#include "history_file.hpp"
#include "../util/json_file.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

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
      throw InputError(where + ":" + std::to_string(std::max<std::size_t>(e.byte, 1)) + ": malformed JSON: " +
                       json_error_reason(e));
    } catch (const nlohmann::json::exception& e) {  // a number past double's range
      throw InputError(where + ": malformed JSON: " + json_error_reason(e));
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

}  // namespace plugfit
