// Every additive attention mask hfx builds, in one place. transformers fills
// masked scores with finfo(f32).min (never -inf, so a fully masked row
// softmaxes to uniform like the reference); the families differ in how a key
// padding mask meets the causal mask, and each rule is kept exactly.
#pragma once

#include <cstdint>

#include "hfx/tensor.h"

namespace hfx::nn {

// Additive attention bias as BERT-style models build it: (1 - mask) * finfo(f32).min,
// shape [B, 1, Sq, Sk] stored as [B, Sq, Sk] (Sq = 1 when not causal).
struct AttnMask {
  Tensor bias;  // f32 [B, Sq or 1, Sk]; undefined: no mask
  const float* data() const { return bias.defined() ? bias.data<float>() : nullptr; }
  int64_t batch_stride() const { return bias.defined() ? bias.size(1) * bias.size(2) : 0; }
  int64_t query_stride() const { return bias.defined() && bias.size(1) > 1 ? bias.size(2) : 0; }
};
// `mask` [B, past + S] (any numeric dtype) or undefined (= all ones); causal:
// query i (at past + i) sees keys j <= past + i (get_extended_attention_mask,
// create_extended_attention_mask_for_decoder).
AttnMask extended_attention_mask(const Tensor& mask, int64_t B, int64_t S, bool causal, int64_t past = 0);
// The multiplicative keep mask behind it: f32 [B, Sq or 1, past + S] of mask[b, j] * (j <= past + i).
Tensor keep_mask(const Tensor& mask, int64_t B, int64_t S, bool causal, int64_t past = 0);

// Decoder self-attention over Sq queries at past..past+Sq-1 and Sk = past + Sq
// keys, f32 [B, Sq, Sk], as GPT-2 / Llama eager attention adds them: finfo.min
// above the diagonal plus (1 - key_mask) * finfo.min (key_mask [B, Sk] or undefined).
Tensor causal_bias(const Tensor& key_mask, int64_t B, int64_t Sq, int64_t past);
// The same with a sliding window (Mistral): key j visible from query i iff i - window < j <= i (window <= 0: none).
Tensor causal_window_bias(const Tensor& key_mask, int64_t B, int64_t Sq, int64_t past, int64_t window);

// Key padding bias f32 [B, Sk]: finfo.min where mask == 0, else 0 (mask
// undefined: zeros). Throws Mismatch naming `what` when mask is not [B, Sk].
Tensor padding_bias(const Tensor& mask, int64_t B, int64_t Sk, const char* what);
// Causal + key padding bias f32 [B, Sq, past + Sq] as BART / T5 build it (masked_fill):
// exactly finfo.min where the key is after the query or mask [B, past + Sq] is 0.
Tensor causal_padding_bias(const Tensor& mask, int64_t B, int64_t Sq, int64_t past, const char* what);
// The same with a sliding window (window > 0): also exactly finfo.min where key j <= past + i - window, as
// Gemma-2's decoder layer folds torch.tril(ones, diagonal=-window) into the 4-D mask (window <= 0: none).
Tensor causal_padding_window_bias(const Tensor& mask, int64_t B, int64_t Sq, int64_t past, int64_t window, const char* what);

// Bidirectional (encoder) self-attention bias f32 [B, S, S] with a local window (ModernBERT's sliding layers):
// finfo.min where key j is padded (mask [B, S] == 0) or |i - j| > window (window < 0: no window), else 0.
Tensor window_padding_bias(const Tensor& mask, int64_t B, int64_t S, int64_t window, const char* what);

}  // namespace hfx::nn
