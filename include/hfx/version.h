// hfx/version.h — the library's version (CMakeLists.txt's project(hfx VERSION ...); a test keeps them equal)
// and the transformers release whose behaviour it follows.
#pragma once

namespace hfx {

inline constexpr const char* kVersion = "0.1.0";
inline constexpr const char* kTransformersReference = "4.46.3";

}  // namespace hfx
