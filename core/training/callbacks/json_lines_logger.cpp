#include "json_lines_logger.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "log_file.hpp"

namespace plugfit {

JsonLinesLogger::JsonLinesLogger(Config& config)
    : filename_(config.require<std::string>("filename")), append_(config.get<bool>("append", false)) {
  if (filename_.empty()) throw InputError("JsonLinesLogger: \"filename\" must not be empty");
}

std::string JsonLinesLogger::line(int epoch, const Logs& logs) {
  // Python's json.dumps layout; nlohmann writes the shortest round-trip text of a double.
  std::string out = "{\"epoch\": " + std::to_string(epoch);
  for (const auto& [key, value] : logs) {
    if (key == "epoch") continue;
    out += ", " + Json(key).dump(-1, ' ', false, Json::error_handler_t::replace) + ": ";
    out += std::isfinite(value) ? Json(value).dump() : "null";
  }
  return out + "}";
}

void JsonLinesLogger::on_train_begin(Logs&) {
  writer_ = writes_files(*this);
  if (!loaded_) last_epoch_.reset();
  loaded_ = false;
  file_.reset();
  opened_ = false;
  // As CSVLogger's: the file's fate waits for the final resume position (its first write).
  if (writer_) check_writable(filename_, "JsonLinesLogger");
}

void JsonLinesLogger::open_file() {
  const std::optional<int> resumed = resumed_epoch(*this);
  if (resumed) drop_lines_from(*resumed);
  const bool append = append_ || resumed;
  file_.reset(std::fopen(filename_.c_str(), append ? "ab" : "wb"));
  if (!file_)
    throw InputError("JsonLinesLogger: cannot open \"" + filename_ + "\" for writing: " + std::strerror(errno));
  opened_ = true;
  if (append) {
    // A file a killed run left without its final line break: start on a line of our own.
    std::ifstream in(filename_, std::ios::binary | std::ios::ate);
    if (in && in.tellg() > 0) {
      in.seekg(-1, std::ios::end);
      char last = '\n';
      in.get(last);
      if (last != '\n' && std::fputc('\n', file_.get()) == EOF)
        throw InputError("JsonLinesLogger: cannot write to \"" + filename_ + "\": " + std::strerror(errno));
    }
  }
}

void JsonLinesLogger::on_epoch_end(int epoch, Logs& logs) {
  if (!writer_) return;  // data-parallel: rank 0 writes the file
  if (!file_ && opened_)
    throw RuntimeFailure("JsonLinesLogger: on_epoch_end ran after on_train_end closed \"" + filename_ + "\"");
  if (!file_) open_file();
  const std::string text = line(epoch, logs) + "\n";
  if (std::fwrite(text.data(), 1, text.size(), file_.get()) != text.size() || std::fflush(file_.get()) != 0)
    throw RuntimeFailure("JsonLinesLogger: cannot write to \"" + filename_ + "\": " + std::strerror(errno));
  last_epoch_ = epoch;
}

void JsonLinesLogger::on_train_end(Logs&) {
  if (!writer_) return;
  if (!opened_) open_file();  // no epoch ran: the file is still started afresh (or resumed)
  if (file_ && std::fclose(file_.release()) != 0)
    throw RuntimeFailure("JsonLinesLogger: cannot close \"" + filename_ + "\": " + std::strerror(errno));
}

void JsonLinesLogger::drop_lines_from(int epoch) {
  // Keep whole lines of earlier epochs (and blank lines); drop later epochs and torn lines.
  keep_lines(filename_, "JsonLinesLogger", [&](std::string_view line, bool complete) {
    if (!complete) return false;
    if (line.find_first_not_of(" \t\r\n") == std::string_view::npos) return true;
    const Json object = Json::parse(line.begin(), line.end(), nullptr, false);
    const bool ours = object.is_object() && object.contains("epoch") && object["epoch"].is_number_integer();
    // A JSON line without an integer epoch is not ours to drop; a garbled one goes.
    if (!ours) return !object.is_discarded();
    return object["epoch"].get<long long>() < epoch;
  });
}

Json JsonLinesLogger::state() const { return {{"last_epoch", last_epoch_ ? Json(*last_epoch_) : Json()}}; }

void JsonLinesLogger::load_state(const Json& state) {
  if (!state.is_object())
    throw InputError("JsonLinesLogger: the saved state must be a JSON object, got " + json_excerpt(state));
  const Json last = state.value("last_epoch", Json());
  if (!last.is_null() && !last.is_number_integer())
    throw InputError("JsonLinesLogger: the saved state's \"last_epoch\" must be an integer or null, got " + json_excerpt(last));
  last_epoch_ = last.is_null() ? std::nullopt : std::optional<int>(last.get<int>());
  loaded_ = true;
}

}  // namespace plugfit
