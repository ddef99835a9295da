#include <plugfit/error.hpp>

#include "rethrow.hpp"

namespace plugfit {

Error::Error(const std::string& message, int exit_code) : std::runtime_error(message), exit_code_(exit_code) {}
Error::~Error() = default;
InputError::InputError(const std::string& message) : Error(message, 2) {}
InputError::~InputError() = default;
RuntimeFailure::RuntimeFailure(const std::string& message) : Error(message, 1) {}
RuntimeFailure::RuntimeFailure(const std::string& message, int exit_code) : Error(message, exit_code) {}
RuntimeFailure::~RuntimeFailure() = default;

void rethrow_as_failure(const std::string& who) {
  try {
    throw;
  } catch (const std::exception& e) {
    throw RuntimeFailure(who + ": " + e.what());
  } catch (...) {
    throw RuntimeFailure(who + " with a non-standard exception");
  }
}

}  // namespace plugfit
