// Keras tf_model.h5 reader: libhdf5 parses the container (not ours); our
// wrapper — name lists, link walking, dtype/shape/storage validation, reads,
// and the TF -> canonical name rules — must turn every malformed input into
// hfx::Error, never a crash. That includes what libhdf5 1.10.8 itself would
// mis-read: hfx checks global heap IDs and attribute messages from the file's
// bytes first (src/io/keras_h5.cc RawChecks), and it reads chunked datasets
// itself (read_chunked: 1.10.8's H5Dread over-reads chunks that hold too little).
#include "fuzz_util.h"
#include "hfx/formats.h"

// libhdf5 is not instrumented and keeps (or leaks on some error paths)
// allocations of its own; only leaks in hfx code are findings.
extern "C" const char* __lsan_default_suppressions() { return "leak:libhdf5\nleak:H5"; }

// libhdf5 allocates each metadata object's buffer at the size its header
// claims before reading it (H5C_load_entry: malloc, then a read that
// H5FD_read refuses past the end of allocation, which H5Fopen checked against
// the file's real size), and checks malloc's result: a claim of 0x5555...
// bytes in the root group's object header (ohdr_huge_size.h5) is an error,
// not a finding. So an allocation over 1 GiB fails (returns null) here as it
// may in production; hfx's own operator new still reports one. (Letting such
// untouched reservations succeed is no better: ASan's shadow for them is real
// memory, 1/8 of their size.)
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1:max_allocation_size_mb=1024"; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = hfx::fuzz::temp_file(data, size, ".h5");
  hfx::fuzz::run([&] {
    auto src = hfx::open_keras_h5(path);
    for (const auto& e : src->entries()) {
      if (e.shape.size() > 8) continue;
      (void)hfx::fuzz::read_tensor(*src, e.name);  // get, touch the last element, bytes(), release()
    }
  });
  return 0;
}
