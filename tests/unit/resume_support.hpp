// Resume exactness of a model, for the layer tests (BatchNormalization's moving statistics, the
// augmentation layers' generator): the same run trained straight and in two halves.
#pragma once

#include <doctest/doctest.h>

#include <cstring>
#include <functional>
#include <utility>

#include <plugfit/plugfit.hpp>

#include "test_support.hpp"

namespace plugfit::test {

// make()'s model trained 4 epochs straight, and 2 epochs then resumed to 4 from its dir:
// checkpoints (batch 16, seed 7, below a fresh folder); checks that both end with the same
// parameters bit for bit, and returns them (straight, resumed) for more checks.
inline std::pair<Sequential, Sequential> straight_and_resumed(const std::function<Sequential()>& make,
                                                              const Dataset& data) {
  const TempDir folder;
  FitOptions options;
  options.batch_size = 16;
  options.verbose = 0;
  options.seed = 7;
  options.epochs = 4;
  options.checkpoint = "dir:" + (folder.path / "straight").string();
  Sequential straight = make();
  straight.fit(data, options);
  options.checkpoint = "dir:" + (folder.path / "halves").string();
  options.epochs = 2;
  make().fit(data, options);
  Sequential resumed = make();
  options.epochs = 4;
  options.resume = true;
  resumed.fit(data, options);
  const auto p = straight.parameters(), q = resumed.parameters();
  REQUIRE(p.size() == q.size());
  CHECK(plugfit::test::same_memory(p.data(), q.data(), p.size() * sizeof(float)));
  return {std::move(straight), std::move(resumed)};
}

}  // namespace plugfit::test
