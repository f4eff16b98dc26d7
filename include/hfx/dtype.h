// hfx/dtype.h — element types, described once.
//
// HFX_DTYPES is the single table of every dtype hfx knows: enum name, element
// size, and its spelling in torch, numpy, TensorFlow (DataType enum name) and
// safetensors. Everything else (parse, print, size) is generated from it, so a
// new dtype is one row. Spellings that a framework does not have are "".
//
// Also here: f16/bf16 <-> f32 conversion, round-to-nearest-even, with NaN,
// Inf and subnormals handled (exhaustively tested over all 65,536 inputs).
#pragma once

#include "hfx/export.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace hfx {

//        enum   size torch              numpy       tf            safetensors  is_float
#define HFX_DTYPES(X)                                                                 \
  X(F32,  4, "torch.float32",  "float32",  "DT_FLOAT",    "F32",  true)              \
  X(F16,  2, "torch.float16",  "float16",  "DT_HALF",     "F16",  true)              \
  X(BF16, 2, "torch.bfloat16", "bfloat16", "DT_BFLOAT16", "BF16", true)              \
  X(F64,  8, "torch.float64",  "float64",  "DT_DOUBLE",   "F64",  true)              \
  X(I64,  8, "torch.int64",    "int64",    "DT_INT64",    "I64",  false)             \
  X(I32,  4, "torch.int32",    "int32",    "DT_INT32",    "I32",  false)             \
  X(I16,  2, "torch.int16",    "int16",    "DT_INT16",    "I16",  false)             \
  X(I8,   1, "torch.int8",     "int8",     "DT_INT8",     "I8",   false)             \
  X(U8,   1, "torch.uint8",    "uint8",    "DT_UINT8",    "U8",   false)             \
  X(U16,  2, "torch.uint16",   "uint16",   "DT_UINT16",   "U16",  false)             \
  X(U32,  4, "torch.uint32",   "uint32",   "DT_UINT32",   "U32",  false)             \
  X(U64,  8, "torch.uint64",   "uint64",   "DT_UINT64",   "U64",  false)             \
  X(Bool, 1, "torch.bool",     "bool",     "DT_BOOL",     "BOOL", false)

enum class DType : uint8_t {
#define HFX_X(e, size, torch, numpy, tf, st, fl) e,
  HFX_DTYPES(HFX_X)
#undef HFX_X
};

struct HFX_API DTypeInfo {
  DType dtype;
  std::size_t size;
  std::string_view name;  // short hfx name, e.g. "F32"
  std::string_view torch, numpy, tf, safetensors;
  bool is_float;
};

HFX_API const DTypeInfo& info(DType d);
inline std::size_t dtype_size(DType d) { return info(d).size; }
inline bool is_floating(DType d) { return info(d).is_float; }
// numpy spelling ("float32"), which is also what config.json's torch_dtype uses.
HFX_API std::string_view to_string(DType d);

HFX_API std::optional<DType> dtype_from_safetensors(std::string_view s);
HFX_API std::optional<DType> dtype_from_torch(std::string_view s);  // "torch.float16" or "float16"
HFX_API std::optional<DType> dtype_from_numpy(std::string_view s);
HFX_API std::optional<DType> dtype_from_tf(std::string_view s);
// Accepts any of the spellings above plus "fp16", "half", "bf16", "fp32", "float".
HFX_API std::optional<DType> parse_dtype(std::string_view s);

// ---- half-precision conversions -------------------------------------------
inline uint32_t f32_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float bits_f32(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

inline float bf16_to_f32(uint16_t h) { return bits_f32(static_cast<uint32_t>(h) << 16); }

inline uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u)  // NaN: keep sign, force quiet
    return static_cast<uint16_t>((u >> 16) | 0x0040u);
  uint32_t lsb = (u >> 16) & 1u;
  return static_cast<uint16_t>((u + 0x7fffu + lsb) >> 16);
}

inline float f16_to_f32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (man << 13));  // Inf / NaN
  if (exp == 0) {
    if (man == 0) return bits_f32(sign);
    // subnormal: value = man * 2^-24, exact in f32
    float v = static_cast<float>(man) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  return bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

inline uint16_t f32_to_f16(float f) {
  uint32_t u = f32_bits(f);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));  // NaN
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65520: Inf
  if (a < 0x38800000u) {  // below the smallest normal f16 (2^-14): subnormal or zero
    if (a < 0x33000000u) return sign;  // < 2^-25 rounds to zero (2^-25 itself ties to even: 0)
    uint32_t e = a >> 23;
    uint32_t m = (a & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - e;  // bits to drop so that the unit is 2^-24
    uint32_t r = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (r & 1u))) ++r;
    return static_cast<uint16_t>(sign | r);
  }
  uint32_t r = a - 0x38000000u;  // rebias exponent 127 -> 15
  uint32_t lsb = (r >> 13) & 1u;
  r += 0xfffu + lsb;
  return static_cast<uint16_t>(sign | (r >> 13));
}

}  // namespace hfx
