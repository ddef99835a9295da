// acme's toy checkpoint backend, "toy:FOLDER": one file per checkpoint, written against the SDK alone.
//
// Contract: plugfit/checkpoint.hpp's CheckpointBackend (checked by acme_conformance with the SDK's
// conformance suite).
//   FOLDER/<name>.ckpt   one checkpoint (names are one path component without a leading '.', so
//                        they never collide with the dot files below)
//   FOLDER/.index.json   the index document
//   FOLDER/.seq          the last save sequence number handed out (u64 + its CRC-32)
//   FOLDER/.lock         writers of one folder take turns (flock)
//   FOLDER/.tmp-<pid>-<n>  a file being written; a dead writer's are removed by the next writer
// Every save and write_index writes a temporary file, fsyncs it, renames it over the old one and
// fsyncs the folder: a crash leaves the old file or the new one, whole.
//
// A checkpoint file (little-endian):
//   0   8 bytes  magic "acmetoy" + format byte 2
//   8   u32      CRC-32 (plugfit::crc32_of) of every byte from offset 12 to the end
//   12  u32      J, bytes of JSON
//   16  u64      save sequence number: list() orders by it, oldest first
//   24  u64      D, bytes of tensor data
//   32  J bytes  JSON {"name": checkpoint name, "info": record info, "tensors": [[name, bytes], ...]}
//   32+J D bytes each tensor as a whole float32 .npy file (plugfit/npy.hpp), in record order
// A file whose size is not 32 + J + D, whose CRC fails, or whose JSON does not describe exactly D
// bytes is CheckpointCorrupt on load.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include <plugfit/sdk.hpp>

namespace acme {

class ToyBackend final : public plugfit::CheckpointBackend {
 public:
  explicit ToyBackend(plugfit::Config& config);
  explicit ToyBackend(const std::filesystem::path& folder);

  void save(const std::string& name, const plugfit::CheckpointRecord& record) override;
  plugfit::CheckpointRecord load(const std::string& name) const override;
  std::vector<std::string> list() const override;
  void remove(const std::string& name) override;
  plugfit::Json read_index() const override;
  void write_index(const plugfit::Json& index) override;
  std::string uri() const override { return "toy:" + folder_.string(); }

 private:
  std::filesystem::path file_of(const std::string& name) const { return folder_ / (name + ".ckpt"); }
  void make_folder(const std::string& action) const;
  // Writes bytes produced by write(fd) to a temporary file and renames it over target.
  template <class Write>
  void replace_file(const std::filesystem::path& target, const std::string& action, Write write);
  std::uint64_t next_seq();  // the caller holds the writer lock
  void remove_stale_temporaries();

  std::filesystem::path folder_;
  bool cleaned_ = false;  // stale temporaries removed by this object's first save
};

// Registers ToyBackend as the checkpoint backend "toy".
void register_toy_backend(plugfit::Registrar& registrar);

}  // namespace acme
