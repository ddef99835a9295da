// plugfit plot HISTORY -o OUT.svg [--title T]: a CSVLogger file (or a JsonLinesLogger file, by
// its ".jsonl" extension) drawn as one self-contained SVG (training/plot.hpp).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include <plugfit/error.hpp>

#include "../data/history_file.hpp"
#include "../training/plot.hpp"
#include "../util/atomic_file.hpp"
#include "arg_parser.hpp"
#include "commands.hpp"

namespace plugfit {

int cmd_plot(const Args& args) {
  ArgParser parser("plugfit plot", "Training curves from a CSVLogger (or .jsonl) file as a self-contained SVG.");
  parser.positional("HISTORY", "the history file: HISTORY.csv (CSVLogger) or HISTORY.jsonl (JsonLinesLogger)");
  parser.option("--output", "OUT.svg", "the SVG file to write (required)").alias("-o", "--output");
  parser.option("--title", "TEXT", "the chart's title (default \"Training history\")");
  if (!parser.parse(args)) return 0;
  const std::string history = parser.positionals().at(0);
  const auto output = parser.get("--output");
  if (!output || output->empty()) throw InputError("plot needs the SVG file to write: -o OUT.svg");

  const HistoryTable table = read_history_file(history);
  PlotOptions options;
  options.title = parser.get("--title").value_or("Training history");
  const std::size_t epochs = table.epochs.size();
  options.subtitle = std::filesystem::path(history).filename().string() + " \xC2\xB7 " + std::to_string(epochs) +
                     (epochs == 1 ? " epoch" : " epochs");
  const std::string why = write_file_atomically(*output, render_history_svg(table, options));
  if (!why.empty()) throw InputError("cannot write \"" + *output + "\": " + why);
  // As render_history_svg() counts them: one panel per base name (val_ twins share it) with a
  // finite value.
  std::set<std::string> panels;
  for (const auto& key : table.keys) {
    const auto& column = table.values.at(key);
    if (std::none_of(column.begin(), column.end(), [](double v) { return std::isfinite(v); })) continue;
    panels.insert(key.size() > 4 && key.rfind("val_", 0) == 0 ? key.substr(4) : key);
  }
  std::printf("plugfit: wrote %s (%zu %s, %zu %s)\n", output->c_str(), panels.size(),
              panels.size() == 1 ? "panel" : "panels", epochs, epochs == 1 ? "epoch" : "epochs");
  return 0;
}

}  // namespace plugfit
