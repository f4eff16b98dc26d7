// hfx/seq2seq.h — incremental decoding for encoder-decoder models (T5, BART).
//
// transformers' generate() for an encoder-decoder model runs the encoder once,
// then the decoder one token at a time from decoder_start_token_id, with a
// self-attention key/value cache that grows per step and cross-attention
// keys/values computed once from the encoder output. hfx::generate() (generate.h)
// dispatches here for models that implement Seq2SeqLM; the returned ids are the
// decoder sequences (starting with decoder_start_token_id), as transformers
// returns them.
//
//   const auto& s2s = dynamic_cast<const hfx::Seq2SeqLM&>(*model);
//   hfx::Seq2SeqCache cache = s2s.encode(input_ids, attention_mask);
//   Tensor logits = s2s.decode_step(start_ids, cache);  // [B, 1, vocab]
#pragma once

#include "hfx/export.h"

#include <cstdint>
#include <vector>

#include "hfx/generate.h"

namespace hfx {

// Everything the decoder needs between steps. Rows are batch entries; beam
// search and the expansion to num_beams rows go through reorder().
struct HFX_API Seq2SeqCache {
  Tensor encoder_hidden;  // [B, S_enc, d_model] encoder last hidden state
  Tensor encoder_mask;    // [B, S_enc] int64 (1 = attend); undefined = all ones
  KVCache self_attn;      // decoder self-attention, grows by the tokens of each step
  KVCache cross_attn;     // per decoder layer: projected encoder keys/values (length = S_enc)
  // Keeps (or repeats) the batch rows in `index`, in that order.
  void reorder(const std::vector<int64_t>& index);
};

class HFX_API Seq2SeqLM {
 public:
  virtual ~Seq2SeqLM() = default;
  // Runs the encoder on input_ids [B, S] (attention_mask [B, S] or undefined)
  // and projects every decoder layer's cross-attention keys/values once.
  // Throws Unsupported for heads that have no LM head.
  virtual Seq2SeqCache encode(const Tensor& input_ids, const Tensor& attention_mask) const = 0;
  // Decoder ids [B, S_new] at positions past..past+S_new-1 (past = cache.self_attn.length;
  // the decoder attends to every cached token) -> logits [B, S_new, vocab]; extends the cache.
  virtual Tensor decode_step(const Tensor& decoder_ids, Seq2SeqCache& cache) const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t decoder_start_token_id() const = 0;
};

// generate() for a Seq2SeqLM: input_ids/attention_mask feed the encoder; returns
// [B * num_return_sequences, 1 + generated] decoder ids. Called by hfx::generate().
HFX_API Tensor generate_seq2seq(const Model& model, const Tensor& input_ids, const Tensor& attention_mask,
                        const GenerationConfig& cfg);

}  // namespace hfx
