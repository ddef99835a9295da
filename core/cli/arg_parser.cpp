#include "arg_parser.hpp"

#include <charconv>

#include <plugfit/error.hpp>

namespace plugfit {

void ArgParser::parse(const std::vector<std::string>& args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::optional<std::string> inline_value;
    if (arg.rfind("--", 0) == 0) {
      if (const auto eq = arg.find('='); eq != std::string::npos) {
        inline_value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
      }
      if (flags_.count(arg) != 0 && !inline_value) {
        set_flags_.insert(arg);
      } else if (options_.count(arg) != 0) {
        if (!inline_value && i + 1 >= args.size()) throw InputError(arg + " needs a value; usage: " + usage_);
        values_[arg].push_back(inline_value ? *inline_value : args[++i]);
      } else {
        throw InputError("unknown option " + arg + "; usage: " + usage_);
      }
    } else {
      positionals_.push_back(arg);
    }
  }
  if (positionals_.size() != positional_names_.size()) {
    if (positionals_.size() < positional_names_.size())
      throw InputError("missing " + positional_names_[positionals_.size()] + "; usage: " + usage_);
    throw InputError("unexpected argument \"" + positionals_[positional_names_.size()] + "\"; usage: " + usage_);
  }
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
    throw InputError(name + " needs a non-negative integer, got \"" + *text + "\"");
  return value;
}

}  // namespace plugfit
