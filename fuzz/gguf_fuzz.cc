// GGUF: header, metadata of every type, tensor infos, dequantization (Q8_0 / Q4_0 / Q4_K), and the config a
// lone .gguf file would load with.
#include "fuzz_util.h"
#include "hfx/gguf.h"
#include "hfx/io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = hfx::fuzz::temp_file(data, size, ".gguf");
  hfx::fuzz::run([&] {
    auto src = hfx::open_gguf(path);
    for (const auto& e : src->entries()) {
      (void)hfx::fuzz::read_tensor(*src, e.name);  // get, touch the last element, bytes(), release()
    }
  });
  hfx::fuzz::run([&] { (void)hfx::gguf_config(path); });
  return 0;
}
