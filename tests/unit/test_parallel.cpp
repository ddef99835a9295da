// util/parallel.hpp: the chunks of parallel_for, its exceptions, and its thread counts.
#include <doctest/doctest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "util/parallel.hpp"

using namespace plugfit;

namespace {

// Every index of [0, n) seen exactly once, each chunk's range as chunk_range gives it.
void check_cover(std::size_t n, int threads) {
  set_threads(threads);
  CHECK(plugfit::threads() == threads);
  std::vector<int> seen(n, 0);
  std::vector<std::atomic<int>> chunk_calls(static_cast<std::size_t>(threads));
  const int chunks = static_cast<int>(std::min<std::size_t>(n, static_cast<std::size_t>(threads)));
  parallel_for(n, [&](std::size_t begin, std::size_t end, int chunk) {
    REQUIRE(chunk >= 0);
    REQUIRE(chunk < threads);
    std::size_t b = 0, e = 0;
    chunk_range(n, chunks, chunk, b, e);
    CHECK(b == begin);
    CHECK(e == end);
    chunk_calls[static_cast<std::size_t>(chunk)].fetch_add(1);
    for (std::size_t i = begin; i < end; ++i) ++seen[i];
  });
  for (std::size_t i = 0; i < n; ++i) CHECK(seen[i] == 1);
  for (int c = 0; c < threads; ++c) CHECK(chunk_calls[static_cast<std::size_t>(c)].load() == (c < chunks ? 1 : 0));
}

}  // namespace

TEST_CASE("chunk_range splits [0, n) into contiguous near-equal chunks in order") {
  for (std::size_t n : {0u, 1u, 2u, 7u, 100u, 101u})
    for (int chunks : {1, 2, 3, 8}) {
      CAPTURE(n);
      CAPTURE(chunks);
      std::size_t expected_begin = 0;
      for (int c = 0; c < chunks; ++c) {
        std::size_t b = 0, e = 0;
        chunk_range(n, chunks, c, b, e);
        CHECK(b == expected_begin);
        CHECK(e >= b);
        CHECK(e - b <= n / std::size_t(chunks) + 1);
        expected_begin = e;
      }
      CHECK(expected_begin == n);
    }
}

TEST_CASE("parallel_for covers [0, n) exactly once with 1 and 2 threads, n smaller than the threads included") {
  for (int threads : {1, 2, 3})
    for (std::size_t n : {0u, 1u, 2u, 5u, 1000u, 100001u}) {
      CAPTURE(threads);
      CAPTURE(n);
      check_cover(n, threads);
    }
  set_threads(1);
}

TEST_CASE("many loops in a row all complete (the workers never miss a job)") {
  set_threads(2);
  std::atomic<long> total{0};
  for (int round = 0; round < 20000; ++round)
    parallel_for(2, [&](std::size_t begin, std::size_t end, int) { total.fetch_add(long(end - begin)); });
  CHECK(total.load() == 40000);
  // A job published at once after set_threads reaches workers whose threads have not yet run.
  for (int round = 0; round < 50; ++round) {
    set_threads(1);
    set_threads(2);
    parallel_for(2, [&](std::size_t, std::size_t, int) { total.fetch_add(1); });
  }
  CHECK(total.load() == 40100);
  set_threads(1);
}

TEST_CASE("an exception thrown by a chunk is rethrown by parallel_for, the first by chunk index") {
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    set_threads(threads);
    CHECK_THROWS_WITH_AS(parallel_for(10, [](std::size_t, std::size_t, int chunk) {
                           throw std::runtime_error("chunk " + std::to_string(chunk));
                         }),
                         "chunk 0", std::runtime_error);
    if (threads == 2)
      CHECK_THROWS_WITH_AS(parallel_for(10, [](std::size_t, std::size_t, int chunk) {
                             if (chunk == 1) throw std::runtime_error("second");
                           }),
                           "second", std::runtime_error);
    // The pool still works after an exception.
    std::atomic<int> calls{0};
    parallel_for(4, [&](std::size_t, std::size_t, int) { calls.fetch_add(1); });
    CHECK(calls.load() == threads);
  }
  set_threads(1);
}
