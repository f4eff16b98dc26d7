#include "fuzz_util.h"
#include "hfx/io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = hfx::fuzz::temp_file(data, size, ".safetensors");
  hfx::fuzz::run([&] {
    auto src = hfx::open_safetensors(path);
    for (const auto& e : src->entries()) {
      (void)hfx::fuzz::read_tensor(*src, e.name);  // get, touch the last element, bytes(), release()
    }
  });
  return 0;
}
