// The built-in "dir:" backend: a folder per checkpoint.
//
//   ROOT/index.json                 latest, best and the list, written by the manager
//   ROOT/NAME/manifest.json         size and CRC-32 of every file below, written last
//   ROOT/NAME/info.json             the record's JSON
//   ROOT/NAME/tensors/weights/dense/kernel.npy   each tensor, float32 .npy (numpy.load reads it)
//
// A save writes ROOT/.tmp-NAME-PID-N/, fsyncs every file and folder, then renames it to NAME
// (exchanging atomically with an existing NAME, whose old contents are then deleted), and
// fsyncs ROOT. A crash leaves NAME old or new, whole; stray .tmp folders are never listed and
// are removed by later saves once their process is gone.
#pragma once

#include <filesystem>
#include <optional>

#include <plugfit/checkpoint.hpp>

namespace plugfit {

class DirBackend final : public CheckpointBackend {
 public:
  explicit DirBackend(Config& config);  // "path": the root folder
  explicit DirBackend(std::filesystem::path root);

  void save(const std::string& name, const CheckpointRecord& record) override;
  CheckpointRecord load(const std::string& name) const override;
  std::vector<std::string> list() const override;
  void remove(const std::string& name) override;
  Json read_index() const override;
  void write_index(const Json& index) override;
  std::string uri() const override { return "dir:" + root_.string(); }

 private:
  // One attempt at reading the checkpoint whose folder is open as folder_fd; nullopt when a
  // concurrent save deleted it under us.
  std::optional<CheckpointRecord> load_generation(int folder_fd, const std::string& what) const;

  std::filesystem::path root_;
};

}  // namespace plugfit
