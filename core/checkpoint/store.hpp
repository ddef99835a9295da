// Opening backends by URI, the index beside the records, and the CheckpointManager.
//
// The URI grammar, the index's schema and resolve_checkpoint_name are the SDK's
// (plugfit/checkpoint_index.hpp), shared with plugins; this adds what only the host does.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <plugfit/callback.hpp>
#include <plugfit/checkpoint.hpp>
#include <plugfit/checkpoint_index.hpp>
#include <plugfit/monitor.hpp>
#include <plugfit/registry.hpp>

namespace plugfit {

class PluginLoader;

// Throws InputError listing the schemes known (known_backend_schemes) when none fits.
std::unique_ptr<CheckpointBackend> open_backend(const CheckpointUri& uri, const Registry& registry,
                                                PluginLoader* loader);
// open_backend for reading a location that must already be there (inspect, evaluate, predict,
// convert's source): every backend's location is a path (open_backend hands it over as "path"),
// and when nothing is at it this throws InputError "... does not exist" before any backend
// opens, so nothing is created.
std::unique_ptr<CheckpointBackend> open_existing_backend(const CheckpointUri& uri, const Registry& registry,
                                                         PluginLoader* loader);
// The schemes open_backend can open, sorted: "dir", the checkpoint backends registered, and
// those the loader would load for an unknown scheme S (a plugin named S_backend on its path
// that provides the backend S).
std::vector<std::string> known_backend_schemes(const Registry& registry, const PluginLoader* loader);

// Keeps two runs from mixing in one checkpoint location. A run that does not resume calls this
// before training: when backend already holds checkpoints, it throws InputError naming the
// location and the ways out (--resume, a new location, --overwrite) unless overwrite is set;
// with overwrite it removes every checkpoint listed and resets the index first.
void start_fresh_run(CheckpointBackend& backend, bool overwrite);

// The checkpoint a URI names ("URI#NAME": latest, best or a name; else the latest) and its name.
// Throws InputError when backend holds none.
std::pair<std::string, CheckpointRecord> load_named(const CheckpointBackend& backend, const CheckpointUri& uri);

// Records a save in backend's index (CheckpointIndex::note_saved: latest, and best by monitor).
void note_saved(CheckpointBackend& backend, const CheckpointEntry& entry, const Monitor* monitor = nullptr);
void note_removed(CheckpointBackend& backend, const std::string& name);

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
  Monitor best_monitor_;  // what "best" means in the index
  std::string protected_;
};

}  // namespace plugfit
