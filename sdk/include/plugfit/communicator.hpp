// The transport of data-parallel training: a group of ranks that sum buffers, broadcast bytes
// and wait for each other. plugfit itself never links a transport; a plugin registers one by
// name (plugins/mpi: "mpi>Communicator", selected by `--distributed mpi`):
//
//   class MpiCommunicator : public plugfit::Communicator { ... };
//   registry.add_communicator<MpiCommunicator>("Communicator");
//
// Every collective is called by every rank in the same order with the same sizes (the host
// keeps to that); a rank that cannot go on calls abort(), never returns from a collective early.
//
//   requires: 0 <= root < size(); the spans of one collective have the same size on every rank.
//   ensures:  allreduce_sum leaves every rank with the element-wise sum of every rank's buffer,
//             the same bits on every rank; broadcast leaves every rank with root's bytes;
//             abort ends every rank of the job (exit status non-zero) and does not return.
//             A failure of the transport throws RuntimeFailure naming the collective.
#pragma once

#include <cstddef>
#include <span>

#include "export.hpp"

namespace plugfit {

class PLUGFIT_API Communicator {
 public:
  virtual ~Communicator();
  virtual int rank() const = 0;  // 0 .. size() - 1; rank 0 writes checkpoints and logs
  virtual int size() const = 0;
  virtual void allreduce_sum(std::span<float> buffer) = 0;
  virtual void allreduce_sum(std::span<double> buffer) = 0;
  virtual void broadcast(std::span<std::byte> bytes, int root) = 0;
  virtual void barrier() = 0;
  [[noreturn]] virtual void abort(int exit_code) = 0;
};

}  // namespace plugfit
