// hfx/export.h — HFX_API marks what libhfx.so exports.
//
// The library is compiled with hidden visibility (cmake/layers.cmake), so
// libhfx.so exports only the classes and functions of include/hfx/ that carry
// HFX_API; everything in src/ stays internal to it (smaller dynamic symbol
// table, faster loading, no internal name a user can come to depend on). The
// static library is unaffected: visibility only concerns dynamic exports.
#pragma once

#if defined(_WIN32)
#define HFX_API
#else
#define HFX_API __attribute__((visibility("default")))
#endif
