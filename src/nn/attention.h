// The one attention entry point of hfx: every model's self- and cross-attention
// runs through nn::attend, which alone fills the kernel's arguments. The caller
// (or the block) does the projections; attend applies the optional RoPE hook,
// appends to / reads the KV cache, adds the additive bias (mask, or T5's
// relative position bias folded in per head), applies the head mask and scale,
// and returns the context and, when asked, the probabilities.
#pragma once

#include <optional>
#include <vector>

#include "hfx/generate.h"
#include "nn/layers.h"

namespace hfx::nn {

// Rows of a [B, S, width] f32 buffer starting at column `col`: row s of batch b
// at data + b * batch_stride + s * seq_stride. GPT-2's fused c_attn output is
// three such views of one tensor.
struct Rows {
  float* data = nullptr;
  int64_t batch_stride = 0, seq_stride = 0;
  // t: f32 contiguous [B, S, W]; mutable because the RoPE hook rotates in place.
  static Rows of(Tensor& t, int64_t col = 0);
};

// Additive scores bias: element (b, h, i, j) at data + b*bs + h*hs + i*qs + j.
struct AttentionBias {
  const float* data = nullptr;
  int64_t bs = 0, hs = 0, qs = 0;
  // From an f32 contiguous bias of shape [B, Sk] (key padding), [B, Sq, Sk]
  // (one row per query; Sq = 1 broadcasts) or [B, H, Sq, Sk] (per head);
  // undefined: no bias.
  static AttentionBias of(const Tensor& t);
};

// Rotary embedding hook: q and k are rotated at `positions` [B, Sq] before the
// scores (and before k enters the cache).
struct RopeHook {
  const Rope* rope = nullptr;
  const Tensor* positions = nullptr;
  const std::vector<float>* inv_freq = nullptr;
};

struct AttentionOptions {
  int64_t heads = 0;           // query heads present (pruned layers: fewer than configured)
  int64_t kv_heads = 0;        // key/value heads; 0 = heads (grouped-query attention otherwise)
  int64_t head_dim = 0;
  std::optional<float> scale;  // default 1/sqrt(head_dim)
  float softcap = 0.0f;        // tanh softcapping of the scores before the bias (Gemma-2); 0: none
  AttentionBias bias;
  const float* head_mask = nullptr;  // [heads] multipliers on the probabilities
  RopeHook rope;
  // KV cache: this step's keys/values are appended to layer `layer` of `cache`
  // and attention reads the whole layer. `cached`: keys/values computed before
  // (cross-attention over an encoder), layer `layer` read as it is; k/v not given.
  KVCache* cache = nullptr;
  const KVCache* cached = nullptr;
  int64_t layer = 0;
  bool want_probs = false;
};

struct Attended {
  Tensor context;  // [B, Sq, heads * head_dim]
  Tensor probs;    // [B, heads, Sq, Sk] when asked
};

// q: B x Sq rows of heads*head_dim; k, v: B x Sk rows of kv_heads*head_dim
// (Sk = Sq unless `Sk` is given, e.g. for cross-attention over an encoder).
Attended attend(int64_t B, int64_t Sq, const Rows& q, const Rows& k, const Rows& v, const AttentionOptions& o,
                int64_t Sk = -1);
// The common case: q [B, Sq, heads*D], k/v [B, Sk, kv_heads*D] f32 contiguous
// tensors (undefined with `cached`).
Attended attend(Tensor& q, Tensor& k, Tensor& v, const AttentionOptions& o);

// The head count left in a layer whose query projection has `q_rows` outputs,
// checked against a head mask made for `configured` heads.
int64_t heads_present(int64_t q_rows, int64_t head_dim, int64_t configured, bool has_head_mask, const std::string& where);

}  // namespace hfx::nn
