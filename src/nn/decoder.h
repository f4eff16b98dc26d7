// Blocks shared by the decoder-only families (GPT, GPT-2, Llama, Mistral).
#pragma once

#include <functional>

#include "hfx/generate.h"
#include "nn/layers.h"

namespace hfx::nn {

// *ForSequenceClassification pooling of decoder models (transformers 4.46):
// the logits at (first pad position - 1) mod S per row, or the last token
// when the config has no pad token (then only batch size 1 is allowed).
Tensor pool_last_non_pad(const Tensor& logits, const Tensor& ids, int64_t pad_token_id);

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

}  // namespace hfx::nn
