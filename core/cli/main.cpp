// The plugfit executable: the command itself lives in libplugfit (plugfit/cli.hpp).
#include <plugfit/cli.hpp>

int main(int argc, char** argv) { return plugfit::run_command_line(argc, argv); }
