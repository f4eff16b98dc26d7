// Fuzzes the TF1 bundle index parser: the input is written as <tmp>.index
// next to a small fixed data file (<tmp>.data-00000-of-00001, bytes 0..63),
// then opened and every listed tensor read (so entries whose offset, size and
// CRC happen to fit the data file reach the view/copy path too). Seeds in
// fuzz/corpus/tf1_bundle/ include an index written by TensorFlow whose tensors
// tile exactly that data file (tools/fixtures/tf1_samples.py --fuzz-seed).
#include <cstdio>
#include <string>

#include "fuzz_util.h"
#include "hfx/formats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string index = hfx::fuzz::temp_file(data, size, ".index");
  const std::string prefix = index.substr(0, index.size() - 6);
  static const bool data_written = [&] {
    unsigned char bytes[64];
    for (int i = 0; i < 64; ++i) bytes[i] = static_cast<unsigned char>(i);
    FILE* f = std::fopen((prefix + ".data-00000-of-00001").c_str(), "wb");
    if (!f) return false;
    std::fwrite(bytes, 1, sizeof bytes, f);
    std::fclose(f);
    return true;
  }();
  (void)data_written;
  hfx::fuzz::run([&] {
    auto src = hfx::open_tf1_checkpoint(prefix);
    for (const auto& e : src->entries()) {
      (void)hfx::fuzz::read_tensor(*src, e.name);  // get, touch the last element, bytes(), release()
    }
    (void)src->metadata();
  });
  return 0;
}
