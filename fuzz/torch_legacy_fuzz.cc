#include "fuzz_util.h"
#include "hfx/formats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = hfx::fuzz::temp_file(data, size, ".bin");
  hfx::fuzz::run([&] {
    auto src = hfx::open_torch_legacy(path);
    for (const auto& e : src->entries()) {
      (void)hfx::fuzz::read_tensor(*src, e.name);  // get, touch the last element, bytes(), release()
    }
  });
  return 0;
}
