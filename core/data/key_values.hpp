// "KEY=VALUE,KEY=VALUE" options of the data specs (csv:, synthetic:).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <plugfit/error.hpp>

namespace plugfit {

// The pairs in order; empty items are skipped. An item without '=' or a value is an InputError
// naming it, prefixed with what ("CSV spec for data.csv").
inline std::vector<std::pair<std::string, std::string>> split_key_values(const std::string& options,
                                                                         const std::string& what) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string_view rest = options;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    if (eq == std::string_view::npos || eq + 1 == item.size())
      throw InputError(what + " has the option \"" + std::string(item) + "\" without a value (write KEY=VALUE)");
    out.emplace_back(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
  }
  return out;
}

}  // namespace plugfit
