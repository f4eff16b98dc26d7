// Shared building blocks that every architecture composes (the llama.cpp
// build_norm / build_attn / build_ffn idea): each declares its parameters
// under a Scope using Hugging Face's module names, and runs on CPU kernels.
#pragma once

#include <memory>
#include <string>

#include "hfx/model.h"
#include "nn/mask.h"
#include "nn/ops.h"

namespace hfx::nn {

class PackedWeight;  // opaque here: defined with the kernels in nn/backend.h

struct Linear {
  Param w, b;
  int64_t in = 0, out = 0;
  // Transposed copy of w for NN GEMMs, made lazily by the backend; set by make().
  std::shared_ptr<PackedWeight> pack;
  // Inside a repeated block (its name has a ModuleList index: "encoder.layer.3.",
  // "h.0.", "layers.11."): the Linears Quantization::Int8 quantizes. Heads,
  // poolers and projections outside the blocks stay floating point.
  bool in_block = false;
  static Linear make(const Scope& s, int64_t in, int64_t out, bool bias = true);
  // `pack` told how this model runs this Linear (quantization); for the backend's linear().
  PackedWeight* packed() const;
  void forward(const float* x, int64_t rows, float* y) const;
  Tensor operator()(const Tensor& x) const;  // [..., in] -> [..., out], f32
};

struct LayerNorm {
  Param w, b;
  int64_t dim = 0;
  float eps = 1e-12f;
  static LayerNorm make(const Scope& s, int64_t dim, float eps, bool bias = true);
  void inplace(Tensor& x) const;
};

struct Embedding {
  Param w;
  int64_t num = 0, dim = 0;
  static Embedding make(const Scope& s, int64_t num, int64_t dim, const std::string& tied_to = {});
  // out[i] (+)= table[ids[i]]; ids out of [0, num) -> InvalidArgument naming the table.
  void gather(const Tensor& ids, float* out, bool accumulate) const;
};

// Per-layer head multipliers from a [H] or [L, H] head_mask (undefined: none).
std::vector<std::vector<float>> per_layer_head_mask(const Tensor& head_mask, int64_t layers, int64_t heads);

// Input ids as contiguous int64 of the expected rank, validated.
Tensor as_ids(const Tensor& t, const char* what);

// Names of one post-LayerNorm encoder layer's modules (relative to the layer).
struct EncoderLayerNames {
  std::string q, k, v, o, attn_norm, ffn_in, ffn_out, ffn_norm;
};

// BERT-shaped layer: self-attention + residual + LN, FFN + residual + LN.
struct PostLNEncoderLayer {
  Linear q, k, v, o, ffn_in, ffn_out;
  LayerNorm attn_norm, ffn_norm;
  int64_t heads = 0, head_dim = 0;
  Activation act = Activation::GeluErf;
  static PostLNEncoderLayer make(const Scope& s, const EncoderLayerNames& n, int64_t hidden, int64_t heads,
                                 int64_t intermediate, float eps, Activation act);
  // h: [B, S, hidden] f32 contiguous. probs: if non-null, receives [B, heads, S, S].
  // `heads` is the configured count; the heads present are read from q's weight
  // (prune_heads removes rows), and a head_mask on a pruned layer is a Mismatch.
  // Training mode: dropout after the attention output and the FFN output projections.
  // head_bias (MPNet's shared relative position bias): an f32 [B, heads, S, S] additive bias with the mask
  // already folded in, used instead of `mask`.
  Tensor forward(const Tensor& h, const AttnMask& mask, const float* head_mask, Tensor* probs,
                 const Tensor* head_bias = nullptr) const;
};

// Training-mode dropout (hfx::Model::set_training) in place on an f32 tensor;
// `any` is a parameter of the model (it reaches the model's train state). Identity in eval.
void dropout_inplace(Tensor& x, const Param& any);

// Runs a stack of layers, collecting hidden_states / attentions outputs.
struct StackOutputs {
  std::vector<Tensor> hidden_states, attentions;
};

}  // namespace hfx::nn

namespace hfx::nn {
// h[:, 0, :] of a [B, S, H] tensor, as a new [B, H] tensor.
Tensor first_token(const Tensor& h);
// Splits [..., 2] QA logits into start/end [...] tensors.
std::pair<Tensor, Tensor> split_last_two(const Tensor& logits);
// *ForQuestionAnswering outputs: "start_logits" / "end_logits" from [..., 2] logits.
void set_qa_logits(Outputs& out, const Tensor& logits);
// Adds `prefix`hidden_states.i / attentions.i to `out`.
void emit_stack(Outputs& out, const StackOutputs& st, const std::string& prefix = {});
// Flattens [B, C, S] to [B*C, S] (multiple choice); undefined stays undefined.
Tensor flatten_choices(const Tensor& t);
}  // namespace hfx::nn

namespace hfx::nn {
// For *ForMultipleChoice: flattens every [B, C, S] input to [B*C, S]; returns C.
int64_t flatten_choice_inputs(ModelInputs& in);
}  // namespace hfx::nn

namespace hfx::nn {
// GPT-2's Conv1D: a Linear whose weight is stored [in, out].
struct Conv1D {
  Param w, b;
  int64_t in = 0, out = 0;
  static Conv1D make(const Scope& s, int64_t in, int64_t out);
  Tensor operator()(const Tensor& x) const;
};
}  // namespace hfx::nn

namespace hfx::nn {
// Rotary position embeddings as transformers 4.46 computes them
// (modeling_rope_utils: default, linear, dynamic NTK, llama3), applied to
// [B, S, heads, D] buffers with rotate_half semantics.
struct Rope {
  int64_t dim = 0;             // rotary dims (= head_dim, or its first dims for a partial rotary: nn/partial_rotary.h)
  int64_t head_stride = 0;     // floats from one head to the next in the rotated buffers; 0: dim
  // type "longrope" (Phi-3's Phi3LongRoPEScaledRotaryEmbedding): inv_freq divided per dim by long_factor when
  // the call's largest position + 1 exceeds original_max, else by short_factor; cos and sin times mscale.
  std::vector<float> short_factor, long_factor;
  float mscale = 1.0f;
  double base = 10000.0;
  std::string type = "default";
  double factor = 1.0, low_freq_factor = 1.0, high_freq_factor = 4.0;
  int64_t original_max = 0;    // max_position_embeddings (or rope_scaling's original_max_position_embeddings)
  // GPT-J's rotate_every_two: dims (2i, 2i+1) rotate together (else rotate_half's i and i + dim / 2).
  bool interleaved = false;
  static Rope from_config(const Config& c, int64_t head_dim);
  // inv_freq for a call whose largest position is max_pos (dynamic NTK depends on it).
  std::vector<float> inv_freq(int64_t max_pos) const;
  // Rotates x [B, S, heads, D] (row strides given) in place at positions pos [B, S].
  void apply(float* x, int64_t B, int64_t S, int64_t heads, int64_t b_stride, int64_t s_stride, const Tensor& pos,
             const std::vector<float>& inv) const;
};
}  // namespace hfx::nn
