// The model-independent part of generate(): logits processors, sampling, the
// beam scorer and the decoding loop, shared by decoder-only models
// (generate.cc, over CausalLM) and encoder-decoder models
// (generate_seq2seq.cc, over Seq2SeqLM).
#pragma once

#include <functional>
#include <vector>

#include "hfx/generate.h"

namespace hfx::detail {

using TokenRows = std::vector<std::vector<int64_t>>;

// What the loop needs from a model that runs incrementally.
struct IncrementalDecoder {
  int64_t vocab = 0;
  // Logits [B, new_n, vocab] for the last new_n tokens of every row of `seqs`,
  // whose full attention masks are `mask`; extends the model's cache.
  std::function<Tensor(const TokenRows& seqs, const TokenRows& mask, int64_t new_n)> step;
  // Keeps (or repeats) the cache rows in `index`, in that order; called once
  // before the first step to expand the rows for beams / samples, then by beam search.
  std::function<void(const std::vector<int64_t>& index)> reorder;
  // generate_streaming's callback: each chosen token of a batch of one; false ends the run.
  std::function<bool(int64_t)> on_token;
};

// Greedy / sampling / beam search from `prompt` [B, P] (mask [B, P] or
// undefined), as transformers 4.46 _sample and _beam_search do; returns
// [B * num_return_sequences, P + generated].
Tensor run_generation(const IncrementalDecoder& d, const Tensor& prompt, const Tensor& prompt_mask, const GenerationConfig& g);

}  // namespace hfx::detail
