// Progress bars (core/progress.h): tqdm's layout and units; one line per live bar.
#include "core/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

namespace hfx::detail {

namespace {
std::string fmt_num(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}
}  // namespace

bool progress_bars_enabled() {
  const char* v = std::getenv("HF_HUB_DISABLE_PROGRESS_BARS");
  if (v && *v) {
    const std::string s(v);
    if (s != "0" && s != "false" && s != "False" && s != "FALSE") return false;
  }
  return ::isatty(2) == 1;
}

std::string format_size(double n) {
  for (const char* unit : {"", "k", "M", "G", "T", "P"}) {
    if (std::abs(n) < 999.5) {
      if (std::abs(n) < 99.95) {
        if (std::abs(n) < 9.995) return fmt_num(n, 2) + unit;
        return fmt_num(n, 1) + unit;
      }
      return fmt_num(n, 0) + unit;
    }
    n /= 1000;
  }
  return fmt_num(n, 1) + "E";
}

std::string format_interval(double seconds) {
  const long t = static_cast<long>(seconds);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%02ld:%02ld", t / 60, t % 60);
  return buf;
}

// The live bars and the lines they own: line i of `lines` slots above the cursor, which stays below the block.
struct ProgressBoard {
  std::mutex mu;
  std::vector<ProgressBar*> lines;  // nullptr: a finished bar's line (kept as drawn)

  void draw(ProgressBar& b) {  // mu held
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - b.start_).count();
    const double rate = secs > 0 ? static_cast<double>(b.done_) / secs : 0;
    std::string line = b.name_.size() > 40 ? "..." + b.name_.substr(b.name_.size() - 37) : b.name_;
    line += ": ";
    const bool bytes = b.unit_ == ProgressBar::Unit::Bytes;
    // tqdm: unit_scale sizes for bytes; plain counts and "it/s" (two decimals) for items.
    auto amount = [&](double v) { return bytes ? format_size(v) : std::to_string(static_cast<uint64_t>(v)); };
    auto speed = [&](double r) { return bytes ? format_size(r) + "B/s" : fmt_num(r, 2) + "it/s"; };
    if (b.total_ > 0) {
      const double frac = std::min(1.0, static_cast<double>(b.done_) / static_cast<double>(b.total_));
      char pct[8];
      std::snprintf(pct, sizeof pct, "%3d%%", static_cast<int>(frac * 100));
      const int width = 20, filled = static_cast<int>(frac * width);
      line += std::string(pct) + "|" + std::string(static_cast<std::size_t>(filled), '#') + std::string(static_cast<std::size_t>(width - filled), ' ') + "| ";
      line += amount(static_cast<double>(b.done_)) + "/" + amount(static_cast<double>(b.total_));
      const double eta = rate > 0 ? static_cast<double>(b.total_ - std::min(b.done_, b.total_)) / rate : 0;
      line += " [" + format_interval(secs) + "<" + (rate > 0 ? format_interval(eta) : std::string("?")) + ", " + speed(rate) + "]";
    } else {
      line += amount(static_cast<double>(b.done_)) + (bytes ? "B" : "it") + " [" + format_interval(secs) + ", " + speed(rate) + "]";
    }
    const int up = static_cast<int>(lines.size()) - b.slot_;
    std::fprintf(stderr, "\x1b[%dA\r%s\x1b[K\x1b[%dB\r", up, line.c_str(), up);
    std::fflush(stderr);
  }
};

namespace {
ProgressBoard& board() {
  static ProgressBoard b;
  return b;
}
}  // namespace

ProgressBar::ProgressBar(std::string name, bool enabled, Unit unit)
    : name_(std::move(name)), on_(enabled && progress_bars_enabled()), unit_(unit) {
  if (!on_) return;
  start_ = std::chrono::steady_clock::now();
  ProgressBoard& bd = board();
  std::lock_guard<std::mutex> g(bd.mu);
  slot_ = static_cast<int>(bd.lines.size());
  bd.lines.push_back(this);
  std::fputs("\n", stderr);  // the bar's own line
  bd.draw(*this);
}

ProgressBar::~ProgressBar() {
  if (!on_) return;
  ProgressBoard& bd = board();
  std::lock_guard<std::mutex> g(bd.mu);
  bd.draw(*this);
  bd.lines[static_cast<std::size_t>(slot_)] = nullptr;
  bool any = false;
  for (auto* p : bd.lines) any = any || p;
  if (!any) bd.lines.clear();  // every bar done: their lines stay printed; the next bars start below
}

void ProgressBar::update(uint64_t done, uint64_t total) {
  if (!on_) return;
  const auto now = std::chrono::steady_clock::now();
  done_ = done;
  total_ = total;
  if (!(total > 0 && done >= total) && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  ProgressBoard& bd = board();
  std::lock_guard<std::mutex> g(bd.mu);
  bd.draw(*this);
}

}  // namespace hfx::detail
