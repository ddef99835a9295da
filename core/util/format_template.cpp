#include "format_template.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include <plugfit/error.hpp>

namespace plugfit {

namespace {

std::string format_one(const std::string& pattern, const std::string& key, const std::string& spec, double value) {
  std::size_t i = 0;
  char fill = ' ', align = '\0';
  if (spec.size() >= 2 && (spec[1] == '<' || spec[1] == '>' || spec[1] == '^')) fill = spec[0], align = spec[1], i = 2;
  else if (!spec.empty() && (spec[0] == '<' || spec[0] == '>' || spec[0] == '^')) align = spec[0], i = 1;
  if (i < spec.size() && spec[i] == '0' && align == '\0') fill = '0', align = '=', ++i;
  // Width and precision are bounded: a name is a file name, and the numbers must not overflow.
  constexpr int kMaxDigits = 100;
  auto number = [&](int& out) {
    out = 0;
    while (i < spec.size() && std::isdigit(static_cast<unsigned char>(spec[i]))) {
      out = out * 10 + (spec[i++] - '0');
      if (out > kMaxDigits)
        throw InputError("the filepath template \"" + pattern + "\" asks for more than " + std::to_string(kMaxDigits) +
                         " characters in the format spec \"" + spec + "\" for \"" + key + "\"");
    }
  };
  int width = 0, precision = -1;
  number(width);
  if (i < spec.size() && spec[i] == '.') {
    ++i;
    number(precision);
  }
  const char type = i < spec.size() ? spec[i++] : '\0';
  if (i != spec.size() || (type != '\0' && std::string("dfFeEgG%").find(type) == std::string::npos))
    throw InputError("the filepath template \"" + pattern + "\" has a format spec \"" + spec + "\" for \"" + key +
                     "\" that plugfit does not support (use d, f, e, g, %, width and precision)");
  // An integer too large for long long is printed by %.0f, which has no such limit.
  const bool fits_long_long = std::fabs(value) < 9.2e18;
  char buf[512];  // room for 1e308 with a precision of 100
  if (type == 'd') {
    if (value != std::floor(value))
      throw InputError("the filepath template \"" + pattern + "\" formats \"" + key + "\" with d, but it is " +
                       std::to_string(value));
    if (fits_long_long) std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(value));
    else std::snprintf(buf, sizeof buf, "%.0f", value);
  } else if (type == '%') {
    std::snprintf(buf, sizeof buf, "%.*f%%", precision < 0 ? 6 : precision, value * 100.0);
  } else if (type != '\0') {
    const char fmt[] = {'%', '.', '*', type, '\0'};
    std::snprintf(buf, sizeof buf, fmt, precision < 0 ? 6 : precision, value);
  } else if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(value));
  } else {
    // Python's str(float): the shortest text that reads back as the same double.
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf - 1, value);
    *end = '\0';
  }
  std::string text = buf;
  if (static_cast<int>(text.size()) < width) {
    const std::size_t pad = static_cast<std::size_t>(width) - text.size();
    const char how = align != '\0' ? align : '>';
    if (how == '<') text.append(pad, fill);
    else if (how == '^') text.insert(0, pad / 2, fill).append(pad - pad / 2, fill);
    else if (how == '=' && !text.empty() && text[0] == '-') text.insert(1, pad, fill);
    else text.insert(0, pad, fill);
  }
  return text;
}

}  // namespace

std::string format_template(const std::string& pattern, const std::map<std::string, double>& values) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '{' && i + 1 < pattern.size() && pattern[i + 1] == '{') {
      out += '{', ++i;
    } else if (c == '}' && i + 1 < pattern.size() && pattern[i + 1] == '}') {
      out += '}', ++i;
    } else if (c == '{') {
      const auto close = pattern.find('}', i);
      if (close == std::string::npos) throw InputError("the filepath template \"" + pattern + "\" has an unclosed '{'");
      const std::string field = pattern.substr(i + 1, close - i - 1);
      const auto colon = field.find(':');
      const std::string key = field.substr(0, colon);
      auto it = values.find(key);
      if (it == values.end()) {
        std::string known;
        for (const auto& [k, v] : values) known += (known.empty() ? "" : ", ") + k;
        throw InputError("failed to format the filepath template \"" + pattern + "\": no \"" + key +
                         "\" in the logs (available: " + known + ")");
      }
      out += format_one(pattern, key, colon == std::string::npos ? "" : field.substr(colon + 1), it->second);
      i = close;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace plugfit
