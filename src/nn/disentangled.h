// Disentangled self-attention (DeBERTa and DeBERTa-v2, transformers 4.46.3
// models/deberta/modeling_deberta.py and models/deberta_v2/modeling_deberta_v2.py):
// score(i, j) = q_i·k_j / s + [c2p] q_i·pk_{c(i, j)} / s + [p2c] k_j·pq_{p(i, j)} / s,
// with s = sqrt(head_dim * (1 + c2p + p2c)), c(i, j) = clamp(rel(i, j) + span, 0, 2 span - 1),
// p(i, j) = clamp(-rel(j, i) + span, 0, 2 span - 1); then XSoftmax: masked (i, j)
// (mask_i * mask_j == 0) filled with finfo(f32).min before the softmax and set to 0 after it
// (so a padded query's row is all zeros). The models do the projections (v2: query/key_proj,
// optional pos_key/query_proj or the shared ones; v1: fused in_proj + q/v biases, pos_proj /
// pos_q_proj); this block holds the relative positions and the scores.
#pragma once

#include <cstdint>
#include <vector>

#include "hfx/tensor.h"

namespace hfx::nn {

// build_relative_position(Sq, Sk, bucket_size, max_position): rel[i * Sk + j] = i - j, log-bucketed
// (make_log_bucket_position, f32 steps as torch) when bucket_size > 0 and max_position > 0.
std::vector<int64_t> deberta_relative_positions(int64_t Sq, int64_t Sk, int64_t bucket_size, int64_t max_position);

// q, k, v rows: element d of head h of token s in batch b at p + (b * S + s) * row + h * head + d.
struct HeadRows {
  const float* p = nullptr;
  int64_t row = 0, head = 0;
  const float* at(int64_t b, int64_t S, int64_t s, int64_t h) const { return p + (b * S + s) * row + h * head; }
};

struct DisentangledArgs {
  int64_t B = 0, S = 0, H = 0, D = 0;
  HeadRows q, k, v;  // q unscaled, biases already added
  // Projected relative embeddings [2 * span, H*D] (pos_key for c2p, pos_query for p2c; rows as q);
  // null: that term is off.
  const float* pos_key = nullptr;
  const float* pos_query = nullptr;
  int64_t span = 0;
  const std::vector<int64_t>* rel = nullptr;  // [S * S] relative positions (deberta_relative_positions(S, S, ...))
  int scale_factor = 1;                       // 1 + the number of position terms the config names
  const float* key_mask = nullptr;            // [B, S] 1 = token, 0 = padding; null = all tokens
};
// The scores [B, H, S, S] before the softmax (the content term and the relative terms, each scaled).
Tensor disentangled_scores(const DisentangledArgs& a);
// XSoftmax in place over the last dim of scores [B, H, S, S]: (i, j) with key_mask[b, i] * key_mask[b, j] == 0
// is filled with finfo(f32).min before the softmax and set to 0 after it (key_mask null: plain softmax).
void xsoftmax_(Tensor& scores, const float* key_mask);
// probs [B, H, S, S] times v: the context [B, S, H*D].
Tensor attention_context(const Tensor& probs, const HeadRows& v, int64_t D);
// The three in a row; probs (if non-null) receives [B, H, S, S].
Tensor disentangled_attention(const DisentangledArgs& a, Tensor* probs);

}  // namespace hfx::nn
