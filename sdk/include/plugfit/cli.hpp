// The plugfit command as a library function: what the plugfit executable runs.
//
//   int main(int argc, char** argv) { return plugfit::run_command_line(argc, argv); }
//
//   requires: argv holds argc arguments, argv[0] the program name (it is skipped).
//   ensures:  returns the exit code: 0 success, 1 training or runtime failure, 2 bad usage or
//             bad input; an error is printed to stderr as one "plugfit: error: ..." line.
// (A later SDK version replaces this with a public training API.)
#pragma once

#include "export.hpp"

namespace plugfit {

PLUGFIT_API int run_command_line(int argc, char** argv);

}  // namespace plugfit
