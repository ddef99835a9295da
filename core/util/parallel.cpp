#include "parallel.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "blas.hpp"

namespace plugfit {
namespace {

// Spins until ready() holds or about kSpinMicroseconds pass; true when it holds. A parallel loop
// usually follows the last one within microseconds (the next layer, the optimizer), and waking a
// sleeping thread through the kernel costs tens of them, so a worker spins a little first.
constexpr auto kSpin = std::chrono::microseconds(200);

template <class Ready>
bool spin_until(Ready ready) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (ready()) return true;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    if (std::chrono::steady_clock::now() >= until) return ready();
  }
}

// Workers 1..threads-1 wait for a job; the caller runs chunk 0 and waits for the rest. A job is
// published by bumping generation_ (its fields are written before, read after); each wait spins
// briefly, then sleeps on a condition variable (notified under the mutex, so none is lost).
class WorkerPool {
 public:
  ~WorkerPool() { resize(1); }

  int size() const { return size_; }

  void resize(int threads) {
    if (threads == size_) return;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      generation_.fetch_add(1);
    }
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();
    workers_.clear();
    stopping_ = false;
    size_ = threads;
    errors_.assign(static_cast<std::size_t>(threads), nullptr);
    // A worker starts from the generation of its creation: a job published before its thread
    // first runs is still its to do.
    const std::uint64_t now = generation_.load();
    for (int chunk = 1; chunk < threads; ++chunk) workers_.emplace_back([this, chunk, now] { work(chunk, now); });
  }

  void run(std::size_t n, ChunkBody body, void* state) {
    const int chunks = static_cast<int>(std::min<std::size_t>(n, static_cast<std::size_t>(size_)));
    if (chunks <= 1) {
      if (n > 0) body(state, 0, n, 0);
      return;
    }
    n_ = n;
    chunks_ = chunks;
    body_ = body;
    state_ = state;
    pending_.store(size_ - 1);
    {
      std::lock_guard lock(mutex_);
      generation_.fetch_add(1);
    }
    wake_.notify_all();
    run_chunk(0);
    if (!spin_until([this] { return pending_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock lock(mutex_);
      done_.wait(lock, [this] { return pending_.load() == 0; });
    }
    for (int chunk = 0; chunk < chunks; ++chunk)
      if (auto error = std::exchange(errors_[static_cast<std::size_t>(chunk)], nullptr)) std::rethrow_exception(error);
  }

 private:
  void run_chunk(int chunk) {
    std::size_t begin = 0, end = 0;
    chunk_range(n_, chunks_, chunk, begin, end);
    try {
      body_(state_, begin, end, chunk);
    } catch (...) {
      errors_[static_cast<std::size_t>(chunk)] = std::current_exception();
    }
  }

  void work(int chunk, std::uint64_t seen) {
    for (;;) {
      auto fresh = [&] { return generation_.load(std::memory_order_acquire) != seen; };
      if (!spin_until(fresh)) {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, fresh);
      }
      seen = generation_.load(std::memory_order_acquire);
      if (stopping_.load()) return;
      if (chunk < chunks_) run_chunk(chunk);
      // Every worker reports, used or not, so that no worker still reads this job's fields
      // when the caller publishes the next one.
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard lock(mutex_);
        done_.notify_one();
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  std::vector<std::exception_ptr> errors_ = std::vector<std::exception_ptr>(1);
  int size_ = 1;
  std::atomic<bool> stopping_ = false;
  std::atomic<std::uint64_t> generation_ = 0;
  std::size_t n_ = 0;
  int chunks_ = 0;
  ChunkBody body_ = nullptr;
  void* state_ = nullptr;
  std::atomic<int> pending_ = 0;
};

WorkerPool& pool() {
  static WorkerPool instance;
  return instance;
}

}  // namespace

void set_threads(int threads) {
  pool().resize(threads < 1 ? 1 : threads);
  set_blas_threads(1);
}

int threads() { return pool().size(); }

void parallel_for_chunks(std::size_t n, ChunkBody body, void* state) { pool().run(n, body, state); }

void chunk_range(std::size_t n, int chunks, int chunk, std::size_t& begin, std::size_t& end) {
  const auto c = static_cast<std::size_t>(chunks), i = static_cast<std::size_t>(chunk);
  const std::size_t base = n / c, extra = n % c;
  begin = i * base + std::min(i, extra);
  end = begin + base + (i < extra ? 1 : 0);
}

}  // namespace plugfit
