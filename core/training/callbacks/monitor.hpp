// Helpers the monitoring callbacks share beside the SDK's Monitor (plugfit/monitor.hpp):
// Python's str(float) for messages, Keras's list of log keys, and reading saved state fields.
#pragma once

#include <optional>
#include <string>

#include <plugfit/callback.hpp>
#include <plugfit/monitor.hpp>

namespace plugfit {

// Python's str(float): the shortest text that reads back as x ("0.1", "1e-05", "2.0", "nan").
std::string python_float(double x);

// Keras's "the available metrics" list: the keys of logs joined by ','.
std::string log_keys(const Logs& logs);

// Reads a state field that must be a number or null (null and absent read as nullopt); an
// InputError naming who and the field otherwise.
std::optional<double> state_number(const Json& state, const char* field, const std::string& who);
// Reads an integer state field, fallback when absent; an InputError naming who otherwise.
long long state_integer(const Json& state, const char* field, long long fallback, const std::string& who);

}  // namespace plugfit
