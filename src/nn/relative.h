// Relative-position attention shared by Transformer-XL
// (RelPartialLearnableMultiHeadAttn) and XLNet (XLNetRelativeAttention.rel_attn_core),
// transformers 4.46: score(i, j) = scale * ((q_i + r_w_bias)·k_j
// + (q_i + r_r_bias)·r_{shift(i, j)} [+ (q_i + r_s_bias)·seg_embed[seg(i, j)]]),
// masked, softmaxed over j, times an optional head mask, then summed over v_j.
#pragma once

#include <vector>

#include "nn/layers.h"

namespace hfx::nn {

// Sinusoidal position embeddings [len(pos), d] = [sin(p * f), cos(p * f)] with
// f_i = inv_freq[i] (d / 2 entries).
Tensor sinusoid_table(const std::vector<float>& pos, const std::vector<float>& inv_freq);
// 1 / 10000^(2i / d) for i < d / 2, rounded to f32 as torch computes it.
std::vector<float> sinusoid_inv_freq(int64_t d);

// How the reference realigns the position term (a reshape trick over [Sq, R]).
enum class RelShift {
  TransfoXL,  // _rel_shift: zero column padded in front, R = Sk
  XLNet,      // rel_shift_bnij: first row dropped, R = Sk + Sq (bi) or Sk + 1 (uni)
};
// How masked scores are set.
enum class RelMask {
  FillMin,        // masked_fill(finfo(f32).min)  (Transformer-XL)
  Subtract1e30,   // score - 1e30 * mask            (XLNet)
};

struct RelAttentionArgs {
  int64_t B = 0, Sq = 0, Sk = 0, H = 0, D = 0, R = 0;
  // q [B, Sq, H*D]; k, v [B, Sk, H*D]; r [B or 1, R, H*D] (r_batched: one per batch row). Contiguous.
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  const float* r = nullptr;
  bool r_batched = false;
  const float* r_w_bias = nullptr;  // [H*D]
  const float* r_r_bias = nullptr;  // [H*D]
  // XLNet segment term (optional): r_s_bias [H*D], seg_embed [2, H*D], seg [B, Sq, Sk] in {0, 1}.
  const float* r_s_bias = nullptr;
  const float* seg_embed = nullptr;
  const uint8_t* seg = nullptr;
  // mask (optional): [B or 1, Sq, Sk], nonzero = masked; mask_batched says which.
  const uint8_t* mask = nullptr;
  bool mask_batched = false;
  RelShift shift = RelShift::TransfoXL;
  RelMask mask_mode = RelMask::FillMin;
  const float* head_mask = nullptr;  // [H] multipliers on the probabilities
  float scale = 1.0f;
};
// Returns the attention vectors [B, Sq, H*D]; probs (if non-null) receives [B, H, Sq, Sk].
Tensor rel_attention(const RelAttentionArgs& a, Tensor* probs);

// Memory (mems) bookkeeping of Transformer-XL and XLNet; mems are [M, B, D] as in the reference.
// Validates mems (one [M, B, D] float tensor per layer, or none) and returns M (0: none).
int64_t check_mems(const std::vector<Tensor>& mems, int64_t layers, int64_t B, int64_t D);
// [mem; h] batch-first: [B, M + S, D] from mem [M, B, D] (nullptr: none) and h [B, S, D].
Tensor cat_mems(const Tensor* mem, const Tensor& h);
// The last `keep` rows (keep < 0: all) of [prev; h[:, :take]] as [rows, B, D] (prev may be nullptr).
Tensor roll_mems(const Tensor* prev, const Tensor& h, int64_t take, int64_t keep);
// index_select on the batch dim of every [M, B, D] tensor (beam search reorder).
void reorder_mems(std::vector<Tensor>& mems, const std::vector<int64_t>& index);

}  // namespace hfx::nn
