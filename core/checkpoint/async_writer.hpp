// Saves in the background (Orbax's default, Lightning's AsyncCheckpointIO).
//
// The caller captures the record (the stall: a copy of the state in memory) and submits the
// write; one worker thread writes while training goes on. A new submit first waits for the
// previous write, so writes never overlap and stay in order. A failed write is reported by the
// next submit() or wait(), never lost; the destructor waits too (and cannot report, so callers
// wait() in on_train_end).
#pragma once

#include <exception>
#include <functional>
#include <thread>

namespace plugfit {

class AsyncWriter {
 public:
  AsyncWriter() = default;
  ~AsyncWriter();
  AsyncWriter(const AsyncWriter&) = delete;
  AsyncWriter& operator=(const AsyncWriter&) = delete;

  // Waits for the previous write (rethrowing its failure), then starts write on the worker.
  void submit(std::function<void()> write);
  // Waits for the pending write; rethrows its failure.
  void wait();

 private:
  std::thread worker_;
  std::exception_ptr failure_;
};

}  // namespace plugfit
