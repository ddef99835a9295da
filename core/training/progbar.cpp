#include "progbar.hpp"

#include "callback_access.hpp"

#include <cmath>
#include <unistd.h>

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
}  // namespace

ProgbarLogger::ProgbarLogger(int verbose, std::FILE* out, int interactive)
    : verbose_(verbose), out_(out), interactive_(interactive < 0 ? isatty(fileno(out)) != 0 : interactive != 0) {
  CallbackAccess::set_type_name(*this, "ProgbarLogger");
}

std::string ProgbarLogger::format_value(double v) {
  char buf[48];
  if (v != 0.0 && std::fabs(v) < 1e-3) std::snprintf(buf, sizeof buf, "%.4e", v);
  else std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

void ProgbarLogger::start(std::int64_t target) {
  target_ = target;
  start_ = last_draw_ = Clock::now();
}

void ProgbarLogger::update(std::int64_t current, const Logs& logs, bool final) {
  const auto now = Clock::now();
  if (!final && (!interactive_ || verbose_ != 1 || now - last_draw_ < std::chrono::milliseconds(50))) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const int width = static_cast<int>(std::to_string(target_).size());
  std::string line;
  char buf[128];
  std::snprintf(buf, sizeof buf, "%*lld/%lld", width, static_cast<long long>(current),
                static_cast<long long>(target_));
  line += buf;
  if (verbose_ == 1) {
    constexpr int kBar = 30;
    const int filled = target_ > 0 ? static_cast<int>(kBar * current / target_) : kBar;
    std::string bar(static_cast<std::size_t>(filled), '=');
    if (current < target_ && filled > 0) bar.back() = '>';
    line += " [" + bar + std::string(static_cast<std::size_t>(kBar - filled), '.') + "]";
  }
  if (final) {
    std::snprintf(buf, sizeof buf, " - %.0fs", elapsed);
    line += buf;
    line += (verbose_ == 1 ? " " : " - ") + format_per_step(current > 0 ? elapsed / double(current) : 0.0);
  } else {
    const double eta = current > 0 ? elapsed / double(current) * double(target_ - current) : 0.0;
    line += " - ETA: " + format_eta(eta);
  }
  for (const auto& [key, value] : logs) line += " - " + key + ": " + format_value(value);
  if (interactive_ && verbose_ == 1) std::fprintf(out_, "\r%s\x1b[K", line.c_str());
  else std::fputs(line.c_str(), out_);
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
  if (verbose_ == 1 && interactive_) update(batch + 1, logs, false);
}

void ProgbarLogger::on_epoch_end(int, Logs& logs) {
  if (verbose_ != 0) update(target_, logs, true);
}

void ProgbarLogger::on_test_begin(Logs&) {
  if (!in_fit_ && verbose_ != 0) start(params().steps);
}

void ProgbarLogger::on_test_batch_end(std::int64_t batch, Logs& logs) {
  if (!in_fit_ && verbose_ == 1 && interactive_) update(batch + 1, logs, false);
}

void ProgbarLogger::on_test_end(Logs& logs) {
  if (!in_fit_ && verbose_ != 0) update(target_, logs, true);
}

}  // namespace plugfit
