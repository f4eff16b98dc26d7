// hfx/threads.h — how many CPU threads hfx's kernels use (OpenMP and the GEMM library).
#pragma once

#include "hfx/export.h"

namespace hfx {

// n > 0: use n threads from now on; the default is OpenMP's (OMP_NUM_THREADS, else one per core).
HFX_API void set_num_threads(int n);
HFX_API int num_threads();

}  // namespace hfx
