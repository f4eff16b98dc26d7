// Shared pieces of the encoder-decoder models (T5, BART): relative position
// buckets, decoder input shifting; the additive masks transformers 4.46 builds
// (in nn/mask.h) and the outputs / classification head they share.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "hfx/generate.h"
#include "nn/layers.h"

namespace hfx::nn {

// T5Attention._relative_position_bucket for one relative position (key - query),
// with torch's float32 log arithmetic. Bidirectional for encoders, causal
// (only the past gets distinct buckets) for decoders.
int64_t relative_position_bucket(int64_t relative_position, bool bidirectional, int64_t num_buckets,
                                 int64_t max_distance);

// Adds T5's relative attention bias to `bias` f32 [B, heads, Sq, Sk] (B may be
// 1): bias[b,h,i,j] += table[bucket(j - (past + i)), h]; table is [num_buckets, heads].
void add_relative_position_bias(Tensor& bias, const Tensor& table, int64_t past, bool bidirectional,
                                int64_t num_buckets, int64_t max_distance);

// transformers' shift_tokens_right / T5's _shift_right: [start, ids[:, :-1]],
// with -100 replaced by pad_token_id. ids [B, S] integer.
Tensor shift_tokens_right(const Tensor& ids, int64_t pad_token_id, int64_t decoder_start_token_id);

// Adds an encoder-decoder model's stacks to `out` with transformers' names:
// decoder_hidden_states.i / decoder_attentions.i, cross_attentions.i,
// encoder_last_hidden_state, encoder_hidden_states.i / encoder_attentions.i.
void emit_seq2seq(Outputs& out, const StackOutputs& decoder, const std::vector<Tensor>& cross, const Tensor& encoder_last,
                  const StackOutputs& encoder);

// The sequence-classification head of BART and T5: the decoder state [B, S, d]
// at the last eos of each row of input_ids (every row must hold the same number
// of eos tokens, as the reference requires), then dense, tanh, out_proj.
Tensor eos_classify(const Tensor& ids, const Tensor& dec, int64_t eos, const Linear& dense, const Linear& out_proj);

// The ending of BART's and T5's encoder-decoder forward, over the decoder output dec [B, T, d] (`ids`: the
// encoder's input_ids): ConditionalGeneration sets logits = lm(dec), SequenceClassification eos_classify
// through `dense` and `score`, QuestionAnswering the span logits of score(dec), any other head
// last_hidden_state; then emit_seq2seq's stacks. Head: the model's head enum, naming those three.
template <class Head, class Lm>
Outputs seq2seq_outputs(Head head, const Lm& lm, const Tensor& ids, const Tensor& dec, int64_t eos,
                        const std::optional<Linear>& dense, const std::optional<Linear>& score, const StackOutputs& decoder,
                        const std::vector<Tensor>& cross, const Tensor& encoder_last, const StackOutputs& encoder) {
  Outputs out;
  if (head == Head::ConditionalGeneration)
    out.set("logits", lm(dec));
  else if (head == Head::SequenceClassification)
    out.set("logits", eos_classify(ids, dec, eos, *dense, *score));
  else if (head == Head::QuestionAnswering)
    set_qa_logits(out, (*score)(dec));
  else
    out.set("last_hidden_state", dec);
  emit_seq2seq(out, decoder, cross, encoder_last, encoder);
  return out;
}

}  // namespace hfx::nn
