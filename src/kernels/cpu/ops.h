// CPU kernels over contiguous f32 buffers (threaded with OpenMP).
//
// These assume valid inputs: shape checks happen in the callers (nn/ layers),
// which know the names to put in an error. Matrices that may be stored as
// f16/bf16 (Linear weights, embedding tables) come in as Tensors and are
// widened to f32 inside the kernel, never stored widened.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "hfx/tensor.h"

namespace hfx::cpu {

// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major, through BLAS.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// y[rows, out] = x[rows, in] * W^T (+ bias), W is [out, in] (torch Linear
// layout) in f32, f16 or bf16; bias [out] (any float dtype) or undefined.
// With `w_in_major` the weight is stored [in, out] (GPT-2 Conv1D layout).
void linear(const float* x, int64_t rows, int64_t in, const Tensor& W, const Tensor& bias, float* y,
            bool w_in_major = false);

// A Linear weight W [out, in] (f32/f16/bf16) kept transposed to f32 [in, out],
// so its GEMM runs NN: with oneDNN that is up to 2x the NT GEMM at M = 128 on
// 2 threads (bench/results/blas.md). Packs on the second call with at least
// kMinRows rows (so the first output after loading is not delayed and
// decode-sized calls, which are bandwidth-bound either way, keep reading W);
// repacks when a different tensor is bound (prune, resize, cast). Thread-safe.
//
// The same object carries the low-precision forms (kernels/cpu/lowp.h): with
// set_int8(true) linear() runs the int8 GEMM on a quantized copy made on the
// first call; a bf16 W runs the bf16 GEMM on oneDNN's blocked copy of it.
// Neither keeps an f32 copy.
struct LowpPack;  // kernels/cpu/lowp.cc
class PackedWeight {
 public:
  static constexpr int64_t kMinRows = 16;
  PackedWeight();
  ~PackedWeight();
  PackedWeight(const PackedWeight&) = delete;
  PackedWeight& operator=(const PackedWeight&) = delete;
  // The packed [in, out] data, or nullptr: use W as it is.
  const float* get(const Tensor& W, int64_t rows);
  // Dynamic int8 quantization of this weight (LoadOptions::quantize).
  void set_int8(bool on) { int8_ = on; }
  bool int8() const { return int8_; }

 private:
  friend struct LowpAccess;  // kernels/cpu/lowp.cc
  std::mutex mu_;
  Tensor src_;  // the tensor packed; holding it keeps its address unique
  std::vector<float> t_;
  int uses_ = 0;
  std::atomic<bool> int8_{false};
  std::unique_ptr<LowpPack> lowp_;  // guarded by mu_
};
// linear() through `pack` (may be null: plain linear()).
void linear(const float* x, int64_t rows, int64_t in, const Tensor& W, const Tensor& bias, float* y, PackedWeight* pack);

// out[i, :] = table[ids[i], :]; ids are checked against the table size by the caller.
void embedding(const int64_t* ids, int64_t n, const Tensor& table, float* out);
// out[i, :] += table[ids[i], :]
void embedding_add(const int64_t* ids, int64_t n, const Tensor& table, float* out);

// Two-pass LayerNorm over the last dim, in place. gamma/beta any float dtype (beta may be undefined).
void layer_norm(float* x, int64_t rows, int64_t dim, const Tensor& gamma, const Tensor& beta, float eps);
// RMSNorm (T5 / Llama style) in place: x * rsqrt(mean(x^2) + eps) * gamma.
void rms_norm(float* x, int64_t rows, int64_t dim, const Tensor& gamma, float eps);

// The element-wise functions the kernels implement (transformers' names are parsed by nn/, which maps its
// nn::Activation onto these).
enum class Activation {
  GeluErf, GeluTanh, GeluFast, QuickGelu, Relu, Silu, Tanh, Sigmoid, Identity, Mish,
  GeluClip10,  // ClippedGELUActivation(-10, 10): clip(gelu(x), -10, 10)
  Laplace,     // 0.5 * (1 + erf((x - mu) / (sigma * sqrt 2))), mu 0.707107, sigma 0.282095
  LeakyRelu,   // nn.LeakyReLU(): negative slope 0.01
  Relu2,       // ReLUSquaredActivation: relu(x) ** 2
  Relu6,       // nn.ReLU6: clamp(x, 0, 6)
};
void activate(float* x, int64_t n, Activation act);

void add_inplace(float* x, const float* y, int64_t n);   // x += y
void scale_inplace(float* x, int64_t n, float s);        // x *= s
void add_bias_rows(float* x, int64_t rows, int64_t dim, const Tensor& bias);  // x[r,:] += bias

// Row softmax in place with max subtraction.
void softmax_rows(float* x, int64_t rows, int64_t n);

// Fused element-wise passes (one sweep instead of two):
// x[r,:] = act(x[r,:] + bias) (bias may be undefined); vectorised for GeluErf / GeluTanh.
void bias_activate(float* x, int64_t rows, int64_t dim, const Tensor& bias, Activation act);
// x[r,:] += bias + residual[r,:] (bias may be undefined).
void add_bias_residual(float* x, int64_t rows, int64_t dim, const Tensor& bias, const float* residual);

// Scaled dot-product attention for one layer.
//   q: [B, Sq, H, D] at element strides (q_bs, q_ss) for batch/seq, heads packed as H*D
//   k, v: [B, Sk, H/group, D] likewise (k_bs, k_ss); query head h reads kv head h/group
//   bias: optional additive scores bias, element (b,h,i,j) at b*bias_bs + h*bias_hs + i*bias_qs + j
//   head_mask: optional [H] multiplier applied to the probabilities
//   out: [B, Sq, H*D] contiguous; probs: optional [B, H, Sq, Sk]
struct AttentionArgs {
  int64_t B, Sq, Sk, H, D;
  const float* q; int64_t q_bs, q_ss;
  const float* k; int64_t k_bs, k_ss;
  const float* v; int64_t v_bs, v_ss;
  const float* bias = nullptr; int64_t bias_bs = 0, bias_hs = 0, bias_qs = 0;
  const float* head_mask = nullptr;
  int64_t group = 1;  // query heads per key/value head (grouped-query attention); k/v hold H/group heads
  float scale = 1.0f;
  // Gemma-2's attn_logit_softcapping: scores -> tanh(scores / softcap) * softcap before the bias (0: none).
  float softcap = 0.0f;
  float* out = nullptr;
  float* probs = nullptr;
};
void attention(const AttentionArgs& a);

// Float view of a small parameter (bias, norm weight) for kernels: the data
// itself if f32, else a widened copy in `scratch`.
const float* as_f32(const Tensor& t, std::vector<float>& scratch);

}  // namespace hfx::cpu
