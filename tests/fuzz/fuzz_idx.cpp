// The IDX reader (MNIST-style image and label files).
#include <plugfit/error.hpp>

#include "data/dataset.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = plugfit_fuzz::fresh_scratch() / "input.idx";
  plugfit_fuzz::write_file(file, plugfit_fuzz::bytes_of(data, size));
  try {
    plugfit::read_idx(file.string());
  } catch (const plugfit::Error&) {
  }
  return 0;
}
