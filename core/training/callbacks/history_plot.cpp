#include "history_plot.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "../../util/atomic_file.hpp"
#include "../plot.hpp"
#include "log_file.hpp"

namespace plugfit {

HistoryPlot::HistoryPlot(Config& config)
    : filename_(config.get<std::string>("filename", "history.svg")),
      title_(config.get<std::string>("title", "Training history")) {
  if (filename_.empty()) throw InputError("HistoryPlot: \"filename\" must not be empty");
}

void HistoryPlot::on_train_begin(Logs&) {
  const bool resumed = loaded_;
  loaded_ = false;
  if (!resumed) {
    rows_.clear();
  } else {
    // The resumed epoch: fit()'s initial epoch, or where a restore in an earlier callback's
    // on_train_begin (BackupAndRestore) put the session.
    int from = params().initial_epoch;
    try {
      from = std::max(from, session().epoch());
    } catch (const Error&) {
      // no session (a callback driven by hand): the initial epoch it is
    }
    std::erase_if(rows_, [from](const Row& row) { return row.first >= from; });
  }
  write(true);
}

void HistoryPlot::on_epoch_end(int epoch, Logs& logs) {
  Row row{epoch, std::vector<std::pair<std::string, double>>(logs.begin(), logs.end())};
  auto at = std::lower_bound(rows_.begin(), rows_.end(), epoch, [](const Row& r, int e) { return r.first < e; });
  if (at != rows_.end() && at->first == epoch) *at = std::move(row);
  else rows_.insert(at, std::move(row));
  write(false);
}

std::string HistoryPlot::render() const {
  HistoryTable table;
  for (const auto& [epoch, logs] : rows_) table.set_row(epoch, logs);
  PlotOptions options;
  options.title = title_;
  if (!rows_.empty()) {
    const int done = rows_.back().first + 1;
    options.subtitle = "epoch " + std::to_string(done) + " of " + std::to_string(std::max(done, params().epochs));
  } else {
    options.subtitle = "waiting for the first epoch to end";
  }
  return render_history_svg(table, options);
}

void HistoryPlot::write(bool starting) {
  if (!writes_files(*this)) return;  // data-parallel: rank 0 draws the plot
  const std::string why = write_file_atomically(filename_, render());
  if (why.empty()) return;
  const std::string message = "HistoryPlot: cannot write \"" + filename_ + "\": " + why;
  if (starting) throw InputError(message);
  throw RuntimeFailure(message);
}

Json HistoryPlot::state() const {
  Json rows = Json::array();
  for (const auto& [epoch, logs] : rows_) {
    Json values = Json::object();
    for (const auto& [key, value] : logs) values[key] = std::isfinite(value) ? Json(value) : Json();
    rows.push_back({{"epoch", epoch}, {"logs", values}});
  }
  return {{"rows", rows}};
}

void HistoryPlot::load_state(const Json& state) {
  const std::string who = "HistoryPlot: the saved state";
  if (!state.is_object() || !state.contains("rows") || !state["rows"].is_array())
    throw InputError(who + " must be an object with a list \"rows\", got " + json_excerpt(state));
  std::vector<Row> rows;
  for (const Json& r : state["rows"]) {
    if (!r.is_object() || !r.contains("epoch") || !r["epoch"].is_number_integer() || r["epoch"].get<long long>() < 0 ||
        r["epoch"].get<long long>() > std::numeric_limits<int>::max() || !r.contains("logs") || !r["logs"].is_object())
      throw InputError(who + " has a row that is not {\"epoch\": N, \"logs\": {...}}: " + json_excerpt(r));
    Row row{r["epoch"].get<int>(), {}};
    for (const auto& [key, value] : r["logs"].items()) {
      if (!value.is_null() && !value.is_number())
        throw InputError(who + ": the value of \"" + key + "\" must be a number or null, got " + json_excerpt(value));
      row.second.emplace_back(key, value.is_null() ? std::numeric_limits<double>::quiet_NaN() : value.get<double>());
    }
    rows.push_back(std::move(row));
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.first < b.first; });
  rows_ = std::move(rows);
  loaded_ = true;
}

}  // namespace plugfit
