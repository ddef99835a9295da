// BackupAndRestore: Keras's fault tolerance, made exact.
//
//   backup_dir        a checkpoint URI (a plain path means dir:) holding one record, "backup"
//   save_freq         "epoch" (default) or N: every N batches, counted across epochs
//   delete_checkpoint true: the backup is removed when training ends without an error
//
// on_train_begin restores the latest good backup, whole: weights, optimizer state, the
// position (epoch and batch) with the generator and seed, and every callback's state. Training
// then resumes at the batch where the backup was taken, with the same data order, so the final
// weights are bit-identical to an uninterrupted run's. (Keras replays an interrupted epoch
// from its start, and backs up no callback state.) A run stopped by SIGINT or SIGTERM
// (TrainingInterrupted) is backed up in on_exception, at the batch where it stopped.
#pragma once

#include <memory>
#include <optional>

#include <plugfit/callback.hpp>
#include <plugfit/checkpoint.hpp>

namespace plugfit {

class BackupAndRestore final : public Callback {
 public:
  explicit BackupAndRestore(Config& config);
  void on_train_begin(Logs& logs) override;
  void on_train_batch_end(std::int64_t batch, Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_end(Logs& logs) override;
  void on_exception(const std::exception& error) override;
  Json state() const override { return {{"batches_since_save", batches_since_save_}}; }
  void load_state(const Json& state) override { batches_since_save_ = state.value("batches_since_save", std::int64_t{0}); }
  std::string state_key() const override { return "BackupAndRestore{" + backup_dir_ + "}"; }
  // The backup location as configured (a URI, or a dir: path).
  const std::string& backup_dir() const { return backup_dir_; }

 private:
  void backup();

  std::string backup_dir_;
  std::optional<std::int64_t> every_batches_;
  bool save_each_epoch_ = true;
  bool delete_checkpoint_;
  bool failed_ = false;
  std::int64_t batches_since_save_ = 0;
  std::unique_ptr<CheckpointBackend> backend_;
};

}  // namespace plugfit
