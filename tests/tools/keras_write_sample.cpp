// Test-only: writes keras_sample_checkpoint() as OUTDIR/model.h5, model.weights.h5 and
// model.keras through write_keras_file, for tests/cli/keras_layout_compare.py.
#include <filesystem>
#include <iostream>

#include "keras_sample_record.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: keras_write_sample OUTDIR\n";
    return 2;
  }
  try {
    const std::filesystem::path dir = argv[1];
    const auto checkpoint = plugfit::test::keras_sample_checkpoint();
    for (const char* name : {"model.h5", "model.weights.h5", "model.keras"})
      plugfit_hdf5::write_keras_file(dir / name, plugfit_hdf5::keras_format_for(name), checkpoint);
  } catch (const std::exception& e) {
    std::cerr << "keras_write_sample: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
