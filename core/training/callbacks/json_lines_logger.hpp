// JsonLinesLogger: each epoch's logs as one JSON object per line, for machines (jq, pandas'
// read_json(lines=True), a dashboard tailing the file).
//
//   filename  (required) the file to write
//   append    false: start the file afresh; true: add to what is there
//
// Each line: {"epoch": 0, "loss": 0.53, "accuracy": 0.8, "val_loss": ...}: the 0-based epoch (as
// CSVLogger's), then the epoch's logs in the order fit() gives them, each value as the shortest
// text that reads back to the same double; NaN and infinities as null (JSON has no such numbers).
// Lines end in "\n" and the file is flushed after each one.
//
// Resume: as CSVLogger, when the run resumed (Session::resumed_at()) it always appends, after
// dropping the lines of epochs at or past the resumed epoch (written after the checkpoint, and
// about to be trained again) and any line a killed run left half-written; the file is opened at
// the first line. State key "JsonLinesLogger{filename=...}".
#pragma once

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <plugfit/callback.hpp>

namespace plugfit {

class JsonLinesLogger final : public Callback {
 public:
  explicit JsonLinesLogger(Config& config);
  void on_train_begin(Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_end(Logs& logs) override;
  Json state() const override;
  void load_state(const Json& state) override;
  std::string state_key() const override { return "JsonLinesLogger{filename=" + filename_ + "}"; }

  // The line written for an epoch's logs, without its "\n".
  static std::string line(int epoch, const Logs& logs);

 private:
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  void drop_lines_from(int epoch);
  // Opens the file at the first write, as CSVLogger::open_file.
  void open_file();

  std::string filename_;
  bool append_;
  std::unique_ptr<std::FILE, Closer> file_;
  std::optional<int> last_epoch_;  // the last epoch written
  bool loaded_ = false;            // load_state() ran since the last on_train_begin
  bool opened_ = false;            // open_file() ran since on_train_begin
  bool writer_ = true;             // not in a data-parallel run's other ranks (writes_files)
};

}  // namespace plugfit
