// Log files a resumed run continues (CSVLogger, JsonLinesLogger): lines written after the
// checkpoint it resumes from are about to be trained again, so they go.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace plugfit {

// Rewrites path atomically keeping the lines keep(line, complete) accepts (complete: the line
// ends in '\n'); a file that does not exist, or loses no line, is left alone. Throws InputError
// "WHO: cannot rewrite ..." when the rewrite fails.
void keep_lines(const std::string& path, const std::string& who,
                const std::function<bool(std::string_view line, bool complete)>& keep);

}  // namespace plugfit
