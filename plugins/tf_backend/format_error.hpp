// The one error the TensorFlow format readers throw: a file that is not what it claims to be.
// The readers know no plugfit type (a fuzz target links them alone); the plugin turns this into
// plugfit's InputError, its message already naming the file and, where one is known, the variable.
#pragma once

#include <stdexcept>
#include <string>

namespace tf_files {

class FormatError : public std::runtime_error {
 public:
  explicit FormatError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace tf_files
