// Pieces of the GPT-NeoX-style decoders (GPT-NeoX, StableLM, Phi): a rotary embedding over the first
// int(head_dim * fraction) dims of each head only (the rest passes through), and the per-head interleaved
// fused query_key_value projection of GPT-NeoX split into q, k, v.
#pragma once

#include <array>
#include <vector>

#include "hfx/config.h"
#include "nn/layers.h"

namespace hfx::nn {

// Rope::from_config (rope_scaling included) rotating the first int(head_dim * fraction) dims of each head
// (transformers: rotary_ndims = int(head_size * rotary_pct), modeling_rope_utils' dim = int(head_dim *
// partial_rotary_factor)), with `base` as its theta. The rotated width must be even and positive
// (InvalidArgument naming the config otherwise: rotate_half splits it in two).
Rope partial_rope(const Config& c, int64_t head_dim, double fraction, double base);

// GPT-NeoX's query_key_value output [B, S, heads * 3 * head_dim], laid out per head as (q, k, v) blocks
// (qkv.view(B, S, heads, 3 * head_dim)), split into contiguous q, k, v of [B, S, heads * head_dim] each.
std::array<Tensor, 3> split_per_head_qkv(const Tensor& qkv, int64_t heads, int64_t head_dim);

// Phi-3's fused projections: x [B, S, sum(widths)] split along the last dim into contiguous [B, S, width]
// tensors, in order (qkv_proj: q, k, v; gate_up_proj: gate, up).
std::vector<Tensor> split_last_dim(const Tensor& x, const std::vector<int64_t>& widths);

// Phi-3's rope_scaling {"type": "longrope", "short_factor", "long_factor"} over head_dim dims: the factors
// (head_dim / 2 each), config.original_max_position_embeddings, and the cos/sin scale sqrt(1 + log(s) /
// log(original_max)) for s = max_position_embeddings / original_max > 1 (else 1). Without rope_scaling the
// default rotary. Other types are Unsupported (Phi3Attention raises ValueError); bad factors InvalidArgument.
Rope phi3_rope(const Config& c, int64_t head_dim);

}  // namespace hfx::nn
