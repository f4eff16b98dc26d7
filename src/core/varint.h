// Protocol-buffers base-128 varints, read by the TF1 bundle reader (its table blocks and protos) and
// the sentencepiece model parser (ModelProto); internal, not installed. Header-only: the table
// reader calls them per entry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace hfx {

// Both return false on truncation and on overlong or overflowing encodings (more than 10 / 5 bytes,
// or a last byte with bits beyond 64 / 32); `p` is left past what was read.
inline bool read_varint64(const uint8_t*& p, const uint8_t* end, uint64_t& out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    const uint64_t b = *p++;
    if (shift == 63 && b > 1) return false;
    v |= (b & 0x7fu) << shift;
    if ((b & 0x80u) == 0) {
      out = v;
      return true;
    }
  }
  return false;
}

inline bool read_varint32(const uint8_t*& p, const uint8_t* end, uint32_t& out) {
  uint32_t v = 0;
  for (int shift = 0; shift < 35 && p < end; shift += 7) {
    const uint32_t b = *p++;
    if (shift == 28 && b > 0x0fu) return false;
    v |= (b & 0x7fu) << shift;
    if ((b & 0x80u) == 0) {
      out = v;
      return true;
    }
  }
  return false;
}

// The same over a string: reads at s[i], advancing i.
inline bool read_varint64(std::string_view s, std::size_t& i, uint64_t& out) {
  if (i > s.size()) return false;
  const auto* begin = reinterpret_cast<const uint8_t*>(s.data());
  const uint8_t* p = begin + i;
  if (!read_varint64(p, begin + s.size(), out)) return false;
  i = static_cast<std::size_t>(p - begin);
  return true;
}

}  // namespace hfx
