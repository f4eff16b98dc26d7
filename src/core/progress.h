// Internal: terminal progress bars as huggingface_hub draws them with tqdm ("name: 42%|####  | 12.3M/29.1M
// [00:03<00:04, 4.21MB/s]"). Drawn only when stderr is a terminal and HF_HUB_DISABLE_PROGRESS_BARS is not set;
// bars alive at the same time (parallel downloads) each keep their own line, redrawn in place with cursor
// moves, instead of overwriting one line in turn.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace hfx::detail {

// Whether bars may be drawn at all: stderr is a TTY and HF_HUB_DISABLE_PROGRESS_BARS is unset (or 0/false).
bool progress_bars_enabled();

class ProgressBar {
 public:
  // Bytes: sizes as tqdm's unit_scale ("12.3M/29.1M", "4.21MB/s"); Items: counts ("3/10", "2.50it/s").
  enum class Unit { Bytes, Items };
  // `enabled` false (or progress_bars_enabled() false): every call is a no-op.
  ProgressBar(std::string name, bool enabled, Unit unit = Unit::Bytes);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  // done of total (bytes or items; total 0: unknown); redrawn at most every 100 ms and at the end.
  void update(uint64_t done, uint64_t total);

 private:
  std::string name_;
  bool on_ = false;
  Unit unit_ = Unit::Bytes;
  int slot_ = -1;
  uint64_t done_ = 0, total_ = 0;
  std::chrono::steady_clock::time_point start_, last_{};
  friend struct ProgressBoard;
};

// "12.3M" as tqdm's format_sizeof (k, M, G, ... with 3 significant digits).
std::string format_size(double n);
// "01:05" / "1:02:03" as tqdm's format_interval.
std::string format_interval(double seconds);

}  // namespace hfx::detail
