// HistoryPlot: the training curves as one self-contained SVG, rewritten after every epoch, so the
// file can be opened (and reloaded) while training runs.
//
//   filename  "history.svg"  the SVG to write; each write goes to a temporary file in the same
//             folder and is renamed over it, so a reader never sees a half-written figure
//   title     null           the figure's title; null: "Training history"
//
// The figure is render_history_svg()'s (training/plot.hpp): one panel per metric, training
// solid and validation dashed, over the 1-based epoch. The subtitle says how far training got
// ("epoch 3 of 10"). The file is written at the start of training (an empty figure, or the
// restored curves of a resumed run; a path that cannot be written fails there, before any
// epoch runs) and at the end of every epoch.
//
// Resume: the epoch logs are the state, so a resumed run draws the whole history, not just the
// epochs since the resume. Rows for epochs at or past the resumed epoch are dropped (they are
// about to be trained again). A checkpoint holds the current epoch's row when this callback's
// on_epoch_end ran before the checkpoint was captured: list HistoryPlot before ModelCheckpoint
// (the run file's checkpoint manager always runs after the listed callbacks). State key
// "HistoryPlot{filename=...}".
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <plugfit/callback.hpp>

namespace plugfit {

class HistoryPlot final : public Callback {
 public:
  using Row = std::pair<int, std::vector<std::pair<std::string, double>>>;  // 0-based epoch, its logs

  explicit HistoryPlot(Config& config);
  void on_train_begin(Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  Json state() const override;
  void load_state(const Json& state) override;
  std::string state_key() const override { return "HistoryPlot{filename=" + filename_ + "}"; }

  const std::vector<Row>& rows() const { return rows_; }
  // The SVG for the rows so far, as written to the file.
  std::string render() const;

 private:
  void write(bool starting);

  std::string filename_;
  std::string title_;
  std::vector<Row> rows_;  // increasing epochs
  bool loaded_ = false;    // load_state() ran since the last on_train_begin
};

}  // namespace plugfit
