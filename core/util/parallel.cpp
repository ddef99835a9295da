#include "parallel.hpp"

#include <algorithm>
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

// Workers 1..threads-1 wait for a job; the caller runs chunk 0 and waits for the rest.
class WorkerPool {
 public:
  ~WorkerPool() { resize(1); }

  int size() const { return size_; }

  void resize(int threads) {
    if (threads == size_) return;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      ++generation_;
    }
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();
    workers_.clear();
    stopping_ = false;
    size_ = threads;
    errors_.assign(static_cast<std::size_t>(threads), nullptr);
    // A new worker waits for the next job, not the last one a former pool ran.
    for (int chunk = 1; chunk < threads; ++chunk)
      workers_.emplace_back([this, chunk, seen = generation_] { work(chunk, seen); });
  }

  void run(std::size_t n, ChunkBody body, void* state) {
    const int chunks = static_cast<int>(std::min<std::size_t>(n, static_cast<std::size_t>(size_)));
    if (chunks <= 1) {
      if (n > 0) body(state, 0, n, 0);
      return;
    }
    {
      std::lock_guard lock(mutex_);
      n_ = n;
      chunks_ = chunks;
      body_ = body;
      state_ = state;
      pending_ = chunks - 1;
      ++generation_;
    }
    wake_.notify_all();
    run_chunk(0);
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
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
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (stopping_) return;
      if (chunk >= chunks_) continue;
      lock.unlock();
      run_chunk(chunk);
      lock.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  std::vector<std::exception_ptr> errors_ = std::vector<std::exception_ptr>(1);
  int size_ = 1;
  bool stopping_ = false;
  std::uint64_t generation_ = 0;
  std::size_t n_ = 0;
  int chunks_ = 0;
  ChunkBody body_ = nullptr;
  void* state_ = nullptr;
  int pending_ = 0;
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
