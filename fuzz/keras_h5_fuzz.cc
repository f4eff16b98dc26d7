// Keras tf_model.h5 reader: libhdf5 parses the container (not ours); our
// wrapper — name lists, link walking, dtype/shape/storage validation, reads,
// and the TF -> canonical name rules — must turn every malformed input into
// hfx::Error, never a crash. That includes what libhdf5 1.10.8 itself would
// mis-read: hfx checks global heap IDs and attribute messages from the file's
// bytes first (src/io/keras_h5.cc RawChecks).
#include <vector>

#include "fuzz_util.h"
#include "hfx/formats.h"

// libhdf5 is not instrumented and keeps (or leaks on some error paths)
// allocations of its own; only leaks in hfx code are findings.
extern "C" const char* __lsan_default_suppressions() { return "leak:libhdf5\nleak:H5"; }

// libhdf5 allocates each metadata object's buffer at the size its header
// claims before reading it (H5C_load_entry: malloc, then a read that
// H5FD_read refuses past the end of allocation, which H5Fopen checked against
// the file's real size), and checks malloc's result: a claim of 0x5555...
// bytes in the root group's object header is a failed or untouched
// reservation, then an error — not a finding. So malloc may return null
// (hfx's own operator new still reports), and libFuzzer's per-malloc limit
// (which defaults to -rss_limit_mb) is raised to ASan's 1 TiB maximum;
// memory actually used stays bounded by -rss_limit_mb.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  static std::vector<char*> args;
  static char limit[] = "-malloc_limit_mb=1048576";
  args.assign(*argv, *argv + *argc);
  args.insert(args.begin() + 1, limit);  // before the caller's flags: an explicit one wins
  args.push_back(nullptr);
  *argc = static_cast<int>(args.size()) - 1;
  *argv = args.data();
  return 0;
}

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
