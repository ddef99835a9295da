#include "backup_and_restore.hpp"

#include <cstdio>

#include "../../checkpoint/store.hpp"
#include "../interrupt.hpp"

namespace plugfit {

namespace {
constexpr const char* kBackup = "backup";
}

BackupAndRestore::BackupAndRestore(Config& config)
    : backup_dir_(config.require<std::string>("backup_dir")),
      delete_checkpoint_(config.get<bool>("delete_checkpoint", true)) {
  const Json freq = config.raw("save_freq");
  if (freq.is_number_integer() && freq.get<long long>() > 0) {
    every_batches_ = freq.get<std::int64_t>();
    save_each_epoch_ = false;
  } else if (freq.is_boolean() && !freq.get<bool>()) {
    save_each_epoch_ = false;  // Keras's save_freq=False: no saves
  } else if (!freq.is_null() && freq != "epoch") {
    throw InputError("BackupAndRestore: \"save_freq\" must be \"epoch\", a positive number of batches or false, got " +
                     json_excerpt(freq));
  }
  if (config.get<bool>("double_checkpoint", false))
    throw InputError("BackupAndRestore: \"double_checkpoint\" is not needed: every save is atomic");
}

void BackupAndRestore::on_train_begin(Logs&) {
  failed_ = false;
  // Data-parallel: rank 0 alone restores (fit() hands its run to the others) and backs up.
  if (session().rank() != 0) return;
  backend_ = session().open_backend(backup_dir_);
  const auto found = load_latest_good(*backend_, true, [](const std::string& why) {
    std::fprintf(stderr, "plugfit: warning: %s; ignoring that backup\n", why.c_str());
  });
  if (!found) return;
  session().restore(found->second, {true, true, true, true});
  if (params().verbose > 0) {
    std::printf("Restored the backup in %s: resuming at epoch %d, batch %lld\n", backend_->uri().c_str(),
                session().epoch() + 1, static_cast<long long>(found->second.info["training"].value("batch", 0)));
    std::fflush(stdout);
  }
}

void BackupAndRestore::backup() {
  if (backend_ == nullptr) return;  // not rank 0
  backend_->save(kBackup, session().capture(false));
  batches_since_save_ = 0;
}

void BackupAndRestore::on_train_batch_end(std::int64_t, Logs&) {
  if (!every_batches_) return;
  if (++batches_since_save_ >= *every_batches_) backup();
}

void BackupAndRestore::on_epoch_end(int, Logs&) {
  if (save_each_epoch_) backup();
}

void BackupAndRestore::on_exception(const std::exception& error) {
  failed_ = true;  // the backup stays for the next run
  const auto* interrupted = dynamic_cast<const TrainingInterrupted*>(&error);
  if (interrupted == nullptr || backend_ == nullptr) return;
  // A clean stop is a position like any other: back it up so the next run resumes right there.
  // The save counter is left as it was: other savers capture this callback's state after it.
  try {
    backend_->save(kBackup, session().capture(false));
    interrupted->note_saved(backend_->uri() + "#" + kBackup);
  } catch (const std::exception& failure) {
    std::fprintf(stderr, "plugfit: warning: BackupAndRestore could not save the interrupted run: %s\n", failure.what());
  }
}

void BackupAndRestore::on_train_end(Logs&) {
  if (delete_checkpoint_ && !failed_ && backend_ != nullptr) backend_->remove(kBackup);
}

}  // namespace plugfit
