#include <doctest/doctest.h>

#include <plugfit/error.hpp>

#include "util/format_template.hpp"

using plugfit::format_template;

TEST_CASE("Keras filepath templates format like Python's str.format") {
  const std::map<std::string, double> v{{"epoch", 3}, {"val_loss", 0.41234567}, {"batch", 12}, {"accuracy", 0.875}};
  CHECK(format_template("best.{epoch:02d}-{val_loss:.4f}", v) == "best.03-0.4123");
  CHECK(format_template("w-{epoch}-{batch:04d}", v) == "w-3-0012");
  CHECK(format_template("{val_loss}", v) == "0.41234567");
  CHECK(format_template("{accuracy:.1%}", v) == "87.5%");
  CHECK(format_template("{val_loss:.2e}", v) == "4.12e-01");
  CHECK(format_template("{epoch:>4}|{epoch:<4}|{epoch:^5}", v) == "   3|3   |  3  ");
  CHECK(format_template("{{literal}}-{epoch}", v) == "{literal}-3");
}

TEST_CASE("a missing key or an unsupported spec is an error naming it") {
  const std::map<std::string, double> v{{"epoch", 1}, {"loss", 0.5}};
  CHECK_THROWS_WITH_AS(format_template("m-{val_loss:.4f}", v),
                       "failed to format the filepath template \"m-{val_loss:.4f}\": no \"val_loss\" in the logs "
                       "(available: epoch, loss)",
                       plugfit::InputError);
  CHECK_THROWS_WITH_AS(format_template("{epoch:x}", v), doctest::Contains("spec \"x\""), plugfit::InputError);
  CHECK_THROWS_WITH_AS(format_template("{epoch", v), doctest::Contains("unclosed"), plugfit::InputError);
  CHECK_THROWS_WITH_AS(format_template("{loss:d}", v), doctest::Contains("formats \"loss\" with d"), plugfit::InputError);
}

// Issue 15's UBSan findings: a width or precision of many digits overflowed an int, and a value
// beyond long long's range was cast to it.
TEST_CASE("huge widths, precisions and integers are refused or printed without overflow") {
  const std::map<std::string, double> v{{"epoch", 1}, {"loss", 1e300}, {"step", -3e19}};
  CHECK_THROWS_WITH_AS(format_template("{epoch:99999999999d}", v), doctest::Contains("more than 100 characters"),
                       plugfit::InputError);
  CHECK_THROWS_WITH_AS(format_template("{epoch:.99999999999f}", v), doctest::Contains("more than 100 characters"),
                       plugfit::InputError);
  CHECK(format_template("{loss:d}", v).size() == 301);
  CHECK(format_template("{step}", v) == "-3e+19");
  CHECK(format_template("{step:d}", v) == "-30000000000000000000");
  CHECK(format_template("{loss:.100f}", v).size() == 301 + 1 + 100);
}
