// CSVLogger: streams each epoch's logs to a CSV file in Keras's format.
//
//   filename  (required) the file to write
//   separator ","  a single character
//   append    false: start the file afresh; true: append, writing the header only if the file
//             is empty (continuing a run)
//
// Format, as Keras's (Python's csv module, excel dialect): a header "epoch" then the first
// epoch's log keys sorted, plus "val_" twins of every key when the first epoch has no "val_"
// key (Keras's provision for validation that runs only some epochs); one row per epoch with
// the 0-based epoch and each value as Python's str(float) ("0.5", "1e-05", "nan"), "NA" for a
// key missing that epoch; keys first seen later are not written; lines end in "\r\n"; fields
// holding the separator, a quote or a line break are quoted. Flushed after every row.
//
// Resume: the column keys are state. When the run resumed (Session::resumed_at(): --resume,
// BackupAndRestore, a mid-epoch position included, or fit()'s initial epoch) the logger always
// appends, after dropping the rows of epochs at or past the resumed epoch (written after the
// checkpoint, and about to be trained again), so every epoch's row is there exactly once. The
// file is opened at the first row (or on_train_end), when the resume position is final
// whatever the callbacks' order; on_train_begin only checks it can be written.
// State key "CSVLogger{filename=...}".
#pragma once

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <plugfit/callback.hpp>

namespace plugfit {

class CSVLogger final : public Callback {
 public:
  explicit CSVLogger(Config& config);
  void on_train_begin(Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_end(Logs& logs) override;
  Json state() const override;
  void load_state(const Json& state) override;
  std::string state_key() const override { return "CSVLogger{filename=" + filename_ + "}"; }

 private:
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::string field(const std::string& text) const;
  void write_line(const std::vector<std::string>& fields);
  void drop_rows_from(int epoch);
  // Opens the file at the first write: continued after the rows before Session::resumed_at()
  // when the run resumed, else appended to (append) or started afresh.
  void open_file();

  std::string filename_;
  char separator_;
  bool append_;
  std::unique_ptr<std::FILE, Closer> file_;
  std::optional<std::vector<std::string>> keys_;  // the columns after "epoch", fixed by the first epoch
  bool header_pending_ = false;
  bool opened_ = false;  // open_file() ran since on_train_begin (a second on_train_end must not reopen)
  bool writer_ = true;   // not in a data-parallel run's other ranks (writes_files)
  bool loaded_ = false;  // load_state() ran since the last on_train_begin: keep the restored keys
};

}  // namespace plugfit
