// Training curves as one self-contained SVG: what `plugfit plot` and the HistoryPlot callback write.
//
// A HistoryTable is a training history: the 0-based epochs and, per log key, one value per
// epoch (NaN where the key is missing that epoch). render_history_svg() draws one panel per
// metric base name ("loss", "accuracy", ...; "val_accuracy" goes with "accuracy"): the training
// series solid and its val_ twin dashed, over the epoch (1-based, as Keras prints it), with tick
// labels, axis titles ("epoch", the metric name), a legend and the figure's title. The learning
// rate ("learning_rate" or "lr") gets its own panel, last. Non-finite values are skipped.
//
// The SVG is plain SVG 1.1: no scripts, no stylesheets, no external fonts or images, so a browser,
// an image viewer or rsvg-convert shows it as it is. Every series is exactly one <path>; nothing
// else in the figure is a <path> (axes, grid and legend samples are <line>s, markers <circle>s).
//
// Readers of the two history formats plugfit writes, with errors (InputError) that name the file,
// the line and the column:
//   CSV         CSVLogger's (Keras's) format: a header "epoch" then the keys, one row per epoch,
//               "NA" or an empty field for a missing value, Python floats ("0.5", "1e-05",
//               "nan", "inf"), QUOTE_MINIMAL quoting, "\r\n" or "\n" line ends; the separator is
//               the character after "epoch" in the header (CSVLogger's "separator" option).
//   JSON lines  JsonLinesLogger's: one object per line, {"epoch": 0, "loss": 0.5, ...}, null for
//               a missing or non-finite value.
// A row for an epoch already read replaces it (a file a resumed run appended to).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace plugfit {

struct HistoryTable {
  std::vector<int> epochs;                            // 0-based, increasing
  std::vector<std::string> keys;                      // in the order first seen
  std::map<std::string, std::vector<double>> values;  // key -> one value per epoch (NaN: missing)

  // Sets the row of epoch (inserted in order, or replacing the row already there); keys first
  // seen here get NaN for the other epochs, and keys absent from row get NaN for this epoch.
  void set_row(int epoch, const std::vector<std::pair<std::string, double>>& row);
  // Whether any value is finite.
  bool has_finite_values() const;
};

// Parses a CSVLogger file's text; origin (the file name) starts every error message.
HistoryTable parse_history_csv(const std::string& text, const std::string& origin);
// Parses a JsonLinesLogger file's text; blank lines are skipped.
HistoryTable parse_history_jsonl(const std::string& text, const std::string& origin);
// Reads a history file: JSON lines when its name ends in ".jsonl", CSV otherwise. InputError when
// it cannot be read, is malformed, or holds no numeric value to plot.
HistoryTable read_history_file(const std::string& path);

struct PlotOptions {
  std::string title = "Training history";
  std::string subtitle;  // a smaller line under the title (the source, the epoch count); may be empty
};

// The figure as SVG text. Any table renders, an empty one as a note that no epoch has ended.
std::string render_history_svg(const HistoryTable& table, const PlotOptions& options);

// Ticks for an axis over [lo, hi]: a step of 1, 2 or 5 times a power of ten giving about target
// ticks, and the multiples of it within the range widened to whole steps ("loose" labels).
// integer: steps of at least 1 (epochs). Returns the ticks, increasing; the range is
// [front, back]. A degenerate range (lo == hi) is widened around its value first.
std::vector<double> nice_ticks(double lo, double hi, int target, bool integer = false);

// The tick label of value on an axis stepping by step: fixed with as many decimals as the step
// needs ("0.25", "10"), or scientific for tiny or huge values ("1.5e-05").
std::string tick_label(double value, double step);

// &, <, >, " and ' as XML entities; control characters XML forbids are dropped.
std::string xml_escape(const std::string& text);

// Writes text to path through a temporary file in the same folder and a rename, so a reader
// sees the old file or the new one, never a torn one. Returns an empty string on success, else
// why it failed (the caller words the error).
std::string write_file_atomically(const std::string& path, const std::string& text);

}  // namespace plugfit
