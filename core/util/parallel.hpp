// plugfit's worker threads: the `threads` setting (run file "threads", --threads).
//
// One policy for every parallel loop: plugfit splits the work itself, in contiguous chunks that
// depend only on the loop's length and the thread count, and OpenBLAS always runs single-threaded
// inside them (its own spinning workers would compete with plugfit's on a two-core machine). So a
// fixed thread count gives the same chunks, the same summation order and the same bits on every
// run. Across thread counts, results agree to rounding only: a sum reduced over chunks changes
// order, and even a chunk that writes its own outputs (rows of a batch) runs a smaller GEMM, which
// OpenBLAS may sum in another order.
#pragma once

#include <cstddef>
#include <type_traits>

namespace plugfit {

// requires: threads >= 1. Sets the number of threads parallel_for uses (the caller included) and
// pins OpenBLAS to one thread. Call between batches, never from inside parallel_for.
void set_threads(int threads);
// The current setting (1 until set_threads is called).
int threads();

// What a chunk of a parallel loop runs: [begin, end) of the loop, and the chunk's index in
// [0, threads()), which picks the chunk's scratch buffer.
using ChunkBody = void (*)(void* state, std::size_t begin, std::size_t end, int chunk);
void parallel_for_chunks(std::size_t n, ChunkBody body, void* state);

// Runs body(begin, end, chunk) over [0, n) split into min(n, threads()) contiguous chunks of
// near-equal size, chunk 0 on the calling thread; returns when all are done. An exception thrown
// by a chunk is rethrown here (the first one, by chunk index). Allocates nothing.
template <class Body>
void parallel_for(std::size_t n, Body&& body) {
  parallel_for_chunks(
      n,
      [](void* state, std::size_t begin, std::size_t end, int chunk) {
        (*static_cast<std::remove_reference_t<Body>*>(state))(begin, end, chunk);
      },
      const_cast<void*>(static_cast<const void*>(&body)));
}

// The chunk [begin, end) that parallel_for gives chunk `chunk` of `chunks` over n items.
void chunk_range(std::size_t n, int chunks, int chunk, std::size_t& begin, std::size_t& end);

}  // namespace plugfit
