#include "progbar.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <vector>

#include "callback_access.hpp"

namespace plugfit {

namespace {
using Clock = std::chrono::steady_clock;

std::string format_eta(double seconds) {
  char buf[32];
  const auto s = static_cast<long>(seconds);
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s % 3600) / 60, s % 60);
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

std::string format_per_step(double seconds) {
  char buf[32];
  if (seconds >= 1.0) std::snprintf(buf, sizeof buf, "%.0fs/step", seconds);
  else if (seconds >= 1e-3) std::snprintf(buf, sizeof buf, "%.0fms/step", seconds * 1e3);
  else std::snprintf(buf, sizeof buf, "%.0fus/step", seconds * 1e6);
  return buf;
}
// The terminal's width in columns: the window size of out, else $COLUMNS, else 80.
std::size_t terminal_columns(std::FILE* out) {
  winsize size{};
  if (ioctl(fileno(out), TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  if (const char* columns = std::getenv("COLUMNS")) {
    char* end = nullptr;
    const long n = std::strtol(columns, &end, 10);
    if (end != columns && *end == '\0' && n > 0) return static_cast<std::size_t>(n);
  }
  return 80;
}

std::string bar_text(std::int64_t current, std::int64_t target, int width) {
  const int filled = target > 0 ? static_cast<int>(width * std::min(current, target) / target) : width;
  std::string bar(static_cast<std::size_t>(filled), '=');
  if (current < target && filled > 0) bar.back() = '>';
  return " [" + bar + std::string(static_cast<std::size_t>(width - filled), '.') + "]";
}

// Counter, bar, timing and metrics shortened to at most `limit` characters, in that order of
// giving way: the bar narrows to 10, the per-step time goes, the bar goes, the timing goes, then
// metrics from the last.
std::string fitted_line(const std::string& counter, std::int64_t current, std::int64_t target,
                        const std::string& elapsed, const std::string& per_step, std::vector<std::string> metrics,
                        std::size_t limit) {
  constexpr int kFullBar = 30, kNarrowestBar = 10;
  std::string timing = elapsed + per_step;
  auto rest = [&] {
    std::size_t n = timing.size();
    for (const auto& m : metrics) n += m.size();
    return counter.size() + n;
  };
  auto joined = [&](const std::string& bar) {
    std::string line = counter + bar + timing;
    for (const auto& m : metrics) line += m;
    return line;
  };
  constexpr std::size_t kBarFrame = 3;  // " [" and "]"
  for (int pass = 0; pass < 2; ++pass) {
    if (rest() + kBarFrame + kFullBar <= limit) return joined(bar_text(current, target, kFullBar));
    if (rest() + kBarFrame + kNarrowestBar <= limit)
      return joined(bar_text(current, target, static_cast<int>(limit - rest() - kBarFrame)));
    if (pass == 0) timing = elapsed;  // per-step time first
  }
  if (rest() <= limit) return joined("");
  timing.clear();
  while (!metrics.empty() && rest() > limit) metrics.pop_back();
  return joined("").substr(0, limit);
}
}  // namespace

ProgbarLogger::ProgbarLogger(int verbose, std::FILE* out, int interactive)
    : verbose_(verbose), out_(out), interactive_(interactive < 0 ? isatty(fileno(out)) != 0 : interactive != 0) {
  CallbackAccess::set_type_name(*this, "ProgbarLogger");
}

std::string ProgbarLogger::format_value(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[48];
  if (v != 0.0 && std::fabs(v) < 1e-3) std::snprintf(buf, sizeof buf, "%.4e", v);
  else std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

void ProgbarLogger::start(std::int64_t target) {
  target_ = target;
  seen_ = 0;
  start_ = last_draw_ = Clock::now();
}

void ProgbarLogger::update(std::int64_t current, const Logs& logs, bool final) {
  const auto now = Clock::now();
  if (!final && (!interactive_ || verbose_ != 1 || now - last_draw_ < std::chrono::milliseconds(50))) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const int width = static_cast<int>(std::to_string(target_).size());
  char buf[128];
  std::snprintf(buf, sizeof buf, "%*lld/%lld", width, static_cast<long long>(current),
                static_cast<long long>(target_));
  const std::string counter = buf;
  std::string elapsed_text, per_step;
  if (final) {
    std::snprintf(buf, sizeof buf, " - %.0fs", elapsed);
    elapsed_text = buf;
    per_step = (verbose_ == 1 ? " " : " - ") + format_per_step(current > 0 ? elapsed / double(current) : 0.0);
  } else {
    const double eta = current > 0 ? elapsed / double(current) * double(target_ - current) : 0.0;
    elapsed_text = " - ETA: " + format_eta(eta);
  }
  std::vector<std::string> metrics;
  for (const auto& [key, value] : logs) metrics.push_back(" - " + key + ": " + format_value(value));
  if (interactive_ && verbose_ == 1) {
    // One column spare: a line filling the last column would wrap on some terminals.
    const std::size_t columns = terminal_columns(out_);
    const std::string line = fitted_line(counter, current, target_, elapsed_text, per_step, std::move(metrics),
                                         columns > 1 ? columns - 1 : 1);
    std::fprintf(out_, "\r%s\x1b[K", line.c_str());
  } else {
    std::string line = counter;
    if (verbose_ == 1) line += bar_text(current, target_, 30);
    line += elapsed_text + per_step;
    for (const auto& m : metrics) line += m;
    std::fputs(line.c_str(), out_);
  }
  if (final) std::fputc('\n', out_);
  std::fflush(out_);
}

void ProgbarLogger::on_train_begin(Logs&) { in_fit_ = true; }
void ProgbarLogger::on_train_end(Logs&) { in_fit_ = false; }

void ProgbarLogger::on_epoch_begin(int epoch, Logs&) {
  if (verbose_ == 0) return;
  std::fprintf(out_, "Epoch %d/%d\n", epoch + 1, params().epochs);
  std::fflush(out_);
  start(params().steps);
}

void ProgbarLogger::on_train_batch_end(std::int64_t batch, Logs& logs) {
  seen_ = batch + 1;
  if (verbose_ == 1 && interactive_) update(seen_, logs, false);
}

// Where the epoch ended: short of target_ when training stopped early.
void ProgbarLogger::on_epoch_end(int, Logs& logs) {
  if (verbose_ != 0) update(seen_ > 0 ? seen_ : target_, logs, true);
}

void ProgbarLogger::on_test_begin(Logs&) {
  if (!in_fit_ && verbose_ != 0) start(params().steps);
}

void ProgbarLogger::on_test_batch_end(std::int64_t batch, Logs& logs) {
  if (in_fit_) return;
  seen_ = batch + 1;
  if (verbose_ == 1 && interactive_) update(seen_, logs, false);
}

void ProgbarLogger::on_test_end(Logs& logs) {
  if (!in_fit_ && verbose_ != 0) update(target_, logs, true);
}

}  // namespace plugfit
