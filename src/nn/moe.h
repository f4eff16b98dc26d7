// Sparse mixture-of-experts feed-forward blocks (Mixtral's MixtralSparseMoeBlock, Qwen2-MoE's
// Qwen2MoeSparseMoeBlock) and their router auxiliary loss (load_balancing_loss_func).
// Upstream: transformers v4.46.3 models/mixtral/modeling_mixtral.py, models/qwen2_moe/modeling_qwen2_moe.py.
#pragma once

#include <optional>
#include <vector>

#include "nn/layers.h"
#include "nn/ops.h"

namespace hfx::nn {

// One gated expert: down(act(gate(x)) * up(x)) (Mixtral's w2(act(w1(x)) * w3(x)); Qwen2MoeMLP), no biases.
struct GatedMlp {
  Linear gate, up, down;
  // Under `s`, with the three projections' module names (Mixtral: w1, w3, w2).
  static GatedMlp make(const Scope& s, int64_t hidden, int64_t inter, const char* gate = "gate_proj",
                       const char* up = "up_proj", const char* down = "down_proj");
  Tensor operator()(const Tensor& x, Activation act) const;  // [..., hidden] -> [..., hidden]
};

// The indices of the k largest of `n` values as torch.topk returns them on CPU (ties in its order).
std::vector<int64_t> top_k_indices(const float* v, int64_t n, int64_t k);

struct SparseMoe {
  Linear router;                   // gate: hidden -> experts, no bias
  std::vector<GatedMlp> experts;
  int64_t top_k = 2;
  bool norm_topk_prob = true;      // Mixtral always renormalises the top-k weights; Qwen2-MoE iff norm_topk_prob
  Activation act = Activation::Silu;
  std::optional<GatedMlp> shared;  // Qwen2-MoE: + sigmoid(shared_gate(x)) * shared(x)
  Linear shared_gate;              // hidden -> 1, no bias
  // x [B, S, H] -> [B, S, H]; the router logits [B * S, experts] in *router_logits when given.
  // Tokens are routed as the reference does: softmax of the router logits (f32), the top_k experts, and each
  // expert's weighted outputs added into the result expert by expert (index_add_ order).
  Tensor operator()(const Tensor& x, Tensor* router_logits = nullptr) const;
};

// transformers' load_balancing_loss_func over the layers' router logits (each [B * S, experts]): a 0-dim f32 tensor,
// num_experts * sum(tokens_per_expert * router_prob_per_expert), the means over the tokens where attention_mask
// [B, S] is 1 (all tokens when undefined).
Tensor load_balancing_loss(const std::vector<Tensor>& router_logits, int64_t num_experts, int64_t top_k,
                           const Tensor& attention_mask);

}  // namespace hfx::nn
