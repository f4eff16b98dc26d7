// hfx/threads.h over OpenMP (oneDNN's CPU engine uses the OpenMP runtime's thread count too); core/threads.h
// carries the count to threads the application starts later.
#include "hfx/threads.h"

#include <omp.h>

#include "core/threads.h"
#include "hfx/error.h"

namespace hfx {
namespace detail {

std::atomic<int> g_num_threads{0};

void apply_num_threads(int n) { omp_set_num_threads(n); }

}  // namespace detail

void set_num_threads(int n) {
  if (n <= 0) throw_error(ErrorKind::InvalidArgument, "the thread count must be positive, not " + std::to_string(n));
  detail::g_num_threads.store(n, std::memory_order_relaxed);
  omp_set_num_threads(n);
}

int num_threads() {
  detail::sync_threads();
  return omp_get_max_threads();
}

}  // namespace hfx
