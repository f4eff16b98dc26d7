// hfx/threads.h over OpenMP (oneDNN's CPU engine uses the OpenMP runtime's thread count too).
#include "hfx/threads.h"

#include <omp.h>

#include "hfx/error.h"

namespace hfx {

void set_num_threads(int n) {
  if (n <= 0) throw_error(ErrorKind::InvalidArgument, "the thread count must be positive, not " + std::to_string(n));
  omp_set_num_threads(n);
}

int num_threads() { return omp_get_max_threads(); }

}  // namespace hfx
