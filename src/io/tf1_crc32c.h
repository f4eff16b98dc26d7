// CRC32C (Castagnoli) and LevelDB's checksum masking, for the TF1 bundle
// reader: every table block trailer and every tensor's BundleEntryProto carry
// a masked CRC32C. Implemented here (SSE4.2's crc32 instruction, else lookup
// tables built at compile time) rather than taken from a library because it is ~40 lines and
// Debian ships no small, stable CRC32C library we could depend on.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hfx::internal {

// CRC32C of [data, data+n), continuing from `crc` (0 to start).
uint32_t crc32c_extend(uint32_t crc, const void* data, std::size_t n);
inline uint32_t crc32c(const void* data, std::size_t n) { return crc32c_extend(0, data, n); }
// The table-driven path, which crc32c_extend uses when the CPU lacks SSE4.2.
uint32_t crc32c_extend_tables(uint32_t crc, const void* data, std::size_t n);

// LevelDB/TF store CRCs "masked" (rotated and offset) so that a CRC of data
// that itself embeds CRCs stays well distributed (core/lib/hash/crc32c.h).
constexpr uint32_t kCrc32cMaskDelta = 0xa282ead8u;
constexpr uint32_t crc32c_mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kCrc32cMaskDelta; }
constexpr uint32_t crc32c_unmask(uint32_t masked) {
  const uint32_t rot = masked - kCrc32cMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace hfx::internal
