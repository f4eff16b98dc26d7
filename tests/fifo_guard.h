// expect_fifo_refused: the guard of the FIFO tests (issue 24, defect 4), shared
// by bounded_input_test.cc and hub_test.cc.
#pragma once

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <string>

#include "hfx/error.h"

namespace hfx::testing {

// Runs f (expected to throw an hfx::Error containing `needle`) with a guard: if
// it is still blocked on the FIFO `fifo` after 10 s, the FIFO is opened from
// both sides (non-blocking) so that a call stuck in open() returns, and the
// test fails instead of hanging: FIFOs are refused, never awaited.
template <class F>
void expect_fifo_refused(const std::string& fifo, F&& f, const std::string& needle = "not a regular file") {
  auto fut = std::async(std::launch::async, [&] {
    try {
      f();
      return std::string("no error");
    } catch (const Error& e) {
      return std::string(e.what());
    }
  });
  if (fut.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "blocked on the FIFO " << fifo;
    for (int mode : {O_RDONLY, O_WRONLY}) {
      const int fd = ::open(fifo.c_str(), mode | O_NONBLOCK);
      if (fd >= 0) ::close(fd);
    }
  }
  const std::string what = fut.get();
  EXPECT_NE(what.find(needle), std::string::npos) << what;
}

}  // namespace hfx::testing
