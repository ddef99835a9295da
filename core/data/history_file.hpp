// Training histories as plugfit's loggers write them, read back for `plugfit plot` and HistoryPlot.
//
// A HistoryTable is a training history: the 0-based epochs and, per log key, one value per
// epoch (NaN where the key is missing that epoch).
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
#include <utility>
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

}  // namespace plugfit
