// A checkpoint location as plugfit inspect reads it (every record loaded and checked, the
// index, the backend's own metadata), then as predict does (the model built from the latest
// record, its weights set; the input fits a Dense model on 4 features), in this process. Built once per format
// (tests/fuzz/meson.build): FUZZ_LOCATION is the location's name ("m.db", "m.h5", "m.keras",
// "ckpts" ...) and FUZZ_PACKED says whether the input is one file or a packed folder
// (pack_folder.py).
#include <plugfit/npy.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto location = plugfit_fuzz::fresh_scratch() / FUZZ_LOCATION;
  if (FUZZ_PACKED)
    plugfit_fuzz::unpack_folder(plugfit_fuzz::bytes_of(data, size), location);
  else
    plugfit_fuzz::write_file(location, plugfit_fuzz::bytes_of(data, size));
  const auto input = location.parent_path() / "x.npy";
  plugfit::Tensor x = plugfit::Tensor::from_shape({2, 4});
  x.fill(0.5f);
  plugfit_fuzz::write_file(input, plugfit::npy::encode(x));
  plugfit_fuzz::run_plugfit({"inspect", FUZZ_SCHEME + location.string()});
  plugfit_fuzz::run_plugfit({"predict", FUZZ_SCHEME + location.string(), "--input", input.string(), "--output",
                             (location.parent_path() / "y.npy").string()});
  return 0;
}
