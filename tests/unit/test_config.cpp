#include <doctest/doctest.h>

#include <plugfit/config.hpp>

#include "util/json_file.hpp"

using namespace plugfit;

TEST_CASE("Config reads typed values with defaults and names wrong types") {
  Config c({{"units", 3}, {"rate", 0.5}, {"name", "d"}, {"flag", true}}, "Dense");
  CHECK(c.require<int>("units") == 3);
  CHECK(c.get<double>("rate", 0.0) == 0.5);
  CHECK(c.get<std::string>("name", "") == "d");
  CHECK(c.get<bool>("flag", false));
  CHECK(c.get<int>("missing", 7) == 7);
  CHECK_THROWS_WITH_AS(c.require<std::string>("units"), "Dense: the option \"units\" must be a string, got 3",
                       InputError);
  CHECK_THROWS_WITH_AS(c.require<int>("absent"), "Dense: the option \"absent\" is required", InputError);
}

TEST_CASE("Config reports the first key nobody read, with the known ones") {
  Config c({{"units", 3}, {"unitz", 4}}, "Dense");
  c.get<int>("units", 0);
  CHECK_THROWS_WITH_AS(c.check_all_used(), "Dense has no option \"unitz\" (it knows: units)", InputError);
  c.accept({"unitz"});
  CHECK_NOTHROW(c.check_all_used());
}

TEST_CASE("unsigned options refuse negative numbers") {
  Config c({{"units", -3}}, "Dense");
  CHECK_THROWS_WITH_AS(c.require<std::size_t>("units"),
                       "Dense: the option \"units\" must be a non-negative integer, got -3", InputError);
}

TEST_CASE("malformed JSON is reported with file, line and column") {
  CHECK_THROWS_WITH_AS(parse_json("{\n  \"a\": 1,\n  \"b\": ]\n}", "run.json"),
                       doctest::Contains("run.json:3:8: malformed JSON"), InputError);
  CHECK_THROWS_WITH_AS(read_json_file("/nonexistent/run.json"), doctest::Contains("/nonexistent/run.json: cannot be read"),
                       InputError);
  // Found by fuzz_run_file: a number past double's range is nlohmann's out_of_range, not a parse_error.
  CHECK_THROWS_WITH_AS(parse_json("{\"epochs\": 1e400}", "run.json"),
                       "run.json: malformed JSON: number overflow parsing '1e400'", InputError);
  CHECK_THROWS_WITH_AS(parse_json("{\"epochs\": 1e" + std::string(300, '9') + "}", "run.json"),
                       doctest::Contains("..."), InputError);
}
