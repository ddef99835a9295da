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

}  // namespace plugfit
