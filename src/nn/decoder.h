// Blocks shared by the decoder-only families (GPT, GPT-2, Llama, Mistral).
#pragma once

#include <functional>

#include <optional>
#include <vector>

#include "hfx/generate.h"
#include "nn/attention.h"
#include "nn/layers.h"

namespace hfx::nn {

// *ForSequenceClassification pooling of decoder models (transformers 4.46):
// the logits at (first pad position - 1) mod S per row, or the last token
// when the config has no pad token (then only batch size 1 is allowed).
Tensor pool_last_non_pad(const Tensor& logits, const Tensor& ids, int64_t pad_token_id);

// transformers 5's GenericForSequenceClassification pooling: the logits at the rightmost position whose id is not
// pad_token_id (left and right padding alike; position 0 when every id is pad), or the last token without a pad token
// (then only batch size 1 is allowed).
Tensor pool_rightmost_non_pad(const Tensor& logits, const Tensor& ids, int64_t pad_token_id);

// position_ids as int64 [B, S], or past..past+S-1 for every row when undefined.
Tensor positions_or_default(const Tensor& position_ids, int64_t B, int64_t S, int64_t past);

// The hidden state [B, E] of h [B, S, E] at index[b] (e.g. GPT double heads'
// mc_token_ids, flattened), or at the last position when index is undefined.
Tensor gather_token(const Tensor& h, const Tensor& index);

// GPT / GPT-2 double heads: "logits" [in_shape..., vocab] from the LM head and
// "mc_logits" [batch, choices] from the summary layer at mc_token_ids (default:
// the last token). h is the transformer output over the flattened choices [B*C, S, E].
void set_double_heads_outputs(Outputs& out, const Tensor& h, const Shape& in_shape, const Linear& lm_head,
                              const Linear& summary, const Tensor& mc_token_ids);

// The attention set-up the rotary decoders share (the Llama family, GPT-NeoX, GPT-J): positions (position_ids, or
// past..past+S-1 with past the cache's length), the rotary inv_freq for their largest position, and the options
// every layer uses (heads, kv_heads, head_dim, `bias`, the rotary hook, cache, want_probs); the layers set `layer`
// and `head_mask`. `ao` points into this object and at `rope` and `bias`: keep them alive, do not copy.
struct RotaryAttention {
  Tensor pos;
  std::vector<float> inv;
  AttentionOptions ao;
  RotaryAttention(const Rope& rope, const Tensor& position_ids, int64_t B, int64_t S, KVCache* cache, int64_t heads,
                  int64_t kv_heads, int64_t head_dim, const Tensor& bias, bool want_probs);
  RotaryAttention(const RotaryAttention&) = delete;
  RotaryAttention& operator=(const RotaryAttention&) = delete;
};

// The heads of GPT-2 (all six) and OpenAI GPT (the first four).
enum class GptHead { Base, LMHead, DoubleHeads, SequenceClassification, TokenClassification, QuestionAnswering };
// The transformer of a GPT model over ids [B, S] with `in`'s other inputs,
// filling st; returns the final hidden state [B, S, E].
using GptRun = std::function<Tensor(const Tensor& ids, const ModelInputs& in, StackOutputs& st)>;
// forward() of GPT-2 and OpenAI GPT: flattens multiple-choice inputs (double
// heads), runs the transformer and sets the head's outputs as transformers
// names them. `score`: the head's layer (summary, score, classifier or
// qa_outputs), null for Base and LMHead.
Outputs gpt_forward(const ModelInputs& in, GptHead head, int64_t E, const GptRun& run, const Linear& lm_head,
                    const Linear* score, int64_t pad_token_id);

// The config fields GPT-2 and OpenAI GPT read alike: vocab_size, n_embd (E), n_layer (L), n_head (H) and
// n_positions (P), all positive with E a multiple of H (InvalidArgument naming the config otherwise),
// layer_norm_epsilon, and pad_token_id (-1 when absent).
struct GptDims {
  int64_t vocab = 0, E = 0, L = 0, H = 0, P = 0, pad = -1;
  float eps = 1e-5f;
  static GptDims read(const Config& c);
};

// Their heads and traits, declared alike: lm_head (tied to `tokens` unless tie_word_embeddings is false) for
// LMHead and DoubleHeads; `score` as multiple_choice_head.summary (DoubleHeads), score (no bias), classifier or
// qa_outputs; the input/output embeddings, the embedding roles of `tokens` and `positions`, and the prune
// geometry of the fused Conv1D attention at <t>.h.N.attn (GPT2Attention.prune_heads).
void gpt_heads(const Scope& r, const Scope& t, const Config& c, GptHead head, const GptDims& d, const Embedding& tokens,
               const Embedding& positions, Linear& lm_head, std::optional<Linear>& score, ParamTable& params,
               ModelTraits& traits);

// The start of their transformer over new tokens ids [B, S] after the cache's past ones: h = tokens[ids] +
// positions[position_ids, default past..] (+ tokens[token_type_ids]: token types share the token table), the
// length checked against n_positions; the per-layer head masks; the layers' attention options (causal bias over
// attention_mask, head_dim, cache, want_probs), heads/layer/head_mask/scale left to each layer.
struct GptStart {
  Tensor h, bias;
  std::vector<std::vector<float>> head_masks;
  AttentionOptions ao;
};
GptStart gpt_start(const GptDims& d, const Embedding& tokens, const Embedding& positions, const Tensor& ids,
                   const Tensor& position_ids, const Tensor& token_type_ids, const Tensor& attention_mask,
                   const Tensor& head_mask, KVCache* cache, bool want_attn);

// The model class GPT-2 and OpenAI GPT share: the dims, heads and generation plumbing (forward through
// gpt_forward, step through the LM head); each file declares its layers and defines run().
class GptModel : public Model, public CausalLM {
 public:
  // lm_class: the class that generates (named in step()'s error for the others).
  GptModel(const std::string& cls, const Config& c, GptHead head, std::string lm_class);
  int64_t vocab_size() const override { return d_.vocab; }
  Tensor step(const Tensor& ids, const Tensor& position_ids, const Tensor& attention_mask, KVCache& cache) const override;
  Outputs forward(const ModelInputs& in) const override;
  // The transformer over new tokens `ids` [B, S]; with a cache, attends to the cached keys/values too and
  // appends this step's. Returns the final hidden state [B, S, E].
  virtual Tensor run(const Tensor& ids, const Tensor& position_ids, const Tensor& token_type_ids, const Tensor& attention_mask,
                     const Tensor& head_mask, KVCache* cache, bool want_hidden, bool want_attn, StackOutputs& st) const = 0;

 protected:
  GptHead head_;
  GptDims d_;
  std::string lm_class_;
  Linear lm_head_;
  std::optional<Linear> score_;
};

// The heads of the decoder-only families (the Llama family, GPT-NeoX, GPT-J, OPT, Falcon, BLOOM).
enum class DecoderHead { Base, CausalLM, SequenceClassification, TokenClassification, QuestionAnswering };

// The outputs of a decoder-only class with transformers' field names: last_hidden_state (Base), logits (CausalLM:
// lm_head(h); SequenceClassification: score(h) at the last non-pad token; TokenClassification: score(h)),
// start_logits / end_logits (QuestionAnswering: qa_outputs(h)).
void set_decoder_outputs(Outputs& out, DecoderHead head, const Tensor& h, const Tensor& ids, int64_t pad_token_id,
                         const Linear& lm_head, const std::optional<Linear>& score);

// The model class GPT-NeoX, GPT-J, OPT, Falcon and BLOOM share: vocab_size and pad_token_id, the heads and their
// traits (declare_heads), generation (step through the LM head) and forward (run, then set_decoder_outputs and the
// stack's hidden states / attentions); each file declares its layers and defines run().
class DecoderModel : public Model, public CausalLM {
 public:
  // lm_class: the class that generates (named in step()'s error for the others).
  DecoderModel(const std::string& cls, const Config& c, const std::string& base_model_prefix, DecoderHead head,
               std::string lm_class);
  int64_t vocab_size() const override { return vocab_; }
  Tensor step(const Tensor& ids, const Tensor& position_ids, const Tensor& attention_mask, KVCache& cache) const override;
  Outputs forward(const ModelInputs& in) const override;
  // The transformer over new tokens `ids` [B, S] with `in`'s position_ids, token_type_ids, attention_mask, head_mask
  // and output flags; with a cache (generation), attends to the cached keys/values too and appends this step's.
  // Fills st; returns the final hidden state [B, S, E].
  virtual Tensor run(const Tensor& ids, const ModelInputs& in, KVCache* cache, StackOutputs& st) const = 0;

 protected:
  // The LM head of the CausalLM class: its module under the root, whether it is tied to the token embeddings when the
  // config has no tie_word_embeddings, and whether it has a bias (GPT-J).
  struct LmHeadSpec {
    std::string module = "lm_head";
    bool tie_default = true;
    bool bias = false;
  };
  // Declares the head's layers on width E (after the layers: the parameter order of transformers' modules): the LM
  // head, score (no bias), classifier or qa_outputs; the input/output embeddings and the embedding role of `tokens`.
  // None of these base models has _prune_heads (transformers 4.46), so no prune traits.
  void declare_heads(const Scope& r, const Config& c, const Embedding& tokens, int64_t E, const LmHeadSpec& lm);

  DecoderHead head_;
  int64_t vocab_ = 0, pad_ = -1;
  // OPT and BLOOM: generation passes no position_ids (OPT's positions follow the mask, BLOOM has none).
  bool step_position_ids_ = true;
  std::string lm_class_;
  Linear lm_head_;
  std::optional<Linear> score_;
};

}  // namespace hfx::nn
