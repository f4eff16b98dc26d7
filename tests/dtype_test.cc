#include <gtest/gtest.h>

#include <cstring>

#include <cmath>

#include "hfx/dtype.h"
#include "hfx/tensor.h"

using namespace hfx;

TEST(DType, TableSpellings) {
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_EQ(*dtype_from_safetensors("BF16"), DType::BF16);
  EXPECT_EQ(*dtype_from_torch("torch.float16"), DType::F16);
  EXPECT_EQ(*dtype_from_torch("float16"), DType::F16);
  EXPECT_EQ(*dtype_from_tf("DT_HALF"), DType::F16);
  EXPECT_EQ(*dtype_from_numpy("int64"), DType::I64);
  EXPECT_EQ(*parse_dtype("bf16"), DType::BF16);
  EXPECT_FALSE(dtype_from_safetensors("F8_E4M3").has_value());
  EXPECT_EQ(to_string(DType::F32), "float32");
}

// f16 -> f32 over all 65,536 inputs, against the compiler's _Float16.
TEST(DType, F16ToF32Exhaustive) {
  for (uint32_t i = 0; i < 65536; ++i) {
    uint16_t h = static_cast<uint16_t>(i);
    _Float16 ref;
    std::memcpy(&ref, &h, 2);
    float want = static_cast<float>(ref);
    float got = f16_to_f32(h);
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << i;
      ASSERT_EQ(std::signbit(got), std::signbit(want)) << i;
    } else {
      ASSERT_EQ(f32_bits(got), f32_bits(want)) << i;
    }
  }
}

// f32 -> f16 round-to-nearest-even: every f16 value, the midpoints to its
// neighbour (ties) and points just off the midpoints, against _Float16.
TEST(DType, F32ToF16Exhaustive) {
  auto check = [](float f) {
    _Float16 ref = static_cast<_Float16>(f);
    uint16_t want;
    std::memcpy(&want, &ref, 2);
    uint16_t got = f32_to_f16(f);
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(f16_to_f32(got)));
    } else {
      ASSERT_EQ(got, want) << "f=" << f << " bits=" << std::hex << f32_bits(f);
    }
  };
  for (uint32_t i = 0; i < 65536; ++i) {
    float a = f16_to_f32(static_cast<uint16_t>(i));
    check(a);
    if (std::isnan(a) || std::isinf(a)) continue;
    float b = f16_to_f32(static_cast<uint16_t>(i + 1 < 65536 ? i + 1 : i));
    if (std::isnan(b)) continue;
    double mid = (static_cast<double>(a) + static_cast<double>(b)) / 2;
    float m = static_cast<float>(mid);
    check(m);
    check(std::nextafter(m, INFINITY));
    check(std::nextafter(m, -INFINITY));
  }
  check(65520.0f);   // ties to even -> Inf
  check(65519.99f);  // -> 65504
  check(1e-8f);
  check(-2.98023224e-8f);  // exactly 2^-25: ties to zero
  check(std::numeric_limits<float>::denorm_min());
}

// f32 -> bf16: every bf16 value round-trips; midpoints tie to even; NaN stays NaN.
TEST(DType, BF16Exhaustive) {
  for (uint32_t i = 0; i < 65536; ++i) {
    uint16_t h = static_cast<uint16_t>(i);
    float f = bf16_to_f32(h);
    ASSERT_EQ(f32_bits(f), static_cast<uint32_t>(h) << 16);
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(f))));
      continue;
    }
    ASSERT_EQ(f32_to_bf16(f), h) << i;
    if ((i & 0x7fff) >= 0x7f7f) continue;  // next value is Inf/NaN
    // Midpoint between h and h+1 (same sign): ties to the even one.
    uint32_t mid_bits = (static_cast<uint32_t>(h) << 16) | 0x8000u;
    uint16_t even = (h & 1) ? static_cast<uint16_t>(h + 1) : h;
    ASSERT_EQ(f32_to_bf16(bits_f32(mid_bits)), even) << i;
    ASSERT_EQ(f32_to_bf16(bits_f32(mid_bits + 1)), static_cast<uint16_t>(h + 1)) << i;
    ASSERT_EQ(f32_to_bf16(bits_f32(mid_bits - 1)), h) << i;
  }
}

// Tensor::clone of a transposed view (TF kernels, Linear weights): every
// element lands where the strides say, for 2/4/8-byte elements and sizes on
// and off the 8 x 8 register-transpose and 32 x 32 tile grids; bit patterns
// (NaN payloads) are copied exactly.
TEST(Tensor, CloneOfTransposedViewsIsExact) {
  uint32_t seed = 12345;
  auto next = [&seed] { return seed = seed * 1664525u + 1013904223u; };
  for (DType dt : {DType::F32, DType::I32, DType::F16, DType::F64}) {
    for (int64_t rows : {1, 7, 8, 9, 31, 32, 33, 64, 77}) {
      for (int64_t cols : {1, 8, 15, 40, 96, 101}) {
        Tensor a = Tensor::zeros(dt, {rows, cols});
        auto* b = static_cast<uint8_t*>(a.mutable_raw());
        for (std::size_t i = 0; i < a.nbytes(); ++i) b[i] = static_cast<uint8_t>(next() >> 24);
        const std::size_t es = dtype_size(dt);
        for (const Tensor& v : {a.transpose(0, 1), a.transpose(0, 1).transpose(0, 1)}) {
          const Tensor c = v.clone();
          ASSERT_TRUE(c.is_contiguous());
          ASSERT_EQ(c.shape(), v.shape());
          const auto* src = static_cast<const uint8_t*>(a.raw());
          const auto* out = static_cast<const uint8_t*>(c.raw());
          for (int64_t r = 0; r < v.size(0); ++r)
            for (int64_t k = 0; k < v.size(1); ++k) {
              const int64_t at = r * v.strides()[0] + k * v.strides()[1];
              ASSERT_EQ(std::memcmp(out + static_cast<std::size_t>(r * v.size(1) + k) * es, src + static_cast<std::size_t>(at) * es, es), 0)
                  << to_string(dt) << " " << rows << "x" << cols << " at " << r << "," << k;
            }
        }
      }
    }
  }
}
