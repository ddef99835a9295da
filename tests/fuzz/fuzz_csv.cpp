// The CSV reader, with the last column as the label (train's default) and with none (predict's).
#include <plugfit/error.hpp>

#include "data/dataset.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = plugfit_fuzz::fresh_scratch() / "input.csv";
  plugfit_fuzz::write_file(file, plugfit_fuzz::bytes_of(data, size));
  for (const char* options : {"", "label=none"}) {
    try {
      plugfit::read_csv(file.string(), options);
    } catch (const plugfit::Error&) {
    }
  }
  return 0;
}
