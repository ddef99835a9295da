// CSV files of numbers: one sample per line, comma-separated, an optional header row and one
// label column (the last by default). Blank lines are skipped; fields may be double-quoted.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <plugfit/config.hpp>
#include <plugfit/error.hpp>

#include "dataset.hpp"
#include "key_values.hpp"

namespace plugfit {

namespace {

enum class HeaderMode { automatic, yes, no };

struct CsvOptions {
  std::string label = "";  // empty: the last column
  bool no_label = false;
  HeaderMode header = HeaderMode::automatic;
};

CsvOptions parse_options(const std::string& path, const std::string& options) {
  CsvOptions out;
  for (const auto& [key, value] : split_key_values(options, "CSV spec for " + path)) {
    if (key == "label") {
      out.no_label = value == "none";
      out.label = out.no_label ? "" : value;
    } else if (key == "header") {
      if (value == "auto") out.header = HeaderMode::automatic;
      else if (value == "yes") out.header = HeaderMode::yes;
      else if (value == "no") out.header = HeaderMode::no;
      else throw InputError("CSV spec for " + path + " has header=" + value + " (use header=auto, yes or no)");
    } else {
      throw InputError("CSV spec for " + path + " has the unknown option \"" + key + "\" (known: label, header)");
    }
  }
  return out;
}

// Splits one line into fields, unquoting "..." fields ("" inside is a quote) and trimming blanks.
bool split_fields(std::string_view line, std::vector<std::string_view>& fields, std::string& scratch) {
  fields.clear();
  scratch.clear();
  // Unquoted fields point into the line; quoted ones into scratch, reserved so it never moves.
  scratch.reserve(line.size());
  std::size_t pos = 0;
  while (true) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
    if (pos < line.size() && line[pos] == '"') {
      const std::size_t start = scratch.size();
      ++pos;
      while (true) {
        if (pos >= line.size()) return false;  // unterminated quote
        if (line[pos] == '"') {
          if (pos + 1 < line.size() && line[pos + 1] == '"') {
            scratch += '"';
            pos += 2;
            continue;
          }
          ++pos;
          break;
        }
        scratch += line[pos++];
      }
      fields.emplace_back(scratch.data() + start, scratch.size() - start);
      while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
      if (pos < line.size() && line[pos] != ',') return false;
    } else {
      const auto comma = line.find(',', pos);
      std::string_view field = line.substr(pos, comma == std::string_view::npos ? line.npos : comma - pos);
      while (!field.empty() && (field.back() == ' ' || field.back() == '\t')) field.remove_suffix(1);
      fields.push_back(field);
      pos = comma == std::string_view::npos ? line.size() : comma;
    }
    if (pos >= line.size()) return true;
    ++pos;  // the comma
  }
}

std::optional<float> parse_number(std::string_view s) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);  // from_chars rejects a leading '+'
  if (s.empty()) return std::nullopt;
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (end != s.data() + s.size()) return std::nullopt;
  // Out of double range: from_chars leaves v unchanged, so report it as not a number.
  if (ec == std::errc::result_out_of_range) return std::nullopt;
  if (ec != std::errc()) return std::nullopt;
  return static_cast<float>(v);
}

// A field as a message quotes it: cut, control characters escaped, invalid UTF-8 replaced.
std::string shown(std::string_view field) { return json_excerpt(Json(std::string(field))); }

}  // namespace

Dataset read_csv(const std::string& path, const std::string& options) {
  const CsvOptions opts = parse_options(path, options);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw InputError("CSV file " + path + " does not exist");
  if (std::filesystem::is_directory(path, ec)) throw InputError("CSV file " + path + " is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("CSV file " + path + " cannot be opened (" + std::strerror(errno) + ")");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw InputError("CSV file " + path + " cannot be read (" + std::strerror(errno) + ")");

  std::vector<std::string_view> fields;
  std::string scratch;
  std::vector<float> features, labels;
  std::vector<std::string> header;
  std::size_t columns = 0, label_col = 0, rows = 0, first_line = 0;
  bool first = true;

  std::size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    const auto nl = text.find('\n', pos);
    std::string_view line(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (!split_fields(line, fields, scratch))
      throw InputError("CSV file " + path + ": line " + std::to_string(line_no) + " has an unterminated quote");

    if (first) {
      first = false;
      first_line = line_no;
      columns = fields.size();
      bool is_header = opts.header == HeaderMode::yes;
      if (opts.header == HeaderMode::automatic)
        for (auto f : fields) is_header = is_header || !parse_number(f);
      if (is_header) header.assign(fields.begin(), fields.end());

      if (!opts.no_label) {
        if (opts.label.empty()) {
          label_col = columns - 1;
        } else if (opts.label.find_first_not_of("-0123456789") == std::string::npos) {
          long long idx = 0;
          const auto [end, err] = std::from_chars(opts.label.data(), opts.label.data() + opts.label.size(), idx);
          const long long n = static_cast<long long>(columns);
          if (err != std::errc() || end != opts.label.data() + opts.label.size() || idx >= n || idx < -n)
            throw InputError("CSV file " + path + " has " + std::to_string(columns) + " columns, so label=" +
                             opts.label + " names none (use 0.." + std::to_string(columns - 1) + ")");
          label_col = static_cast<std::size_t>(idx < 0 ? idx + n : idx);  // negative counts from the end
        } else {
          std::size_t found = columns;
          for (std::size_t c = 0; c < header.size(); ++c)
            if (header[c] == opts.label) found = c;
          if (found == columns) {
            std::string names;
            for (const auto& h : header) {
              if (!names.empty()) names += ", ";
              names += shown(h);
            }
            throw InputError("CSV file " + path + " has no column named " + shown(opts.label) +
                             (header.empty() ? " (it has no header row)" : " (columns: " + names + ")"));
          }
          label_col = found;
        }
      }
      if (columns - (opts.no_label ? 0 : 1) == 0)
        throw InputError("CSV file " + path + " has no feature columns besides its label");
      if (is_header) continue;
    }

    if (fields.size() != columns)
      throw InputError("CSV file " + path + ": line " + std::to_string(line_no) + " has " +
                       std::to_string(fields.size()) + " columns where line " + std::to_string(first_line) +
                       " has " + std::to_string(columns));
    for (std::size_t c = 0; c < columns; ++c) {
      const auto v = parse_number(fields[c]);
      if (!v)
        throw InputError("CSV file " + path + ": line " + std::to_string(line_no) + ", column " +
                         std::to_string(c + 1) + " holds " + shown(fields[c]) + ", which is not a number");
      if (!opts.no_label && c == label_col) labels.push_back(*v);
      else features.push_back(*v);
    }
    ++rows;
  }
  if (rows == 0) throw InputError("CSV file " + path + " has no data rows");

  Dataset d;
  d.spec = "csv:" + path + (options.empty() ? "" : "," + options);
  const std::size_t nf = columns - (opts.no_label ? 0 : 1);
  d.x = Tensor::from_shape({rows, nf});
  std::copy(features.begin(), features.end(), d.x.data());
  if (!opts.no_label) {
    d.y = Tensor::from_shape({rows});
    std::copy(labels.begin(), labels.end(), d.y.data());
  }
  return d;
}

}  // namespace plugfit
