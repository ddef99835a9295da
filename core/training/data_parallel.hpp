// Data-parallel training (`--distributed mpi`): what fit() does differently on N ranks, with
// Keras's MultiWorkerMirroredStrategy semantics of the batch.
//
// batch_size is the global batch. Every rank follows the same data order (seed, epoch) and takes
// a contiguous slice of each global batch (slice()), so every rank runs the same steps, and N
// ranks compute the update one rank would, up to the summation order:
//   - gradients: each rank's mean-over-its-slice gradient, weighted by its share of the batch,
//     summed over ranks before the gradient hooks (GradientClipping clips the global gradient);
//     a rank with an empty slice contributes zeros;
//   - logs: sums and counts (the loss, each Metric::totals()) summed over ranks before any
//     callback reads them, so EarlyStopping, ReduceLROnPlateau and ModelCheckpoint decide the
//     same on every rank; a SIGINT/SIGTERM on any rank travels in the same sum, so every rank
//     stops after the same batch;
//   - state: rank 0's whole run (weights, optimizer, position, callback states) reaches every
//     rank at the start of training, after any restore, and the non-trainable weights
//     (BatchNormalization's moving statistics) are rank 0's after every step, as DDP's buffers.
// Without a communicator (or with one rank) every call is local and cheap: fit() runs one path.
//
// Every collective is called by every rank in the same order with the same sizes; nothing here
// depends on what only one rank has (its progress bar, its files).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <plugfit/callback.hpp>
#include <plugfit/communicator.hpp>
#include <plugfit/error.hpp>

#include "../data/dataset.hpp"
#include "../model/sequential.hpp"
#include "session.hpp"

namespace plugfit {

// An error every rank throws alike (the run check): the job ends with rank 0's report and one
// MPI_Abort, not N (concurrent aborts have crashed Open MPI 4.1's mpirun).
class ThrownOnEveryRank : public InputError {
 public:
  using InputError::InputError;
};

class DataParallel {
 public:
  // communicator: nullptr for one process. collective_timeout_seconds > 0 starts a watchdog that
  // ends the job when one collective waits longer (a rank that hangs, not one that died: Open MPI
  // ends the job itself then).
  explicit DataParallel(Communicator* communicator, double collective_timeout_seconds = 0.0);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool distributed() const { return size_ > 1; }

  // This rank's rows [first, first + count) of a global batch of `rows`: contiguous, in rank
  // order, sizes differing by at most one (by at most one block with gradient blocks).
  std::pair<std::size_t, std::size_t> slice(std::size_t rows) const;

  // Partition-independent gradients (FitOptions::gradient_block_rows; 0: off). slice() hands out
  // whole blocks of `rows` rows, fit() runs each block alone (forward, loss, backward) and adds its
  // gradient with add_block_gradient(), and combine_block_gradients() sums the blocks of every
  // rank. A float has 24 bits and a double 53: the double sum of a few float terms is exact
  // unless they lie more than ~2^27 apart, so the order of the additions (one rank's loop, the
  // ring's chunks) almost never changes the float it rounds to, and 1, 2 or N ranks make the same
  // update. Each block's own arithmetic is the same whatever the world size: the same rows, the
  // same GEMM shapes, the same draws (reseeded per block).
  void set_gradient_blocks(std::size_t rows);
  std::size_t gradient_block_rows() const { return block_rows_; }
  // grads: the gradient of the mean loss over one block of `rows` rows of a global batch of
  // `global` rows; adds its share (rows / global) to this step's sums.
  void add_block_gradient(std::span<const float> grads, std::size_t rows, std::size_t global);
  // ensures: grads is the gradient of the mean over the global batch (every rank's blocks), the
  // same bits on every rank; the sums are zero again for the next step.
  void combine_block_gradients(std::span<float> grads);

  // grads: this rank's gradient of the mean loss over its `local` rows (ignored, and zeros
  // contributed, when local is 0). ensures: grads is the gradient of the mean over all `global`
  // rows, the same bits on every rank.
  void combine_gradients(std::span<float> grads, std::size_t local, std::size_t global);

  // Rank 0's values of the model's non-trainable weights on every rank.
  void share_non_trainable(Sequential& model);

  // Refuses (ThrownOnEveryRank, on every rank) a run whose parts differ from rank 0's, naming the rank
  // and the part. parts: {what, hash} ("its model config", ...), the same list on every rank.
  void check_same_run(const std::vector<std::pair<std::string, std::uint64_t>>& parts);

  // Rank 0's whole run (capture(false)) restored on every other rank.
  void share_run_from_rank0(FitSession& session);

  // Sums doubles over the ranks (the logs' totals); a no-op in one process.
  void sum(std::span<double> values);

  // "[rank r/N] " in a distributed run, "" otherwise: the prefix of every message a rank prints.
  std::string prefix() const;

 private:
  // Marks a collective in progress for the watchdog.
  struct Collective {
    explicit Collective(DataParallel& owner, const char* what);
    ~Collective();
    DataParallel& owner;
  };
  void watch();

  Communicator* communicator_;
  int rank_ = 0, size_ = 1;
  std::vector<std::byte> bytes_;  // broadcast scratch
  std::size_t block_rows_ = 0;
  std::vector<double> block_sums_;  // this step's gradient, summed over blocks
  double timeout_seconds_;
  std::atomic<std::int64_t> collective_started_ns_{0};  // 0: none in progress
  std::atomic<const char*> collective_what_{""};
  std::atomic<bool> stop_watchdog_{false};
  std::thread watchdog_;
};

// What DataParallel::check_same_run compares: each part of the run hashed (the plugins behind its
// types, the model and compile configs, the fit options and data specs, the callbacks, the data).
std::vector<std::pair<std::string, std::uint64_t>> run_parts(Sequential& model, const Dataset& data,
                                                             const FitOptions& options,
                                                             const std::vector<Callback*>& callbacks,
                                                             const FitSession& session);

// The running sums behind an epoch's (or an evaluation's) logs: the loss times the samples, the
// samples, a signal slot per rank, and each compiled metric's totals(), summed over ranks by
// combine() before any callback reads the logs written from them.
class LogTotals {
 public:
  LogTotals(Sequential& model, DataParallel& parallel);
  // Zeroes the loss and the metrics (Metric::reset()).
  void reset();
  void add_loss(double batch_mean, std::size_t rows);
  // Sums every rank's totals (a collective: every rank calls it at the same point); pending_signal
  // is this rank's pending SIGINT/SIGTERM (0: none). Returns the first rank's signal in the sum.
  int combine(int pending_signal = 0);
  // The combined loss and metrics into logs, keys prefixed ("val_").
  void write(Logs& logs, const std::string& prefix = "") const;
  std::size_t samples() const;

 private:
  Sequential& model_;
  DataParallel& parallel_;
  double loss_sum_ = 0.0;
  double samples_ = 0.0;
  std::vector<double> combined_;  // [loss_sum, samples, signal per rank..., metric totals...]
};

}  // namespace plugfit
