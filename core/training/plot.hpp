// Training curves as one self-contained SVG: what `plugfit plot` and the HistoryPlot callback write.
//
// render_history_svg() takes a HistoryTable (data/history_file.hpp) and draws one panel per
// metric base name ("loss", "accuracy", ...; "val_accuracy" goes with "accuracy"): the training
// series solid and its val_ twin dashed, over the epoch (1-based, as Keras prints it), with tick
// labels, axis titles ("epoch", the metric name), a legend and the figure's title. The learning
// rate ("learning_rate" or "lr") gets its own panel, last. Non-finite values are skipped.
//
// The SVG is plain SVG 1.1: no scripts, no stylesheets, no external fonts or images, so a browser,
// an image viewer or rsvg-convert shows it as it is. Every series is exactly one <path>; nothing
// else in the figure is a <path> (axes, grid and legend samples are <line>s, markers <circle>s).
#pragma once

#include <string>
#include <vector>

#include "../data/history_file.hpp"

namespace plugfit {

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

}  // namespace plugfit
