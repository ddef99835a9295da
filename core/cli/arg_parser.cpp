#include "arg_parser.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace plugfit {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Optimal string alignment: Levenshtein plus the swap of two neighbours ("trian" -> "train"),
  // the commonest typo. d[i][j] is the distance of a's first i and b's first j characters.
  const std::size_t width = b.size() + 1;
  std::vector<std::size_t> d((a.size() + 1) * width);
  auto at = [&d, width](std::size_t i, std::size_t j) -> std::size_t& { return d[i * width + j]; };
  for (std::size_t i = 0; i <= a.size(); ++i) at(i, 0) = i;
  for (std::size_t j = 0; j <= b.size(); ++j) at(0, j) = j;
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j) {
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
    }
  return at(a.size(), b.size());
}

std::optional<std::string> nearest_name(std::string_view name, const std::vector<std::string>& candidates) {
  // Leading dashes are spelling, not content: "--epoch" is 5 characters away from nothing.
  auto bare = [](std::string_view s) { return s.substr(std::min(s.find_first_not_of('-'), s.size())); };
  const std::string_view typed = bare(name);
  const std::size_t limit = std::min<std::size_t>(3, std::max<std::size_t>(1, typed.size() / 3));
  std::optional<std::string> best;
  std::size_t best_distance = limit + 1;
  for (const auto& candidate : candidates) {
    const std::string_view c = bare(candidate);
    // A truncated name ("--epo") is a typo of the one it begins.
    const std::size_t d = typed.size() >= 3 && c.substr(0, typed.size()) == typed ? 1 : edit_distance(typed, c);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

ArgParser& ArgParser::positional(std::string name, std::string help) {
  positional_decls_.emplace_back(std::move(name), std::move(help));
  return *this;
}

ArgParser& ArgParser::option(std::string name, std::string value_name, std::string help) {
  declared_.push_back({std::move(name), std::move(value_name), std::move(help), true, false, {}});
  return *this;
}

ArgParser& ArgParser::repeated_option(std::string name, std::string value_name, std::string help) {
  declared_.push_back({std::move(name), std::move(value_name), std::move(help), true, true, {}});
  return *this;
}

ArgParser& ArgParser::flag(std::string name, std::string help) {
  declared_.push_back({std::move(name), {}, std::move(help), false, false, {}});
  return *this;
}

ArgParser& ArgParser::alias(std::string short_name, const std::string& long_name) {
  for (auto& d : declared_)
    if (d.name == long_name) d.short_name = std::move(short_name);
  return *this;
}

const ArgParser::Declared* ArgParser::find(const std::string& name) const {
  for (const auto& d : declared_)
    if (d.name == name || (!d.short_name.empty() && d.short_name == name)) return &d;
  return nullptr;
}

std::vector<std::string> ArgParser::option_names() const {
  std::vector<std::string> names;
  for (const auto& d : declared_) names.push_back(d.name);
  return names;
}

void ArgParser::unknown_option(const std::string& arg) const {
  std::vector<std::string> names = option_names();
  names.push_back("--help");
  if (const auto near = nearest_name(arg, names))
    throw UsageError(command_ + ": unknown option " + arg + "; did you mean " + *near + "?");
  throw UsageError(command_ + ": unknown option " + arg + " (" + command_ + " --help lists its options)");
}

bool ArgParser::parse(const std::vector<std::string>& args) {
  // Help wins wherever it appears, as with argparse: a user asking for it wants nothing else.
  for (const auto& arg : args) {
    if (arg == "--") break;
    if (arg == "-h" || arg == "--help") {
      std::fputs(help().c_str(), stdout);
      return false;
    }
  }
  bool options_ended = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    // "-" alone (a conventional stdin) and negative numbers are positionals.
    const bool looks_like_option = arg.size() > 1 && arg[0] == '-' && !(arg[1] >= '0' && arg[1] <= '9');
    if (options_ended || !looks_like_option) {
      positionals_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_ended = true;
      continue;
    }
    std::optional<std::string> inline_value;
    if (const auto eq = arg.find('='); eq != std::string::npos) {
      inline_value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    const Declared* d = find(arg);
    if (d == nullptr) unknown_option(arg);
    if (!d->takes_value) {
      if (inline_value) throw UsageError(command_ + ": " + d->name + " takes no value, got \"" + *inline_value + "\"");
      set_flags_.insert(d->name);
      continue;
    }
    if (!inline_value && i + 1 >= args.size())
      throw UsageError(command_ + ": " + d->name + " needs a value (" + d->name + " " + d->value_name + ")");
    values_[d->name].push_back(inline_value ? *inline_value : args[++i]);
  }
  if (positionals_.size() < positional_decls_.size())
    throw UsageError(command_ + ": missing " + positional_decls_[positionals_.size()].first + "; usage: " + usage());
  if (positionals_.size() > positional_decls_.size())
    throw UsageError(command_ + ": unexpected argument \"" + positionals_[positional_decls_.size()] +
                     "\"; usage: " + usage());
  return true;
}

std::string ArgParser::usage() const {
  std::string line = command_;
  for (const auto& [name, help] : positional_decls_) line += " " + name;
  for (const auto& d : declared_)
    line += " [" + (d.short_name.empty() ? d.name : d.short_name + "|" + d.name) +
            (d.takes_value ? " " + d.value_name : "") + "]" + (d.repeated ? "..." : "");
  return line;
}

std::string ArgParser::help() const {
  std::string out = "usage: " + usage() + "\n\n" + summary_ + "\n";
  auto row = [&out](const std::string& left, const std::string& text) {
    constexpr std::size_t kColumn = 24;
    out += "  " + left;
    out += left.size() + 2 < kColumn ? std::string(kColumn - left.size() - 2, ' ') : "\n" + std::string(kColumn, ' ');
    out += text + "\n";
  };
  if (!positional_decls_.empty()) {
    out += "\narguments:\n";
    for (const auto& [name, help] : positional_decls_) row(name, help);
  }
  out += "\noptions:\n";
  for (const auto& d : declared_)
    row((d.short_name.empty() ? "" : d.short_name + ", ") + d.name + (d.takes_value ? " " + d.value_name : ""),
        d.help + (d.repeated ? " (repeatable)" : ""));
  row("-h, --help", "show this help and exit");
  return out;
}

std::optional<std::string> ArgParser::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> ArgParser::get_all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::optional<std::int64_t> ArgParser::get_int(const std::string& name) const {
  const auto text = get(name);
  if (!text) return std::nullopt;
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value < 0)
    throw UsageError(command_ + ": " + name + " needs a non-negative integer, got \"" + *text + "\"");
  return value;
}

}  // namespace plugfit
