// Keras tf_model.h5 reader: libhdf5 parses the container (not ours); our
// wrapper — name lists, link walking, dtype/shape/storage validation, reads,
// and the TF -> canonical name rules — must turn every malformed input into
// hfx::Error, never a crash.
#include "fuzz_util.h"
#include "hfx/formats.h"

// libhdf5 is not instrumented and keeps (or leaks on some error paths)
// allocations of its own; only leaks in hfx code are findings.
extern "C" const char* __lsan_default_suppressions() { return "leak:libhdf5\nleak:H5"; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = hfx::fuzz::temp_file(data, size, ".h5");
  hfx::fuzz::run([&] {
    auto src = hfx::open_keras_h5(path);
    for (const auto& e : src->entries()) {
      if (e.shape.size() > 8) continue;
      hfx::Tensor t = src->get(e.name);
      if (t.numel() > 0) (void)t.item(t.numel() - 1);  // touch the last element of every tensor
    }
  });
  return 0;
}
