// Checkpoints: one logical record, and the backends that store records by name.
//
// A record is JSON (model config, optimizer config and step count, training state, callback
// states, metrics, metadata) plus named float32 tensors ("weights/dense/kernel",
// "optimizer/m/dense/kernel"). Backends store records whole; they know nothing of models.
//
// Backend contract (checked by plugfit/testing.hpp's conformance suite):
//   save(name, record)  atomic: after a crash at any instant the backend holds the old record
//                       under that name or the new one, never a mix; saving never changes record
//   load(name)          the record exactly as saved, bit for bit; a flipped byte or a truncated
//                       file is detected (checksums) and throws CheckpointCorrupt
//   list()              names of the records held, oldest save first
//   remove(name)        deletes one record; other records are untouched
//   read_index/write_index  one small JSON document beside the records (latest, best, ...)
// Names are one path component: no '/', no "..", not empty, no leading '.'.
//
// Threading: one backend instance is used by one thread at a time; its methods need not be
// thread-safe. The host may hand an instance to a background writer thread (async
// checkpoints), and then does not touch it until that write has finished. A backend whose
// instances cannot run on two threads at once (one library-wide lock, say) serializes them
// itself. Opening backends (which may load a plugin) is the training thread's job, never the
// writer's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "config.hpp"
#include "error.hpp"
#include "export.hpp"
#include "tensor.hpp"

namespace plugfit {

struct NamedTensor {
  std::string name;
  Shape shape;
  std::vector<float> values;
  bool operator==(const NamedTensor&) const = default;
};

struct CheckpointRecord {
  Json info = Json::object();
  std::vector<NamedTensor> tensors;

  const NamedTensor* find(const std::string& name) const;
  std::size_t tensor_bytes() const;
};

// A record that fails its checksums or cannot be parsed. A RuntimeFailure, so that code that
// catches load failures catches it, with exit code 2: a damaged file is bad input like any other
// (SDK ABI 4.3; before, 1).
class PLUGFIT_API CheckpointCorrupt : public RuntimeFailure {
 public:
  explicit CheckpointCorrupt(const std::string& message);
  ~CheckpointCorrupt() override;
};

class PLUGFIT_API CheckpointBackend {
 public:
  virtual ~CheckpointBackend();
  virtual void save(const std::string& name, const CheckpointRecord& record) = 0;
  virtual CheckpointRecord load(const std::string& name) const = 0;
  virtual std::vector<std::string> list() const = 0;
  virtual void remove(const std::string& name) = 0;
  virtual Json read_index() const = 0;  // {} when none was written
  virtual void write_index(const Json& index) = 0;
  // "dir:/abs/path", for messages.
  virtual std::string uri() const = 0;
};

// Throws InputError unless name is a valid checkpoint name (see above): a name can never write
// outside the backend's location.
PLUGFIT_API void check_checkpoint_name(const std::string& name);

// CRC-32 (zlib's polynomial) of a byte range: the checksum of every stored part.
PLUGFIT_API std::uint32_t crc32_of(const void* data, std::size_t size, std::uint32_t seed = 0);

// A record as bytes and back, to hand it to another process (a broadcast between ranks, a reader
// in a child process) (SDK ABI 4.3). The bytes are this machine's, not a file format.
PLUGFIT_API std::vector<std::byte> record_to_bytes(const CheckpointRecord& record);
// ensures: the record record_to_bytes was given. The bytes may come from a process that read a
// hostile file: every count and size is checked against the bytes left and every shape against
// its values (and max_tensor_elements()) before anything is allocated; bytes that do not add up
// throw CheckpointCorrupt("<what> ...").
PLUGFIT_API CheckpointRecord record_from_bytes(std::span<const std::byte> bytes, const std::string& what);

}  // namespace plugfit
