// Error types that cross the plugin boundary.
//
// Every error the host reports is one sentence naming the file, field, plugin or shape at
// fault. The exit code is part of the type: bad usage or bad input exits 2, a failure while
// training or running exits 1 (as documented for the `plugfit` command).
#pragma once

#include <stdexcept>
#include <string>

#include "export.hpp"

namespace plugfit {

class PLUGFIT_API Error : public std::runtime_error {
 public:
  Error(const std::string& message, int exit_code);
  ~Error() override;
  int exit_code() const noexcept { return exit_code_; }

 private:
  int exit_code_;
};

// Bad usage or bad input: a config, a run file, a data file, a shape. Exit code 2.
class PLUGFIT_API InputError : public Error {
 public:
  explicit InputError(const std::string& message);
  ~InputError() override;
};

// A failure while training, evaluating or predicting. Exit code 1.
class PLUGFIT_API RuntimeFailure : public Error {
 public:
  explicit RuntimeFailure(const std::string& message);
  ~RuntimeFailure() override;

 protected:
  RuntimeFailure(const std::string& message, int exit_code);  // a kind that exits otherwise
};

}  // namespace plugfit
