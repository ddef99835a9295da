// A small command-line parser: positionals, "--name value" options (repeatable), and flags.
// A command declares its arguments once, with a line of help each; the same table parses the
// arguments and prints `--help`. Errors are UsageErrors (exit 2) naming the command, and an
// unknown option suggests the nearest known one.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <plugfit/error.hpp>

namespace plugfit {

// Bad usage of a command: the message already names the command ("plugfit train: ..."), so it
// is printed as it is, without the generic "plugfit: error:" prefix.
class UsageError : public InputError {
 public:
  using InputError::InputError;
};

// The edit distance of two strings: insertions, deletions, substitutions and swaps of neighbours.
std::size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to name when it is close enough to be a typo of it (at most a third of
// its characters differ, and at most 3), else std::nullopt. Ties go to the first candidate.
std::optional<std::string> nearest_name(std::string_view name, const std::vector<std::string>& candidates);

class ArgParser {
 public:
  // command: "plugfit train"; summary: one sentence saying what the command does.
  ArgParser(std::string command, std::string summary) : command_(std::move(command)), summary_(std::move(summary)) {}
  ArgParser& positional(std::string name, std::string help);
  // An option taking a value ("--epochs N" or "--epochs=N"); the last one given wins.
  ArgParser& option(std::string name, std::string value_name, std::string help);
  // An option that may be given several times; get_all() returns every value in order.
  ArgParser& repeated_option(std::string name, std::string value_name, std::string help);
  ArgParser& flag(std::string name, std::string help);
  // A short spelling of a declared option or flag ("-o" for "--output").
  ArgParser& alias(std::string short_name, const std::string& long_name);

  // Parses args. Returns false when -h or --help was given: the help was printed on stdout and
  // the command should return 0. Throws UsageError on an unknown option, a missing value, or a
  // wrong number of positionals.
  [[nodiscard]] bool parse(const std::vector<std::string>& args);
  // The usage line, then one line per argument and option.
  std::string help() const;
  std::string usage() const;
  // The declared option and flag names ("--epochs", ...), in declaration order.
  std::vector<std::string> option_names() const;

  const std::vector<std::string>& positionals() const { return positionals_; }
  std::optional<std::string> get(const std::string& name) const;
  std::vector<std::string> get_all(const std::string& name) const;
  // The option as an integer; a UsageError naming the option when it is not a non-negative one.
  std::optional<std::int64_t> get_int(const std::string& name) const;
  bool has_flag(const std::string& name) const { return set_flags_.count(name) != 0; }

 private:
  struct Declared {
    std::string name, value_name, help;
    bool takes_value = false, repeated = false;
    std::string short_name;
  };
  const Declared* find(const std::string& name) const;
  [[noreturn]] void unknown_option(const std::string& arg) const;

  std::string command_, summary_;
  std::vector<std::pair<std::string, std::string>> positional_decls_;  // name, help
  std::vector<Declared> declared_;
  std::set<std::string> set_flags_;
  std::vector<std::string> positionals_;
  std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace plugfit
