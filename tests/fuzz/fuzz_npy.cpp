// The SDK's npy codec (data files, dir: checkpoints' tensors, backends), from bytes.
#include <plugfit/error.hpp>
#include <plugfit/npy.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    plugfit::npy::decode(plugfit_fuzz::bytes_of(data, size), "the fuzz input");
  } catch (const plugfit::Error&) {
  }
  return 0;
}
