// hfx/threads.h — how many CPU threads hfx's kernels use (OpenMP and the GEMM library).
#pragma once

namespace hfx {

// n > 0: use n threads from now on; the default is OpenMP's (OMP_NUM_THREADS, else one per core).
void set_num_threads(int n);
int num_threads();

}  // namespace hfx
