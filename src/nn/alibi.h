// ALiBi (attention with linear biases) as transformers builds it for BLOOM and Falcon (build_alibi_tensor):
// per-head slopes (geometric for the largest power of two <= heads, interleaved extra slopes beyond it) times each
// key's position (cumsum(attention_mask) - 1) * attention_mask.
// Upstream: transformers v4.46.3 models/bloom/modeling_bloom.py, models/falcon/modeling_falcon.py.
#pragma once

#include <cstdint>
#include <vector>

#include "hfx/tensor.h"

namespace hfx::nn {

// The `heads` slopes, f32 (torch.pow of a float32 base).
std::vector<float> alibi_slopes(int64_t heads);

// f32 [B, heads, Sk] alibi over the key mask [B, Sk] (undefined: all ones): slope[h] * position[b, j].
// `bf16`: Falcon's variant (slopes.bfloat16() * positions, rounded to bfloat16, then widened).
Tensor alibi_bias(const Tensor& key_mask, int64_t B, int64_t Sk, int64_t heads, bool bf16);

}  // namespace hfx::nn
