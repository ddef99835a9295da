#include "monitor.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace plugfit {

std::string python_float(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  std::string text(buf, result.ptr);  // shortest round trip: "-d.ddde+XX"
  const bool negative = text[0] == '-';
  if (negative) text.erase(0, 1);
  const auto e = text.find('e');
  const int exponent = std::atoi(text.c_str() + e + 1);
  std::string digits = text.substr(0, e);
  if (digits.size() > 1) digits.erase(1, 1);  // the '.'
  // Python's repr: scientific when the decimal point falls outside [-4, 16) of the digits.
  const int point = exponent + 1;
  std::string out;
  if (point <= -4 || point > 16) {
    out = digits.substr(0, 1) + (digits.size() > 1 ? "." + digits.substr(1) : "");
    char exp[16];
    std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += exp;
  } else if (point <= 0) {
    out = "0." + std::string(static_cast<std::size_t>(-point), '0') + digits;
  } else if (static_cast<std::size_t>(point) >= digits.size()) {
    out = digits + std::string(static_cast<std::size_t>(point) - digits.size(), '0') + ".0";
  } else {
    out = digits.substr(0, static_cast<std::size_t>(point)) + "." + digits.substr(static_cast<std::size_t>(point));
  }
  return negative ? "-" + out : out;
}

std::string log_keys(const Logs& logs) {
  std::string keys;
  for (const auto& [key, value] : logs) keys += (keys.empty() ? "" : ",") + key;
  return keys;
}

std::optional<double> state_number(const Json& state, const char* field, const std::string& who) {
  if (!state.is_object()) throw InputError(who + ": the saved state must be a JSON object, got " + json_excerpt(state));
  const auto it = state.find(field);
  if (it == state.end() || it->is_null()) return std::nullopt;
  if (!it->is_number())
    throw InputError(who + ": the saved state's \"" + field + "\" must be a number or null, got " + it->dump());
  return it->get<double>();
}

long long state_integer(const Json& state, const char* field, long long fallback, const std::string& who) {
  if (!state.is_object()) throw InputError(who + ": the saved state must be a JSON object, got " + json_excerpt(state));
  const auto it = state.find(field);
  if (it == state.end()) return fallback;
  if (!it->is_number_integer())
    throw InputError(who + ": the saved state's \"" + field + "\" must be an integer, got " + it->dump());
  return it->get<long long>();
}

}  // namespace plugfit
