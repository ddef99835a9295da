// Meson's skip for doctest cases that need what a plain clone lacks (../shared beside it).
// A test case calls skip_test_case(reason) and returns; when every selected case of a run
// skipped and none failed, tests/doctest_main.cpp exits 77, which meson reports as SKIP.
#pragma once

#include <iostream>
#include <string_view>

namespace plugfit::test {

inline unsigned skipped_test_cases = 0;

// Prints the reason as scripts/test's summary shows it ("skipped: REASON").
inline void skip_test_case(std::string_view reason) {
  std::cout << "skipped: " << reason << std::endl;
  ++skipped_test_cases;
}

}  // namespace plugfit::test
