// Low-precision Linear GEMMs through oneDNN's matmul primitive (brgemm: VNNI
// for int8, AVX512-BF16 / AMX where the CPU has them), behind cpu::linear().
//
// int8 (dynamic quantization, as CTranslate2's int8 and PyTorch's
// quantize_dynamic do it):
//   weights: per output channel, symmetric: sw[n] = max|W[n,:]| / 127,
//            Wq = round(W / sw) in [-127, 127], quantized once on the first
//            call and reordered into oneDNN's blocked VNNI layout;
//   activations: per row (token), asymmetric u8 at each call: sx[m] =
//            (max(x[m,:], 0) - min(x[m,:], 0)) / 255, zx[m] = round(-min / sx) (0.0
//            is exact), xq = round(x / sx) + zx in [0, 255] (127 levels on CPUs
//            without VNNI, whose u8 x s8 pair sums saturate at 16 bits);
//   GEMM:    u8 x s8 -> s32 through oneDNN's matmul (VNNI vpdpbusd, the native
//            operand types: no shift or compensation pass), then in f32
//            y = (acc - zx[m] * sum_k Wq[n, k]) * sx[m] * sw[n] + b[n], the column
//            sums computed once with the weights. Outlier input channels (a
//            column's max |x| above 3x the median column's, at most K/32 of
//            them) are left out of the int8 product and added in f32 against the
//            stored weight (LLM.int8()'s mixed decomposition): without it the
//            per-token scales of LayerNorm outputs leave the ordinary channels a
//            few levels, and all-MiniLM-L6-v2's embeddings fall to cosine 0.998.
// Which layers (nn::Linear::in_block, set from the parameter name): the Linears
//   inside the repeated blocks (attention projections, FFN). PyTorch's
//   quantize_dynamic({nn.Linear}, qint8) takes every nn.Linear, heads included,
//   with per-tensor weight scales by default and per-tensor u8 activations;
//   CTranslate2's int8 takes every Linear weight per output row, its output
//   projection included, with per-row activations. Both leave LayerNorm, softmax
//   and the attention products in float, as hfx does. hfx also keeps poolers and
//   classifiers in f32 (under 1 % of an encoder's GEMM work) and the LM head,
//   whose error reaches the logits undiluted; that head is a fifth of BERT-base
//   masked-LM work and more of a decoder's, which int8 then leaves in f32.
// bf16: W stored bf16 (torch_dtype bfloat16) is reordered once into oneDNN's
//   blocked bf16 layout (same size: no f32 copy); x is rounded to bf16 per call
//   (round to nearest even), the GEMM accumulates and writes f32.
//
// Both return false where they cannot run and the caller's f32 path takes over:
// linear_bf16 where oneDNN has only its reference implementation (no AVX-512;
// the f32 path widens the bf16 weights), linear_int8 where oneDNN has none.
#pragma once

#include <cstdint>

#include "hfx/tensor.h"
#include "kernels/cpu/ops.h"

namespace hfx::cpu {

// y[rows, out] = dequant(quant(x) * quant(W)^T) + bias. W [out, in], any float dtype.
bool linear_int8(const float* x, int64_t rows, int64_t in, const Tensor& W, const Tensor& bias, float* y,
                 PackedWeight& pack);
// y[rows, out] = bf16(x) * W^T (f32 accumulation) + bias. W [out, in] bf16.
bool linear_bf16(const float* x, int64_t rows, int64_t in, const Tensor& W, const Tensor& bias, float* y,
                 PackedWeight& pack);

// After a kernel made its own copy of weight W (the f32 transpose, the int8 or bf16 pack): W's memory-mapped pages leave
// the resident set (Storage::release_pages; nothing happens to owned memory), so the weights are not resident twice
// (issue 22). Other readers of the same bytes (a tied embedding's lookups) fault in only what they read.
void release_stored(const Tensor& W) noexcept;

// Whether the running CPU gets oneDNN's native int8 (VNNI) / bf16 kernels
// (tests and `hfx info`-style reports; the paths above run either way when
// oneDNN has any implementation).
bool cpu_has_vnni();
bool cpu_has_bf16();

}  // namespace hfx::cpu
