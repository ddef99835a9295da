// Turning whatever was thrown across a boundary (plugin code, a hook) into one sentence.
#pragma once

#include <string>

namespace plugfit {

// requires: called from a catch block. Rethrows the exception in flight as a RuntimeFailure
// "WHO: what()" ("WHO with a non-standard exception" for anything not a std::exception).
[[noreturn]] void rethrow_as_failure(const std::string& who);

}  // namespace plugfit
