// core/progress.h: tqdm's units and intervals; bars only on a terminal and never with HF_HUB_DISABLE_PROGRESS_BARS.
#include <gtest/gtest.h>

#include <cstdlib>

#include "core/progress.h"

namespace hfx::detail {
namespace {

TEST(Progress, TqdmUnitsAndIntervals) {
  EXPECT_EQ(format_size(0), "0.00");
  EXPECT_EQ(format_size(999), "999");
  EXPECT_EQ(format_size(1234567), "1.23M");
  EXPECT_EQ(format_size(45.6e9), "45.6G");
  EXPECT_EQ(format_interval(65), "01:05");
  EXPECT_EQ(format_interval(3723), "1:02:03");
}

TEST(Progress, DisabledByTheEnvironment) {
  setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1", 1);
  EXPECT_FALSE(progress_bars_enabled());
  unsetenv("HF_HUB_DISABLE_PROGRESS_BARS");
  ProgressBar b("x", true);  // stderr of a test is no terminal: nothing drawn, nothing thrown
  b.update(1, 2);
}

}  // namespace
}  // namespace hfx::detail
