#include "fuzz_util.h"
#include "hfx/formats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = hfx::fuzz::temp_file(data, size, ".bin");
  hfx::fuzz::run([&] {
    auto src = hfx::open_torch_legacy(path);
    for (const auto& e : src->entries()) {
      hfx::Tensor t = src->get(e.name);
      if (t.numel() > 0) (void)t.item(t.numel() - 1);  // touch the last element of every tensor
    }
  });
  return 0;
}
