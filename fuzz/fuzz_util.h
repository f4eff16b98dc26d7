// Shared by the fuzz targets: write the input to a private temp file (the
// readers take paths, as the library does) and swallow hfx::Error, which is
// the expected outcome for malformed input. Anything else — a crash, a
// sanitizer report, another exception type — is a finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "hfx/error.h"
#include "hfx/io.h"

namespace hfx::fuzz {

inline std::string temp_file(const uint8_t* data, size_t size, const char* suffix) {
  static std::string path = [&] {
    return std::string("/tmp/hfx-fuzz-") + std::to_string(getpid()) + suffix;
  }();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return path;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  return path;
}

template <class F>
void run(F&& f) {
  try {
    f();
  } catch (const hfx::Error&) {
  }
}

// Reads tensor `name` of `src` as a conversion does: get(), touching its last
// element; bytes() in place must be exactly get()'s bytes (else a finding);
// then release().
inline hfx::Tensor read_tensor(const hfx::TensorSource& src, const std::string& name) {
  hfx::Tensor t = src.get(name);
  if (t.numel() > 0) (void)t.item(t.numel() - 1);
  const hfx::TensorSource::Bytes b = src.bytes(name);
  if (b.data) {
    const hfx::Tensor c = t.contiguous();
    if (b.size != c.nbytes() || std::memcmp(b.data, c.raw(), b.size) != 0) __builtin_trap();
  }
  src.release(name);
  return t;
}

}  // namespace hfx::fuzz
