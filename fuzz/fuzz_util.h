// Shared by the fuzz targets: write the input to a private temp file (the
// readers take paths, as the library does) and swallow hfx::Error, which is
// the expected outcome for malformed input. Anything else — a crash, a
// sanitizer report, another exception type — is a finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "hfx/error.h"

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

}  // namespace hfx::fuzz
