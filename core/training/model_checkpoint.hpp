// ModelCheckpoint, with Keras's parameters and messages, plus Lightning's save_top_k and
// save_last. Its best value is part of its state, so it survives a resume.
//
//   filepath   "[scheme:]FOLDER/NAME_TEMPLATE": the folder (a backend URI; dir: by default) and
//              the checkpoint name, a template over epoch (1-based), batch and the logs:
//              "ckpts/best.{epoch:02d}-{val_loss:.4f}". A name that would leave the folder
//              ('/', '..') is refused. A name ending in ".keras", ".h5" or ".weights.h5" (or
//              ".hdf5") is a file of that name in that Keras format (the hdf5: backend), holding
//              a checkpoint named by its stem and no index, as Keras's ModelCheckpoint leaves it;
//              ".db" likewise an SQLite file. As in Keras 3, ".keras" refuses save_weights_only
//              and ".weights.h5" requires it.
//   monitor "val_loss", verbose 0, save_best_only false, save_weights_only false, mode "auto",
//   save_freq "epoch" or a number of batches, initial_value_threshold null,
//   save_top_k null (keep all it writes) or k, save_last false,
//   async false: when true, training goes on while a background thread writes (the stall is
//   the copy of the state); a failed write is reported at the next save or at the end of training.
//   The capture, the backends (opened by the session) and the top-k victims are settled on the
//   training thread; the writer thread only saves, updates the index and deletes.
//
// "Improved" is the SDK's Monitor (plugfit/monitor.hpp) with min_delta 0 and
// initial_value_threshold as the first best: the save_best_only test, the best kept in state,
// the top-k ranking and the index's best all use it.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <plugfit/callback.hpp>
#include <plugfit/checkpoint.hpp>
#include <plugfit/monitor.hpp>

#include "../checkpoint/async_writer.hpp"

namespace plugfit {

class ModelCheckpoint final : public Callback {
 public:
  explicit ModelCheckpoint(Config& config);
  void on_train_begin(Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_batch_end(std::int64_t batch, Logs& logs) override;
  void on_train_end(Logs& logs) override;
  Json state() const override;
  void load_state(const Json& state) override;
  std::string state_key() const override;

  const std::string& folder_uri() const { return folder_; }

 private:
  // A checkpoint of a backend this callback opened (the backend outlives every job).
  struct Target {
    CheckpointBackend* backend;
    std::string checkpoint;
  };
  // One save, settled on the training thread: what write() does, maybe on the writer's thread.
  struct WriteJob {
    std::shared_ptr<const CheckpointRecord> record;
    std::string kind;
    int epoch = 0;
    std::int64_t global_step = 0;
    Json metrics;
    Target target;
    std::optional<Target> last;   // save_last's copy
    std::vector<Target> victims;  // pushed out of the top k by this save, deleted after it
  };

  void save(int epoch, std::optional<std::int64_t> batch, const Logs& logs);
  void write(const WriteJob& job) const;
  // The backend and checkpoint name a formatted name stands for (opening a file's backend).
  Target target(const std::string& name);
  // Takes the checkpoints beyond save_top_k out of written_, worst first.
  std::vector<Target> top_k_victims();

  std::string filepath_, folder_, name_template_;
  Monitor monitor_;
  int verbose_;
  bool save_best_only_, save_weights_only_, save_last_, async_;
  std::optional<std::int64_t> save_freq_batches_;  // empty: every epoch
  std::optional<int> save_top_k_;
  std::optional<double> best_;
  std::int64_t batches_since_save_ = 0;
  // Name and monitored value of what it wrote, in save order. Training thread only.
  std::vector<std::pair<std::string, double>> written_;
  std::string file_scheme_, extension_;  // set when the name picks a file format
  std::unique_ptr<CheckpointBackend> backend_;
  std::map<std::string, std::unique_ptr<CheckpointBackend>> file_backends_;  // by file location
  AsyncWriter writer_;  // declared last: destroyed (joined) before the backend it writes to
};

}  // namespace plugfit
