#include "csv_logger.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "log_file.hpp"
#include "monitor.hpp"

namespace plugfit {

CSVLogger::CSVLogger(Config& config)
    : filename_(config.require<std::string>("filename")), append_(config.get<bool>("append", false)) {
  const std::string separator = config.get<std::string>("separator", ",");
  // Python's csv module takes a one-character delimiter; a quote or line break would break the rows.
  if (separator.size() != 1 || separator == "\"" || separator == "\r" || separator == "\n")
    throw InputError("CSVLogger: \"separator\" must be a single character other than a quote or a line break, got \"" +
                     separator + "\"");
  separator_ = separator[0];
  if (filename_.empty()) throw InputError("CSVLogger: \"filename\" must not be empty");
}

void CSVLogger::on_train_begin(Logs&) {
  writer_ = writes_files(*this);
  if (!loaded_) keys_.reset();
  loaded_ = false;
  file_.reset();
  opened_ = false;
  // Whether this run continues the file is known only after every on_train_begin (see
  // resumed_epoch): the file is opened at the first write, here only checked.
  if (writer_) check_writable(filename_, "CSVLogger");
}

void CSVLogger::open_file() {
  const std::optional<int> resumed = resumed_epoch(*this);
  if (resumed) drop_rows_from(*resumed);
  const bool append = append_ || resumed;
  std::error_code ec;
  const bool empty = !std::filesystem::exists(filename_, ec) || std::filesystem::file_size(filename_, ec) == 0;
  file_.reset(std::fopen(filename_.c_str(), append ? "ab" : "wb"));
  if (!file_) throw InputError("CSVLogger: cannot open \"" + filename_ + "\" for writing: " + std::strerror(errno));
  header_pending_ = !append || empty;
  opened_ = true;
}

std::string CSVLogger::field(const std::string& text) const {
  // Python's QUOTE_MINIMAL: quote what holds the separator, a quote or a line break.
  if (text.find_first_of(std::string{separator_, '"', '\r', '\n'}) == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

void CSVLogger::write_line(const std::vector<std::string>& fields) {
  std::string line;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) line += separator_;
    line += field(fields[i]);
  }
  line += "\r\n";  // the excel dialect's line terminator
  if (std::fwrite(line.data(), 1, line.size(), file_.get()) != line.size())
    throw RuntimeFailure("CSVLogger: cannot write to \"" + filename_ + "\": " + std::strerror(errno));
}

void CSVLogger::on_epoch_end(int epoch, Logs& logs) {
  if (!writer_) return;  // data-parallel: rank 0 writes the file
  if (!file_ && opened_)
    throw RuntimeFailure("CSVLogger: on_epoch_end ran after on_train_end closed \"" + filename_ + "\"");
  if (!file_) open_file();
  if (!keys_) {
    std::vector<std::string> keys;
    for (const auto& [key, value] : logs) keys.push_back(key);
    std::sort(keys.begin(), keys.end());
    const bool has_val = std::any_of(keys.begin(), keys.end(), [](const auto& k) { return k.rfind("val_", 0) == 0; });
    if (!has_val) {
      const std::size_t n = keys.size();
      for (std::size_t i = 0; i < n; ++i) keys.push_back("val_" + keys[i]);
    }
    keys_ = std::move(keys);
  }
  if (header_pending_) {
    std::vector<std::string> header{"epoch"};
    header.insert(header.end(), keys_->begin(), keys_->end());
    write_line(header);
    header_pending_ = false;
  }
  std::vector<std::string> row{std::to_string(epoch)};
  for (const auto& key : *keys_) {
    const double* v = logs.find(key);
    row.push_back(v == nullptr ? "NA" : python_float(*v));
  }
  write_line(row);
  if (std::fflush(file_.get()) != 0)
    throw RuntimeFailure("CSVLogger: cannot write to \"" + filename_ + "\": " + std::strerror(errno));
}

void CSVLogger::on_train_end(Logs&) {
  if (!writer_) return;
  if (!opened_) open_file();  // no epoch ran: the file is still started afresh (or resumed), as in Keras
  if (file_ && std::fclose(file_.release()) != 0)
    throw RuntimeFailure("CSVLogger: cannot close \"" + filename_ + "\": " + std::strerror(errno));
}

void CSVLogger::drop_rows_from(int epoch) {
  keep_lines(filename_, "CSVLogger", [&](std::string_view line, bool) {
    // A row's first field is its epoch; anything else (the header) stays.
    const std::size_t stop = std::min(line.find_first_of(std::string{separator_, '\r', '\n'}), line.size());
    int row_epoch = 0;
    const auto [ptr, ec] = std::from_chars(line.data(), line.data() + stop, row_epoch);
    const bool is_row = stop > 0 && ec == std::errc() && ptr == line.data() + stop;
    return !is_row || row_epoch < epoch;
  });
}

Json CSVLogger::state() const { return {{"keys", keys_ ? Json(*keys_) : Json()}}; }

void CSVLogger::load_state(const Json& state) {
  if (!state.is_object()) throw InputError("CSVLogger: the saved state must be a JSON object, got " + json_excerpt(state));
  const Json keys = state.value("keys", Json());
  if (keys.is_null()) {
    keys_.reset();
  } else {
    if (!keys.is_array() || !std::all_of(keys.begin(), keys.end(), [](const Json& k) { return k.is_string(); }))
      throw InputError("CSVLogger: the saved state's \"keys\" must be a list of strings, got " + json_excerpt(keys));
    keys_ = keys.get<std::vector<std::string>>();
  }
  loaded_ = true;
}

}  // namespace plugfit
