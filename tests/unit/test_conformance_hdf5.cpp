// The SDK's backend conformance suite on the hdf5: backend (plugin hdf5_backend). A save writes
// one checkpoint file however many are kept: the whole suite takes about a minute.
#include "conformance_support.hpp"

TEST_CASE("hdf5: passes the checkpoint backend conformance suite") {
  plugfit::test::run_plugin_conformance("hdf5_backend", "hdf5", "run.h5", [](const std::filesystem::path& file) {
    return plugfit::test::flip_runs_of(file, 2.0f);  // datasets are contiguous
  });
}
