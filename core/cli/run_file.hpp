// Run files: one JSON file naming the model, the data, the compile and fit settings, the
// plugins, the callbacks and the checkpoint URI.
//
// {
//   "model": "fashion_mlp.json",            a path (relative to the run file) or an inline config
//   "data": {"train": "fashion-mnist:train", "validation": null, "test": "fashion-mnist:test"},
//   "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
//   "fit": {"epochs": 5, "batch_size": 32, "validation_split": 0.1, "shuffle": true, "seed": 42, "verbose": 1,
//           "threads": "auto"},                   a positive integer, or "auto" (the default)
//   "plugins": [],
//   "callbacks": [{"class_name": "...", "config": {...}}],
//   "checkpoint": "dir:checkpoints",
//   "load_weights": "dir:best#best",          start from these weights (strict: names and shapes)
//   "distributed": "mpi"                      data-parallel under mpirun, or {"backend": "mpi",
//                                             "collective_timeout": SECONDS}
// }
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <plugfit/config.hpp>

namespace plugfit {

struct TypeSpec {
  std::string class_name;
  Json config = Json::object();
  // Accepts "name" or {"class_name": ..., "config": {...}}; what names the field in errors.
  static TypeSpec from_json(const Json& spec, const std::string& what);
};

struct RunSpec {
  std::string path;
  Json model;
  std::string train_data, validation_data, test_data;
  TypeSpec optimizer{"Adam"};
  TypeSpec loss{"sparse_categorical_crossentropy"};
  std::vector<TypeSpec> metrics;
  int epochs = 1;
  std::size_t batch_size = 32;
  bool shuffle = true;
  double validation_split = 0.0;
  std::optional<std::uint64_t> seed;
  int verbose = 1;
  int threads = 0;  // 0: auto (resolve_threads, training/thread_policy.hpp)
  std::size_t gradient_block_rows = 0;  // FitOptions::gradient_block_rows; 0: off
  std::vector<std::string> plugins;
  std::vector<TypeSpec> callbacks;
  Json checkpoint;  // a URI, or {"uri": ..., "max_to_keep": ..., ...}
  std::string load_weights;  // a checkpoint URI whose weights the model starts from (Keras's load_weights)
  std::string distributed;   // a communicator plugin ("mpi"), or empty: one process
  double collective_timeout = 0.0;  // seconds; 0: none
};

// Throws InputError naming the file and the field.
RunSpec read_run_file(const std::string& path);

// Runs configure(); an InputError it throws (a model, optimizer or callback the run file
// configures) names the run file first, as read_run_file's own errors do.
template <typename F>
decltype(auto) in_run_file(const std::string& path, F&& configure) {
  try {
    return configure();
  } catch (const InputError& e) {
    const std::string what = e.what();
    if (what.rfind(path, 0) == 0) throw;
    throw InputError(path + ": " + what);
  }
}

}  // namespace plugfit
