// hfx/generate.h — text generation for decoder models (transformers' generate()).
//
// Greedy search, multinomial sampling (temperature, top-k, top-p, seeded) and
// beam search (num_beams, length_penalty, early_stopping, num_return_sequences),
// with min/max new tokens, eos/pad handling and repetition_penalty, over a KV
// cache so that each new token costs one incremental step.
#pragma once

#include "hfx/export.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "hfx/model.h"

namespace hfx {

namespace detail {
struct KVCacheState;  // the layout, owned by the nn layer (src/nn/kv_cache.h)
}

// Per-layer key/value cache of a decoder. Its layout belongs to the library's
// nn layer (which appends to it during a step); callers create one, pass it to
// CausalLM::step / Seq2SeqLM::decode_step and reorder it for beam search.
class HFX_API KVCache {
 public:
  KVCache();
  ~KVCache();
  KVCache(const KVCache& o);
  KVCache& operator=(const KVCache& o);
  KVCache(KVCache&& o) noexcept;
  KVCache& operator=(KVCache&& o) noexcept;
  int64_t length() const;                 // tokens cached
  int64_t layers() const;                 // layers allocated so far
  int64_t width(int64_t layer) const;     // floats cached per token in `layer` (heads * head_dim)
  // Keeps (or repeats) only the batch rows in `index` (beam search), in that order.
  void reorder(const std::vector<int64_t>& index);
  detail::KVCacheState& state() { return *s_; }
  const detail::KVCacheState& state() const { return *s_; }

 private:
  std::unique_ptr<detail::KVCacheState> s_;
};

// A model that can run incrementally over a cache (decoder-only models).
class HFX_API CausalLM {
 public:
  virtual ~CausalLM() = default;
  // ids [B, S_new]; position_ids [B, S_new] (undefined: past..past+S_new-1);
  // attention_mask [B, past + S_new] or undefined. Returns logits
  // [B, S_new, vocab] and extends `cache`.
  virtual Tensor step(const Tensor& ids, const Tensor& position_ids, const Tensor& attention_mask,
                      KVCache& cache) const = 0;
  virtual int64_t vocab_size() const = 0;
};

// A model whose generation state is not a KV cache; each follows its
// reference prepare_inputs_for_generation: Transformer-XL and XLNet carry mems
// (each new token costs one step), XLM re-runs the whole sequence with a mask
// token appended (the reference has no cache for it either).
class HFX_API GenerationSession {
 public:
  virtual ~GenerationSession() = default;
  // Next-token logits [B, vocab] for every row of `seqs` (rows equally long);
  // the last `new_n` tokens of each row are the ones the session has not seen.
  virtual Tensor next_logits(const std::vector<std::vector<int64_t>>& seqs, int64_t new_n) = 0;
  // Keeps (or repeats) the batch rows in `index`, in that order.
  virtual void reorder(const std::vector<int64_t>& index) = 0;
};
class HFX_API SessionLM {
 public:
  virtual ~SessionLM() = default;
  virtual int64_t vocab_size() const = 0;
  // use_cache = false: every step re-runs the whole sequence with no memory.
  virtual std::unique_ptr<GenerationSession> start_generation(bool use_cache) const = 0;
};

struct HFX_API GenerationConfig {
  int64_t max_new_tokens = 20;
  int64_t min_new_tokens = 0;
  bool do_sample = false;
  int64_t num_beams = 1;
  float temperature = 1.0f;
  int64_t top_k = 50;
  float top_p = 1.0f;
  float repetition_penalty = 1.0f;
  float length_penalty = 1.0f;
  bool early_stopping = false;
  int64_t num_return_sequences = 1;
  std::optional<int64_t> eos_token_id, pad_token_id;
  // ForcedBOS/ForcedEOSTokenLogitsProcessor (BART's config sets forced_eos_token_id);
  // decoder_start_token_id: encoder-decoder models' first decoder token (default: the model's).
  std::optional<int64_t> forced_bos_token_id, forced_eos_token_id, decoder_start_token_id;
  uint64_t seed = 0;
  // false: no KV cache / mems, every step runs the whole sequence again.
  bool use_cache = true;
  // Defaults from generation_config.json / config.json (transformers' rules), then overrides.
  static GenerationConfig from_model(const Model& model);
};

// Returns [B * num_return_sequences, prompt + generated] token ids (rows that
// finished early are padded with pad_token_id, as transformers does).
// Throws Unsupported when the model cannot run incrementally.
HFX_API Tensor generate(const Model& model, const Tensor& input_ids, const Tensor& attention_mask, const GenerationConfig& cfg);

}  // namespace hfx
