// predict's inputs and outputs as their names say: a csv: spec is all features unless it names a
// label, and predictions go out as CSV or npy by the output file's extension.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include <plugfit/error.hpp>
#include <plugfit/npy.hpp>

#include "dataset.hpp"
#include "key_values.hpp"

namespace plugfit {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The format an output path names: "csv", "npy", or "" for neither.
std::string output_format(const std::string& path) {
  if (ends_with(path, ".csv")) return "csv";
  if (ends_with(path, ".npy")) return "npy";
  return "";
}

void write_csv(const std::string& path, const Tensor& predictions) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) throw InputError("CSV file " + path + " cannot be written (" + std::strerror(errno) + ")");
  const std::size_t rows = predictions.dimension() == 0 ? 1 : predictions.shape()[0];
  const std::size_t columns = rows == 0 ? 0 : predictions.size() / rows;
  const float* v = predictions.data();
  bool ok = true;
  // %.9g round-trips every float32; nan and inf print as numpy.loadtxt reads them.
  for (std::size_t r = 0; r < rows && ok; ++r)
    for (std::size_t c = 0; c < columns && ok; ++c)
      ok = std::fprintf(f, c + 1 < columns ? "%.9g," : "%.9g\n", static_cast<double>(v[r * columns + c])) > 0;
  const int close_rc = std::fclose(f);
  if (!ok || close_rc != 0) throw InputError("CSV file " + path + " cannot be written (" + std::strerror(errno) + ")");
}

}  // namespace

void check_predictions_path(const std::string& path) {
  if (output_format(path).empty())
    throw InputError("output file " + path + " has neither of the extensions predict writes, .csv and .npy");
}

void write_predictions(const std::string& path, const Tensor& predictions) {
  check_predictions_path(path);
  if (output_format(path) == "csv") write_csv(path, predictions);
  else npy::write_file(path, predictions);
}

Dataset load_inputs(const std::string& input) {
  // A bare path with a data extension is a file of inputs; anything else is a data spec.
  const bool bare = input.find(':') == std::string::npos;
  if (bare && ends_with(input, ".npy")) return load_dataset("npy:" + input);
  std::string spec = bare && ends_with(input, ".csv") ? "csv:" + input : input;
  if (spec.rfind("csv:", 0) == 0) {
    const std::string rest = spec.substr(4);
    const auto comma = rest.find(',');
    const std::string options = comma == std::string::npos ? "" : rest.substr(comma + 1);
    bool names_label = false;
    for (const auto& [key, value] : split_key_values(options, "CSV spec for " + rest.substr(0, comma)))
      names_label = names_label || key == "label";
    // Train's default (the last column is the label) would drop a feature from every sample.
    if (!names_label) spec += ",label=none";
  }
  return load_dataset(spec);
}

}  // namespace plugfit
