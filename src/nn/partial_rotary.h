// Pieces of the GPT-NeoX-style decoders (GPT-NeoX, StableLM, Phi): a rotary embedding over the first
// int(head_dim * fraction) dims of each head only (the rest passes through), and the per-head interleaved
// fused query_key_value projection of GPT-NeoX split into q, k, v.
#pragma once

#include <array>

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

}  // namespace hfx::nn
