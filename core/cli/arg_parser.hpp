// A small command-line parser: positionals, "--name value" options (repeatable), and flags.
// Errors are InputErrors quoting the usage line.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace plugfit {

class ArgParser {
 public:
  explicit ArgParser(std::string usage) : usage_(std::move(usage)) {}
  ArgParser& positional(std::string name) { positional_names_.push_back(std::move(name)); return *this; }
  ArgParser& option(std::string name) { options_.insert(std::move(name)); return *this; }
  ArgParser& flag(std::string name) { flags_.insert(std::move(name)); return *this; }
  void parse(const std::vector<std::string>& args);

  const std::vector<std::string>& positionals() const { return positionals_; }
  std::optional<std::string> get(const std::string& name) const;
  std::vector<std::string> get_all(const std::string& name) const;
  // The option as an integer; an InputError naming the option when it is not one.
  std::optional<std::int64_t> get_int(const std::string& name) const;
  bool has_flag(const std::string& name) const { return set_flags_.count(name) != 0; }

 private:
  std::string usage_;
  std::vector<std::string> positional_names_;
  std::set<std::string> options_, flags_, set_flags_;
  std::vector<std::string> positionals_;
  std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace plugfit
