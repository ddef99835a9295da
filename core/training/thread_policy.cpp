#include "thread_policy.hpp"

#include <algorithm>
#include <thread>

#include <plugfit/error.hpp>

namespace plugfit {

namespace {

// Forward multiply-adds per batch from which two threads beat one, from bench/plugfit_bench on
// a 2-core machine shared with other jobs (samples/s, 1 -> 2 threads, Adam, 1-2 epochs):
//   MLP 784-128-10 (101.8k MACs/sample): batch 8 15k -> 5k, 16 20-26k -> 9-11k (load ~6),
//   32 47-57k -> 76-77k, 256 146-147k -> 162-202k, 1024 138-143k -> 214-259k (load ~1.5).
// So batch 32 of the MLP (3.3M) gains, 16 (1.6M) loses; the CNN (~2.5M MACs/sample) is past
// the line at any batch it trains with.
constexpr double kMinParallelBatchWork = 3e6;

}  // namespace

double multiply_adds_per_sample(const Sequential& model) {
  const auto& impl = SequentialAccess::impl(model);
  double total = 0.0;
  for (std::size_t i = 0; i < impl.layer_params_.size() && i < impl.layer_output_shapes_.size(); ++i) {
    const Shape& shape = impl.layer_output_shapes_[i];
    double positions = 1.0;
    for (std::size_t d = 0; d + 1 < shape.size(); ++d) positions *= double(shape[d]);
    total += double(impl.layer_params_[i]) * positions;
  }
  return total;
}

int resolve_threads(int requested, const Sequential& model, std::size_t batch_size) {
  if (requested > 0) return requested;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return multiply_adds_per_sample(model) * double(batch_size) >= kMinParallelBatchWork ? cores : 1;
}

int parse_threads(const std::string& text, const std::string& what) {
  if (text == "auto") return 0;
  const bool digits = !text.empty() && text.size() <= 4 && std::all_of(text.begin(), text.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
  const int value = digits ? std::stoi(text) : 0;
  if (value < 1 || value > 1024)
    throw InputError(what + " must be a positive integer or \"auto\", got \"" + text + "\"");
  return value;
}

}  // namespace plugfit
