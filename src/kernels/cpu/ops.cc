#include "kernels/cpu/ops.h"

#include "kernels/cpu/lowp.h"
#include "kernels/cpu/vec_math.h"

#include "core/threads.h"

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace hfx::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 14;  // elements below which threading costs more than it saves

void widen_rows(const Tensor& t, int64_t row0, int64_t nrows, int64_t cols, float* out) {
  const int64_t n = nrows * cols;
  if (t.dtype() == DType::F16) {
    const uint16_t* s = t.data<uint16_t>() + row0 * cols;
    for (int64_t i = 0; i < n; ++i) out[i] = f16_to_f32(s[i]);
  } else if (t.dtype() == DType::BF16) {
    const uint16_t* s = t.data<uint16_t>() + row0 * cols;
    for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_f32(s[i]);
  } else if (t.dtype() == DType::F32) {
    std::copy_n(t.data<float>() + row0 * cols, n, out);
  } else {
    throw_error(ErrorKind::Unsupported, "kernel weight dtype " + std::string(to_string(t.dtype())));
  }
}
}  // namespace

const float* as_f32(const Tensor& t, std::vector<float>& scratch) {
  if (t.dtype() == DType::F32 && t.is_contiguous()) return t.data<float>();
  Tensor c = t.contiguous();
  scratch.resize(static_cast<std::size_t>(c.numel()));
  widen_rows(c, 0, 1, c.numel(), scratch.data());
  return scratch.data();
}

// oneDNN's sgemm: measured fastest on our shapes (bench/results/blas.md:
// up to 2x OpenBLAS 0.3.21 on this AVX-512 machine, BLIS generic far behind).
// Row-major, like the rest of hfx.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  hfx::detail::sync_threads();
  if (dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) != dnnl_success)
    throw_error(ErrorKind::InvalidArgument, "gemm: oneDNN rejected the shapes");
}

void linear(const float* x, int64_t rows, int64_t in, const Tensor& W, const Tensor& bias, float* y,
            bool w_in_major) {
  hfx::detail::sync_threads();
  const int64_t out = w_in_major ? W.size(1) : W.size(0);
  std::vector<float> wide;
  const float* w;
  Tensor wc = W.contiguous();
  if (wc.dtype() == DType::F32) {
    w = wc.data<float>();
  } else {
    wide.resize(static_cast<std::size_t>(wc.numel()));
    widen_rows(wc, 0, 1, wc.numel(), wide.data());
    w = wide.data();
  }
  if (w_in_major) {
    gemm(false, false, rows, out, in, 1.0f, x, in, w, out, 0.0f, y, out);
  } else if (rows >= 16 && rows <= 256) {
    // W [out, in] as stored: oneDNN's row-major NT sgemm reaches only 166-333 GFLOP/s
    // on these shapes at 2 threads, while the transposed product y^T = W x^T runs at
    // 350-440 (measured, bench/results/bench.md); y^T [out, rows] is then transposed
    // back, a small pass. This is the path until PackedWeight has a transpose.
    thread_local std::vector<float> yt;
    yt.resize(static_cast<std::size_t>(out * rows));
    gemm(false, true, out, rows, in, 1.0f, w, in, x, in, 0.0f, yt.data(), rows);
    const float* t = yt.data();  // this thread's buffer, read by the whole team below
    constexpr int64_t kTile = 32;
#pragma omp parallel for collapse(2) if (rows * out > kParallelMin)
    for (int64_t r0 = 0; r0 < rows; r0 += kTile)
      for (int64_t o0 = 0; o0 < out; o0 += kTile)
        for (int64_t r = r0; r < std::min(rows, r0 + kTile); ++r)
          for (int64_t o = o0; o < std::min(out, o0 + kTile); ++o) y[r * out + o] = t[o * rows + r];
  } else {
    gemm(false, true, rows, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
  }
  if (bias.defined()) add_bias_rows(y, rows, out, bias);
}

const float* PackedWeight::get(const Tensor& W, int64_t rows) {
  hfx::detail::sync_threads();
  if (W.dim() != 2) return nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  const bool same = src_.defined() && src_.raw() == W.raw() && src_.shape() == W.shape() && src_.dtype() == W.dtype() &&
                    src_.strides() == W.strides();
  // Once packed, every call reads the packed copy (decode-sized ones too): it is the one copy kept resident.
  if (same && !t_.empty()) return t_.data();
  if (rows < kMinRows) return nullptr;
  if (!same) {
    src_ = W;
    t_.clear();
    uses_ = 0;
  }
  if (++uses_ < 2) return nullptr;
  const int64_t out = W.size(0), in = W.size(1);
  std::vector<float> wide;
  const float* w = as_f32(W, wide);
  t_.resize(static_cast<std::size_t>(out * in));
  constexpr int64_t kTile = 32;  // transpose in tiles: both sides stay in cache
#pragma omp parallel for collapse(2) if (out * in > kParallelMin)
  for (int64_t o0 = 0; o0 < out; o0 += kTile)
    for (int64_t i0 = 0; i0 < in; i0 += kTile)
      for (int64_t o = o0; o < std::min(out, o0 + kTile); ++o)
        for (int64_t i = i0; i < std::min(in, i0 + kTile); ++i) t_[static_cast<std::size_t>(i * out + o)] = w[o * in + i];
  release_stored(W);  // one resident copy of the weight (lowp.h)
  return t_.data();
}

void linear(const float* x, int64_t rows, int64_t in, const Tensor& W, const Tensor& bias, float* y, PackedWeight* pack) {
  hfx::detail::sync_threads();  // before oneDNN primitives and OpenMP regions (core/threads.h)
  // Low precision first (kernels/cpu/lowp.cc); each returns false where oneDNN cannot run it here.
  if (pack && pack->int8() && linear_int8(x, rows, in, W, bias, y, *pack)) return;
  if (pack && W.dtype() == DType::BF16 && linear_bf16(x, rows, in, W, bias, y, *pack)) return;
  const float* t = pack ? pack->get(W, rows) : nullptr;
  if (!t) {
    linear(x, rows, in, W, bias, y);
    return;
  }
  const int64_t out = W.size(0);
  gemm(false, false, rows, out, in, 1.0f, x, in, t, out, 0.0f, y, out);
  if (bias.defined()) add_bias_rows(y, rows, out, bias);
}

void embedding(const int64_t* ids, int64_t n, const Tensor& table, float* out) {
  const int64_t dim = table.size(1);
  for (int64_t i = 0; i < n; ++i) widen_rows(table, ids[i], 1, dim, out + i * dim);
}

void embedding_add(const int64_t* ids, int64_t n, const Tensor& table, float* out) {
  const int64_t dim = table.size(1);
  std::vector<float> row(static_cast<std::size_t>(dim));
  for (int64_t i = 0; i < n; ++i) {
    widen_rows(table, ids[i], 1, dim, row.data());
    float* o = out + i * dim;
    for (int64_t j = 0; j < dim; ++j) o[j] += row[static_cast<std::size_t>(j)];
  }
}

void layer_norm(float* x, int64_t rows, int64_t dim, const Tensor& gamma, const Tensor& beta, float eps) {
  hfx::detail::sync_threads();
  std::vector<float> gs, bs;
  const float* g = as_f32(gamma, gs);
  const float* b = beta.defined() ? as_f32(beta, bs) : nullptr;
#pragma omp parallel for if (rows * dim > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    float* p = x + r * dim;
    double mean = 0;
#pragma omp simd reduction(+ : mean)
    for (int64_t j = 0; j < dim; ++j) mean += p[j];
    mean /= static_cast<double>(dim);
    double var = 0;
#pragma omp simd reduction(+ : var)
    for (int64_t j = 0; j < dim; ++j) {
      double d = p[j] - mean;
      var += d * d;
    }
    var /= static_cast<double>(dim);
    const float inv = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
    const float m = static_cast<float>(mean);
    if (b) {
#pragma omp simd
      for (int64_t j = 0; j < dim; ++j) p[j] = (p[j] - m) * inv * g[j] + b[j];
    } else {
#pragma omp simd
      for (int64_t j = 0; j < dim; ++j) p[j] = (p[j] - m) * inv * g[j];
    }
  }
}

void rms_norm(float* x, int64_t rows, int64_t dim, const Tensor& gamma, float eps) {
  hfx::detail::sync_threads();
  std::vector<float> gs;
  const float* g = as_f32(gamma, gs);
#pragma omp parallel for if (rows * dim > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    float* p = x + r * dim;
    double ss = 0;
    for (int64_t j = 0; j < dim; ++j) ss += static_cast<double>(p[j]) * p[j];
    const float inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(dim) + static_cast<double>(eps)));
    for (int64_t j = 0; j < dim; ++j) p[j] = g[j] * (p[j] * inv);
  }
}

void activate(float* x, int64_t n, Activation act) {
  hfx::detail::sync_threads();
  switch (act) {
    case Activation::GeluErf:
    case Activation::GeluTanh:
      bias_activate(x, 1, n, Tensor(), act);
      return;
    case Activation::GeluFast:
#pragma omp parallel for if (n > kParallelMin)
      for (int64_t i = 0; i < n; ++i) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + std::tanh(v * 0.7978845608f * (1.0f + 0.044715f * v * v)));
      }
      return;
    case Activation::QuickGelu:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-1.702f * x[i]));
      return;
    case Activation::Relu:
      for (int64_t i = 0; i < n; ++i) x[i] = std::max(x[i], 0.0f);
      return;
    case Activation::Silu:
#pragma omp parallel for if (n > kParallelMin)
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-x[i]));
      return;
    case Activation::Tanh:
      for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i]);
      return;
    case Activation::Sigmoid:
      for (int64_t i = 0; i < n; ++i) x[i] = 1.0f / (1.0f + std::exp(-x[i]));
      return;
    case Activation::Mish:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] * std::tanh(std::log1p(std::exp(x[i])));
      return;
    case Activation::Identity:
      return;
    case Activation::GeluClip10:
      for (int64_t i = 0; i < n; ++i) x[i] = std::clamp(0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f)), -10.0f, 10.0f);
      return;
    case Activation::Laplace:
      for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * (1.0f + std::erf((x[i] - 0.707107f) / (0.282095f * 1.41421356237309505f)));
      return;
    case Activation::LeakyRelu:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] >= 0 ? x[i] : 0.01f * x[i];
      return;
    case Activation::Relu2:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] > 0 ? x[i] * x[i] : 0.0f;
      return;
    case Activation::Relu6:
      for (int64_t i = 0; i < n; ++i) x[i] = std::clamp(x[i], 0.0f, 6.0f);
      return;
  }
}

void add_inplace(float* x, const float* y, int64_t n) {
  hfx::detail::sync_threads();
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void scale_inplace(float* x, int64_t n, float s) {
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

void add_bias_rows(float* x, int64_t rows, int64_t dim, const Tensor& bias) {
  hfx::detail::sync_threads();
  std::vector<float> bs;
  const float* b = as_f32(bias, bs);
#pragma omp parallel for if (rows * dim > kParallelMin)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < dim; ++j) x[r * dim + j] += b[j];
}

namespace {
// One row of softmax in place, with an optional additive bias row and a final multiplier.
inline void softmax_row(float* p, int64_t n, const float* bias, float mult) {
  float m = -INFINITY;
  if (bias) {
    for (int64_t j = 0; j < n; ++j) {
      p[j] += bias[j];
      m = std::max(m, p[j]);
    }
  } else {
    for (int64_t j = 0; j < n; ++j) m = std::max(m, p[j]);
  }
  if (m == -INFINITY) {  // all -inf: torch gives NaN; keep it finite and uniform-free
    std::fill_n(p, n, 0.0f);
    return;
  }
  const float inv = mult / vec::exp_shift_sum(p, n, m);
  for (int64_t j = 0; j < n; ++j) p[j] *= inv;
}
}  // namespace

void softmax_rows(float* x, int64_t rows, int64_t n) {
  hfx::detail::sync_threads();
#pragma omp parallel for if (rows * n > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) softmax_row(x + r * n, n, nullptr, 1.0f);
}

void bias_activate(float* x, int64_t rows, int64_t dim, const Tensor& bias, Activation act) {
  hfx::detail::sync_threads();
  std::vector<float> bs;
  const float* b = bias.defined() ? as_f32(bias, bs) : nullptr;
  if (act != Activation::GeluErf && act != Activation::GeluTanh) {
    if (b) add_bias_rows(x, rows, dim, bias);
    activate(x, rows * dim, act);
    return;
  }
  // Rows of the FFN's [tokens, intermediate] buffer, split into chunks so a
  // single long vector (activate()) parallelises too.
  const int64_t chunk = b ? dim : std::min<int64_t>(rows * dim, 4096);
  const int64_t nchunks = b ? rows : (rows * dim + chunk - 1) / chunk;
#pragma omp parallel for if (rows * dim > kParallelMin)
  for (int64_t c = 0; c < nchunks; ++c) {
    float* p = x + c * chunk;
    const int64_t n = std::min(chunk, rows * dim - c * chunk);
    if (act == Activation::GeluErf)
      vec::gelu_erf(p, n, b);
    else
      vec::gelu_tanh(p, n, b);
  }
}

void add_bias_residual(float* x, int64_t rows, int64_t dim, const Tensor& bias, const float* residual) {
  hfx::detail::sync_threads();
  std::vector<float> bs;
  const float* b = bias.defined() ? as_f32(bias, bs) : nullptr;
#pragma omp parallel for if (rows * dim > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    float* p = x + r * dim;
    const float* q = residual + r * dim;
    if (b)
      for (int64_t j = 0; j < dim; ++j) p[j] += b[j] + q[j];
    else
      for (int64_t j = 0; j < dim; ++j) p[j] += q[j];
  }
}

// Per (batch, head): scores = scale * Q K^T through the GEMM (one call per head,
// Q/K read in place at their row strides), then bias + softmax + head mask fused
// per row, then out = P V through the GEMM. Short query blocks (incremental
// decode) use vector loops instead: a GEMM call per head costs more than the work.
// Called inside the OpenMP region, oneDNN runs each GEMM on the calling thread.
void attention(const AttentionArgs& a) {
  hfx::detail::sync_threads();
  const int64_t HD = a.H * a.D;
  const bool use_gemm = a.Sq >= 4;
#pragma omp parallel if (a.B * a.H > 1 && a.Sq * a.Sk * a.D > 4096)
  {
    thread_local std::vector<float> scores;
    if (scores.size() < static_cast<std::size_t>(a.Sq * a.Sk)) scores.resize(static_cast<std::size_t>(a.Sq * a.Sk));
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < a.B; ++b) {
      for (int64_t h = 0; h < a.H; ++h) {
        const float* q = a.q + b * a.q_bs + h * a.D;
        const float* k = a.k + b * a.k_bs + (h / a.group) * a.D;
        const float* v = a.v + b * a.v_bs + (h / a.group) * a.D;
        float* s = scores.data();
        float* o = a.out + b * a.Sq * HD + h * a.D;
        if (use_gemm) {
          gemm(false, true, a.Sq, a.Sk, a.D, a.scale, q, a.q_ss, k, a.k_ss, 0.0f, s, a.Sk);
        } else {
          for (int64_t i = 0; i < a.Sq; ++i) {
            const float* qi = q + i * a.q_ss;
            for (int64_t j = 0; j < a.Sk; ++j) {
              const float* kj = k + j * a.k_ss;
              float acc = 0;
#pragma omp simd reduction(+ : acc)
              for (int64_t d = 0; d < a.D; ++d) acc += qi[d] * kj[d];
              s[i * a.Sk + j] = acc * a.scale;
            }
          }
        }
        if (a.softcap > 0.0f)  // (scores / cap).tanh() * cap, as Gemma2Attention does before adding the mask
          for (int64_t i = 0; i < a.Sq * a.Sk; ++i) s[i] = std::tanh(s[i] / a.softcap) * a.softcap;
        const float mult = a.head_mask ? a.head_mask[h] : 1.0f;
        for (int64_t i = 0; i < a.Sq; ++i)
          softmax_row(s + i * a.Sk, a.Sk, a.bias ? a.bias + b * a.bias_bs + h * a.bias_hs + i * a.bias_qs : nullptr, mult);
        if (a.probs) std::copy_n(s, a.Sq * a.Sk, a.probs + ((b * a.H + h) * a.Sq) * a.Sk);
        if (use_gemm) {
          gemm(false, false, a.Sq, a.D, a.Sk, 1.0f, s, a.Sk, v, a.v_ss, 0.0f, o, HD);
        } else {
          for (int64_t i = 0; i < a.Sq; ++i) {
            float* oi = o + i * HD;
            std::fill_n(oi, a.D, 0.0f);
            for (int64_t j = 0; j < a.Sk; ++j) {
              const float p = s[i * a.Sk + j];
              const float* vj = v + j * a.v_ss;
#pragma omp simd
              for (int64_t d = 0; d < a.D; ++d) oi[d] += p * vj[d];
            }
          }
        }
      }
    }
  }
}

}  // namespace hfx::cpu

