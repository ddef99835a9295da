// tf_open_bench: the time plugfit's own readers take to open each real TensorFlow folder in
// ../shared/tf_files: the .index table and its entries, every tensor read and CRC-checked, the
// object graph and (SavedModels) keras_metadata.pb decoded. The best of 20 runs per folder; the
// whole `plugfit inspect` (process start, plugin load, record) is timed by the README's command.
//   tf_open_bench [TF_FILES_DIR]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "proto_wire.hpp"
#include "tensor_bundle.hpp"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  const fs::path root = argc > 1 ? fs::path(argv[1]) : fs::path("../shared/tf_files");
  const struct { const char* name; const char* prefix; const char* metadata; } folders[] = {
      {"charity_dense_ckpt", "charity_dense_ckpt/checkpoints/weights.100.hd5f", nullptr},
      {"heart_dense_sm", "heart_dense_sm/variables/variables", "heart_dense_sm/keras_metadata.pb"},
      {"mnist_cnn_sm", "mnist_cnn_sm/mnist_model/variables/variables", "mnist_cnn_sm/mnist_model/keras_metadata.pb"}};
  for (const auto& f : folders) {
    double best = 1e9;
    std::size_t bytes = 0, variables = 0;
    for (int run = 0; run < 20; ++run) {
      const auto start = std::chrono::steady_clock::now();
      const tf_files::TensorBundle bundle(root / f.prefix);
      bytes = 0;
      for (const auto& v : bundle.variables()) {
        if (v.entry.dtype == tf_files::DT_STRING) {
          const std::string graph = bundle.read_string(v);
          bytes += graph.size() + tf_files::parse_object_graph(graph, "graph").size() * 0;
        } else {
          bytes += bundle.read_bytes(v).size();
        }
      }
      if (f.metadata)
        bytes += tf_files::parse_saved_metadata(tf_files::read_whole_file(root / f.metadata, 64 << 20), "md").size() * 0;
      variables = bundle.variables().size();
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      best = std::min(best, ms);
    }
    std::printf("%-20s %3zu variables %9zu tensor bytes  %.3f ms\n", f.name, variables, bytes, best);
  }
  return 0;
}
