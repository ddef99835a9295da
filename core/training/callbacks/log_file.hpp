// Log files a resumed run continues (CSVLogger, JsonLinesLogger): lines written after the
// checkpoint it resumes from are about to be trained again, so they go.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <plugfit/callback.hpp>

namespace plugfit {

// The epoch this fit() resumed at (Session::resumed_at()), or nullopt for a fresh run or a
// callback driven outside fit(). Final only once every on_train_begin has run (a later
// callback's BackupAndRestore may restore), so loggers decide their file's fate at their first
// write, not in on_train_begin.
std::optional<int> resumed_epoch(const Callback& callback);

// Whether callback writes its file: outside a data-parallel run always, in one only on rank 0
// (Session::rank()).
bool writes_files(const Callback& callback);

// Throws InputError "WHO: cannot open ..." unless path can be opened for appending (it is
// created when missing, and never truncated here).
void check_writable(const std::string& path, const std::string& who);

// Rewrites path atomically keeping the lines keep(line, complete) accepts (complete: the line
// ends in '\n'); a file that does not exist, or loses no line, is left alone. Throws InputError
// "WHO: cannot rewrite ..." when the rewrite fails.
void keep_lines(const std::string& path, const std::string& who,
                const std::function<bool(std::string_view line, bool complete)>& keep);

}  // namespace plugfit
