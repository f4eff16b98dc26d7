// Normalisation and clamping entry points for the decoder families of issue 18 whose norms are not
// nn::LayerNorm modules or Llama's RMSNorm: OLMo's LayerNorm without weight or bias, StarCoder2 / StableLM's
// nn.LayerNorm over a tensor, OLMo's clip_qkv. Kept in their own file (not nn/ops) so the backend work in
// nn/ops and nn/backend stays apart from architecture additions.
#pragma once

#include <vector>

#include "hfx/tensor.h"

namespace hfx::nn {

// F.layer_norm over the last dim of an f32 contiguous tensor, in place: (x - mean) / sqrt(var + eps) (biased
// variance), times gamma and plus beta where they are defined (undefined gamma: no weight, OLMo's OlmoLayerNorm;
// undefined beta: no bias). gamma/beta must have the last dim's size (Mismatch otherwise).
void layer_norm_(Tensor& x, const Tensor& gamma, const Tensor& beta, float eps);

// StableLM's qk_layernorm (StableLmLayerNormPerHead): x [..., heads * head_dim] f32 contiguous, head h of every
// row normalised over its head_dim values with its own weight gammas[h] (no bias), in place.
void layer_norm_per_head_(Tensor& x, int64_t heads, const std::vector<Tensor>& gammas, float eps);

// x.clamp_(min=-limit, max=limit) on an f32 contiguous tensor (OLMo's clip_qkv).
void clamp_(Tensor& x, float limit);

// Gemma-2's final_logit_softcapping on an f32 contiguous tensor, in place: x = tanh(x / cap) * cap (cap > 0).
void softcap_(Tensor& x, float cap);

}  // namespace hfx::nn
