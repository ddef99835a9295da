// Reading JSON files with errors that name the file, line and column.
#pragma once

#include <string>

#include <plugfit/config.hpp>

namespace plugfit {

// Throws InputError: "FILE: cannot be read (...)" or "FILE:LINE:COLUMN: malformed JSON: ...".
Json read_json_file(const std::string& path);
// Parses text; origin names it in errors.
Json parse_json(const std::string& text, const std::string& origin);
// nlohmann's reason without its tag, position or echo of the input ("syntax error while parsing
// value - invalid literal", "number overflow parsing '1e400'"), cut short.
std::string json_error_reason(const nlohmann::json::exception& error);

}  // namespace plugfit
