#include "json_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace plugfit {

Json parse_json(const std::string& text, const std::string& origin) {
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based and points just past the offending character.
    const std::size_t at = e.byte == 0 ? 0 : std::min<std::size_t>(e.byte - 1, text.size());
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < at; ++i) {
      if (text[i] == '\n') ++line, column = 1;
      else ++column;
    }
    throw InputError(origin + ":" + std::to_string(line) + ":" + std::to_string(column) + ": malformed JSON: " +
                     json_error_reason(e));
  } catch (const nlohmann::json::exception& e) {  // a number past double's range: no position
    throw InputError(origin + ": malformed JSON: " + json_error_reason(e));
  }
}

std::string json_error_reason(const nlohmann::json::exception& error) {
  std::string reason = error.what();
  if (const auto pos = reason.find(": "); pos != std::string::npos) reason = reason.substr(pos + 2);
  else if (const auto tag = reason.find("] "); tag != std::string::npos) reason = reason.substr(tag + 2);
  // nlohmann echoes the bytes it last read: input, possibly binary; the position says where.
  if (const auto pos = reason.find("; last read: "); pos != std::string::npos) reason.erase(pos);
  constexpr std::size_t kMost = 120;  // a number of a thousand digits is quoted whole otherwise
  if (reason.size() > kMost) reason = reason.substr(0, kMost) + "...";
  return reason;
}

Json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot be read (" + std::strerror(errno) + ")");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_json(text.str(), path);
}

}  // namespace plugfit
