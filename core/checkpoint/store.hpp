// Opening backends by URI, the index beside the records, and the CheckpointManager.
//
// URIs: "dir:PATH" (or a plain PATH) for the built-in folder backend; "scheme:LOCATION" for a
// backend a plugin registers. "URI#NAME" names one checkpoint ("#latest", "#best" too).
//
// The index (CheckpointBackend::read_index/write_index) lists the checkpoints in save order
// with their epoch, step, kind, metrics and writer, and names the latest and the best. It is a
// cache: when it is missing or stale, the backend's list() is the truth.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <plugfit/callback.hpp>
#include <plugfit/checkpoint.hpp>
#include <plugfit/registry.hpp>

namespace plugfit {

class PluginLoader;

struct CheckpointUri {
  std::string scheme;    // "dir", "sqlite", ...
  std::string location;  // the path after the scheme
  std::string name;      // after '#', or empty
  std::string text() const { return scheme + ":" + location; }
};

CheckpointUri parse_checkpoint_uri(const std::string& uri);
// Throws InputError listing the schemes known when none fits.
std::unique_ptr<CheckpointBackend> open_backend(const CheckpointUri& uri, const Registry& registry,
                                                PluginLoader* loader);

// Records a save in the index: latest = name; best updated when monitor improved.
struct SaveNote {
  std::string name;
  int epoch = 0;
  std::int64_t global_step = 0;
  std::string kind = "full";
  std::string writer;  // "manager", "ModelCheckpoint", ...
  Json metrics = Json::object();
};
void note_saved(CheckpointBackend& backend, const SaveNote& note, const std::string& monitor = "",
                const std::string& mode = "");
void note_removed(CheckpointBackend& backend, const std::string& name);

// Resolves "latest"/"best"/empty to a checkpoint name; std::nullopt when the backend is empty.
std::optional<std::string> resolve_checkpoint_name(const CheckpointBackend& backend, const std::string& name);

// The newest checkpoint (of kind "full" when full_only) that loads and passes its checksums,
// newest first; each corrupt one is reported through warn and skipped. std::nullopt if none.
std::optional<std::pair<std::string, CheckpointRecord>> load_latest_good(
    const CheckpointBackend& backend, bool full_only, const std::function<void(const std::string&)>& warn);

struct ManagerOptions {
  std::optional<std::size_t> max_to_keep = 5;  // nullopt keeps every checkpoint
  std::optional<int> keep_every_n_epochs;      // also keep one every N epochs
  std::string monitor = "val_loss";            // for "best"
  std::string mode = "min";
  bool async = false;                          // write in the background (see AsyncWriter)
};

// Saves a full checkpoint per epoch under "ckpt-EEEE" (mid-epoch: "ckpt-EEEE-BBBBBB"), keeps
// the newest max_to_keep, and deletes old ones only after the new one is saved; it never
// deletes the checkpoint the run resumed from, the best one, or anything it did not write.
class CheckpointManager {
 public:
  CheckpointManager(std::unique_ptr<CheckpointBackend> backend, ManagerOptions options);
  std::string save(const CheckpointRecord& record, int epoch, std::int64_t batch, std::int64_t global_step,
                   const Logs& metrics);
  void protect(const std::string& name) { protected_ = name; }
  // tf.train.CheckpointManager's restore_or_initialize: the latest good full checkpoint (skipping
  // corrupt ones, each reported through warn), protected from deletion; std::nullopt when there is
  // none, and the caller starts from its initial state.
  std::optional<std::pair<std::string, CheckpointRecord>> restore_or_initialize(
      const std::function<void(const std::string&)>& warn);
  CheckpointBackend& backend() { return *backend_; }
  const ManagerOptions& options() const { return options_; }

 private:
  std::unique_ptr<CheckpointBackend> backend_;
  ManagerOptions options_;
  std::string protected_;
};

}  // namespace plugfit
