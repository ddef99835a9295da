#include <doctest/doctest.h>

#include <string>

#include "cli/arg_parser.hpp"

using namespace plugfit;

namespace {
ArgParser train_like() {
  ArgParser parser("plugfit train", "Train.");
  parser.positional("RUN.json", "the run file")
      .option("--epochs", "N", "the total number of epochs")
      .option("--batch-size", "N", "samples per step")
      .repeated_option("--plugin", "NAME", "load a plugin")
      .flag("--resume", "continue")
      .option("--output", "FILE", "where").alias("-o", "--output");
  return parser;
}

std::string error_of(const std::vector<std::string>& args) {
  ArgParser parser = train_like();
  try {
    (void)parser.parse(args);
  } catch (const UsageError& e) {
    CHECK(e.exit_code() == 2);
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("edit distance counts insertions, deletions, substitutions and neighbour swaps") {
  CHECK(edit_distance("epoch", "epochs") == 1);
  CHECK(edit_distance("trian", "train") == 1);
  CHECK(edit_distance("seed", "sed") == 1);
  CHECK(edit_distance("", "abc") == 3);
  CHECK(edit_distance("kitten", "sitting") == 3);
}

TEST_CASE("nearest_name suggests close names only") {
  const std::vector<std::string> names = {"--epochs", "--batch-size", "--resume", "--json"};
  CHECK(nearest_name("--epoch", names) == "--epochs");
  CHECK(nearest_name("--batchsize", names) == "--batch-size");
  CHECK(nearest_name("--epo", names) == "--epochs");  // a truncated name
  CHECK(nearest_name("--zzzzzz", names) == std::nullopt);
  CHECK(nearest_name("--x", names) == std::nullopt);
}

TEST_CASE("options, repeated options, flags, aliases and positionals parse") {
  ArgParser parser = train_like();
  REQUIRE(parser.parse({"run.json", "--epochs", "3", "--plugin=a", "--plugin", "b", "--resume", "-o", "y.npy"}));
  CHECK(parser.positionals() == std::vector<std::string>{"run.json"});
  CHECK(parser.get_int("--epochs") == 3);
  CHECK(parser.get_all("--plugin") == std::vector<std::string>{"a", "b"});
  CHECK(parser.has_flag("--resume"));
  CHECK(parser.get("--output") == "y.npy");
  CHECK(parser.get("--batch-size") == std::nullopt);
}

TEST_CASE("bad usage is one sentence naming the command, exit 2") {
  CHECK(error_of({"run.json", "--epoch", "3"}) == "plugfit train: unknown option --epoch; did you mean --epochs?");
  CHECK(error_of({"run.json", "--zzzzzz"}) ==
        "plugfit train: unknown option --zzzzzz (plugfit train --help lists its options)");
  CHECK(error_of({"run.json", "--epochs"}) == "plugfit train: --epochs needs a value (--epochs N)");
  CHECK(error_of({"run.json", "--resume=yes"}) == "plugfit train: --resume takes no value, got \"yes\"");
  CHECK(error_of({}).rfind("plugfit train: missing RUN.json; usage: plugfit train RUN.json", 0) == 0);
  CHECK(error_of({"a.json", "b.json"}).rfind("plugfit train: unexpected argument \"b.json\"", 0) == 0);
  ArgParser parser = train_like();
  REQUIRE(parser.parse({"run.json", "--epochs", "-3"}));
  CHECK_THROWS_WITH_AS(parser.get_int("--epochs"), "plugfit train: --epochs needs a non-negative integer, got \"-3\"",
                       UsageError);
}

TEST_CASE("--help and -h stop parsing; the help lists every declared option from the same table") {
  ArgParser parser = train_like();
  CHECK_FALSE(parser.parse({"-h"}));
  ArgParser other = train_like();
  CHECK_FALSE(other.parse({"run.json", "--bogus", "--help"}));  // help wins, as with argparse
  const std::string help = train_like().help();
  CHECK(help.rfind("usage: plugfit train RUN.json [--epochs N]", 0) == 0);
  for (const auto& name : train_like().option_names()) CHECK(help.find(name + " ") != std::string::npos);
  CHECK(help.find("-o, --output FILE") != std::string::npos);
  CHECK(help.find("-h, --help") != std::string::npos);
  CHECK(help.find("load a plugin (repeatable)") != std::string::npos);
}
