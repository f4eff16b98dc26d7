// The .npy header parser of the OpenAI GPT numpy release reader: an accepted
// header's data range must lie inside the input (touch its last byte).
#include <cstring>

#include "fuzz_util.h"
#include "io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hfx::fuzz::run([&] {
    const hfx::internal::NpyHeader h = hfx::internal::parse_npy_header(data, size, "fuzz.npy");
    if (h.data_offset > size || h.nbytes > size - h.data_offset) __builtin_trap();
    if (h.nbytes > 0) {
      volatile uint8_t last = data[h.data_offset + h.nbytes - 1];
      (void)last;
    }
  });
  return 0;
}
