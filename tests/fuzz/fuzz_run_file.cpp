// Run files and the model configs in them: the run file read, then its model built from the
// config (layer specs, Keras's JSON of every era), as plugfit train does before any data.
#include <plugfit/context.hpp>
#include <plugfit/error.hpp>
#include <plugfit/sequential.hpp>

#include "cli/run_file.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = plugfit_fuzz::fresh_scratch() / "run.json";
  plugfit_fuzz::write_file(file, plugfit_fuzz::bytes_of(data, size));
  try {
    const plugfit::RunSpec run = plugfit::read_run_file(file.string());
    static const plugfit::Context context;
    plugfit::Sequential model = plugfit::Sequential::from_config(run.model, context);
    model.build(model.declared_input_shape().value_or(plugfit::Shape{4}), 1);
  } catch (const plugfit::Error&) {
  }
  return 0;
}
