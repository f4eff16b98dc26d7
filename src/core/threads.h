// The thread count of hfx::set_num_threads for every calling thread (internal).
//
// OpenMP keeps the thread count per thread: omp_set_num_threads in one thread leaves a thread started later by
// the application (std::thread, a Python thread, a Ray actor's task thread) at OpenMP's default of one thread per
// core, so two callers would each run a full team (found by tests/thread_probe.cc under Helgrind). hfx keeps the
// count it was given and every entry that starts an OpenMP region or a oneDNN primitive (which reads the calling
// thread's count) calls sync_threads() first: one relaxed load and a thread-local compare when nothing changed.
#pragma once

#include <atomic>

namespace hfx::detail {

extern std::atomic<int> g_num_threads;  // 0: never set (OpenMP's default stands)
void apply_num_threads(int n);          // omp_set_num_threads for this thread

inline void sync_threads() {
  thread_local int applied = 0;
  const int n = g_num_threads.load(std::memory_order_relaxed);
  if (n > 0 && n != applied) {
    apply_num_threads(n);
    applied = n;
  }
}

}  // namespace hfx::detail
