// Vectorised exp / erf / tanh for the element-wise kernels (softmax, GELU):
// scalar libm calls were a large share of an encoder forward (bench/results/bench.md).
// SLEEF (Debian libsleef-dev) supplies the vector functions, 1.0-ULP variants
// (u10); the library is compiled for x86-64-v3, so its AVX2 entry points are
// used; other targets fall back to the scalar libm loop.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#include <sleef.h>
#define HFX_VEC_AVX2 1
#endif

namespace hfx::cpu::vec {

#ifdef HFX_VEC_AVX2
inline __m256 exp8(__m256 x) { return Sleef_expf8_u10avx2(x); }
// erf: Abramowitz & Stegun 7.1.26 over SLEEF's exp, absolute error < 1.5e-7 (the
// formula PyTorch's own Vectorized<float>::erf uses). Sleef_erff8_u10avx2 is
// exact to 1 ULP but took 8 % of a BERT-base forward (perf, bench/results/bench.md);
// this is about 3x cheaper and far inside the 1e-5 parity budget.
inline __m256 erf8(__m256 x) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  const __m256 sign = _mm256_and_ps(x, sign_mask);
  const __m256 ax = _mm256_andnot_ps(sign_mask, x);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), ax, one));
  __m256 p = _mm256_set1_ps(1.061405429f);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
  p = _mm256_mul_ps(p, t);
  const __m256 e = Sleef_expf8_u10avx2(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(ax, ax)));
  return _mm256_or_ps(_mm256_fnmadd_ps(p, e, one), sign);
}
// tanh(x) = 1 - 2 / (exp(2x) + 1) over SLEEF's exp: absolute error < 3e-7 (relative
// error grows near 0, harmless in GELU's 1 + tanh); Sleef_tanhf8_u10avx2 ran at a
// quarter of the erf GELU's speed (bench/results/bench.md, BM_Gelu act:1).
inline __m256 tanh8(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 e = Sleef_expf8_u10avx2(_mm256_add_ps(x, x));
  return _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
}
#endif

// y[i] = exp(x[i] - shift); returns the sum of y.
inline float exp_shift_sum(float* x, int64_t n, float shift) {
  int64_t i = 0;
  float s = 0.0f;
#ifdef HFX_VEC_AVX2
  __m256 acc = _mm256_setzero_ps();
  const __m256 sh = _mm256_set1_ps(shift);
  for (; i + 8 <= n; i += 8) {
    __m256 v = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh));
    _mm256_storeu_ps(x + i, v);
    acc = _mm256_add_ps(acc, v);
  }
  alignas(32) float tmp[8];
  _mm256_store_ps(tmp, acc);
  for (float t : tmp) s += t;
#endif
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - shift);
    s += x[i];
  }
  return s;
}

// x = 0.5 x (1 + erf(x / sqrt 2)), with an optional bias added first (bias may be null).
inline void gelu_erf(float* x, int64_t n, const float* bias) {
  int64_t i = 0;
#ifdef HFX_VEC_AVX2
  const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f), rs2 = _mm256_set1_ps(0.70710678118654752f);
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + i));
    const __m256 e = erf8(_mm256_mul_ps(v, rs2));
    _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, e)));
  }
#endif
  for (; i < n; ++i) {
    const float v = x[i] + (bias ? bias[i] : 0.0f);
    x[i] = 0.5f * v * (1.0f + std::erf(v * 0.70710678118654752f));
  }
}

// x = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (gelu_new / gelu_pytorch_tanh), optional bias first.
inline void gelu_tanh(float* x, int64_t n, const float* bias) {
  int64_t i = 0;
#ifdef HFX_VEC_AVX2
  const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f), c0 = _mm256_set1_ps(0.7978845608028654f),
               c1 = _mm256_set1_ps(0.044715f);
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + i));
    const __m256 v3 = _mm256_mul_ps(_mm256_mul_ps(v, v), v);
    const __m256 t = tanh8(_mm256_mul_ps(c0, _mm256_fmadd_ps(c1, v3, v)));
    _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, t)));
  }
#endif
  for (; i < n; ++i) {
    const float v = x[i] + (bias ? bias[i] : 0.0f);
    x[i] = 0.5f * v * (1.0f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
  }
}

}  // namespace hfx::cpu::vec
