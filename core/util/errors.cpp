#include <plugfit/error.hpp>

namespace plugfit {

Error::Error(const std::string& message, int exit_code) : std::runtime_error(message), exit_code_(exit_code) {}
Error::~Error() = default;
InputError::InputError(const std::string& message) : Error(message, 2) {}
InputError::~InputError() = default;
RuntimeFailure::RuntimeFailure(const std::string& message) : Error(message, 1) {}
RuntimeFailure::~RuntimeFailure() = default;

}  // namespace plugfit
