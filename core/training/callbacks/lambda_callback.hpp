// LambdaCallback is public: plugfit/callbacks.hpp.
#pragma once

#include <plugfit/callbacks.hpp>
