// The random number generator behind initial weights, shuffling and dropout.
//
// xoshiro256** with its own uniform and normal draws, so a seed gives the same numbers with any
// standard library, and the whole state is four 64-bit words a checkpoint can store.
#pragma once

#include <array>
#include <cstdint>
#include <cstddef>

#include "export.hpp"

namespace plugfit {

class PLUGFIT_API Rng {
 public:
  using State = std::array<std::uint64_t, 4>;

  explicit Rng(std::uint64_t seed = 0) { reseed(seed); }
  void reseed(std::uint64_t seed);

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, 1) with 24 random bits.
  float uniform() { return static_cast<float>(next() >> 40) * 0x1.0p-24f; }
  // Uniform integer in [0, n), unbiased.
  std::uint64_t below(std::uint64_t n);
  // Standard normal (Box-Muller, both draws consumed for reproducibility).
  double normal();

  const State& state() const { return s_; }
  void set_state(const State& s) { s_ = s; }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  State s_{};
};

// A seed for a sub-stream, so that weights, shuffling and dropout draw independently.
PLUGFIT_API std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream);

// Training-time randomness (dropout masks, augmentation) drawn per sample of the global batch,
// so that a sample gets the same mask however data-parallel training splits the batch across
// ranks (N ranks then train exactly as one would, and a checkpoint resumes on another count):
//
//   const SampleStreams::Batch draws = samples_->next_batch();  // once per training forward()
//   Rng row_rng = draws.row(i);                                  // row i of this forward's batch
//
// The host reseeds the model's generator before every training step from the run's seed and the
// step count, so a step's draws depend on the seed, the step, the layer's place in the model and
// the sample's index in the global batch only.
class PLUGFIT_API SampleStreams {
 public:
  struct Batch {
    std::uint64_t key = 0;
    std::uint64_t first_row = 0;
    Rng row(std::size_t i) const { return Rng(derive_seed(key, first_row + i)); }
  };
  explicit SampleStreams(Rng& rng) : rng_(&rng) {}
  Batch next_batch() { return {rng_->next(), first_row_}; }
  // The host's: the index in the global batch of this process's first row (0 in one process).
  void set_first_row(std::uint64_t row) { first_row_ = row; }

 private:
  Rng* rng_;
  std::uint64_t first_row_ = 0;
};

}  // namespace plugfit
