#include "log_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include <plugfit/error.hpp>

#include "../../util/atomic_file.hpp"

namespace plugfit {

void keep_lines(const std::string& path, const std::string& who,
                const std::function<bool(std::string_view line, bool complete)>& keep) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return;
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  in.close();
  std::string kept;
  bool dropped = false;
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t newline = text.find('\n', start);
    const bool complete = newline != std::string::npos;
    const std::size_t end = complete ? newline + 1 : text.size();
    const std::string_view line(text.data() + start, end - start);
    start = end;
    if (keep(line, complete)) kept += line;
    else dropped = true;
  }
  if (!dropped) return;
  const std::string why = write_file_atomically(path, kept);
  if (!why.empty()) throw InputError(who + ": cannot rewrite \"" + path + "\" to resume it: " + why);
}

std::optional<int> resumed_epoch(const Callback& callback) {
  try {
    const auto at = callback.session().resumed_at();
    if (at) return at->epoch;
  } catch (const Error&) {
    // driven outside fit(): no session, so a fresh run
  }
  return std::nullopt;
}

bool writes_files(const Callback& callback) {
  try {
    return callback.session().rank() == 0;
  } catch (const Error&) {
    return true;  // driven outside fit(): no session, one process
  }
}

void check_writable(const std::string& path, const std::string& who) {
  std::FILE* file = std::fopen(path.c_str(), "ab");
  if (file == nullptr) throw InputError(who + ": cannot open \"" + path + "\" for writing: " + std::strerror(errno));
  std::fclose(file);
}

}  // namespace plugfit
