// Mistral: the Llama decoder with a sliding attention window.
// Upstream: transformers v4.46.3 src/transformers/models/mistral/modeling_mistral.py
// (a key j is visible from query i iff i - sliding_window < j <= i).
#include "models/llama.h"
#include "models/registry_entries.h"

namespace hfx::models {

Architecture mistral_architecture() {
  json d = {{"is_decoder", false}, {"vocab_size", 32000}, {"hidden_size", 4096}, {"intermediate_size", 14336},
            {"num_hidden_layers", 32}, {"num_attention_heads", 32}, {"num_key_value_heads", 8}, {"head_dim", nullptr},
            {"hidden_act", "silu"}, {"max_position_embeddings", 4096 * 32}, {"initializer_range", 0.02},
            {"rms_norm_eps", 1e-6}, {"use_cache", true}, {"pad_token_id", nullptr}, {"bos_token_id", 1},
            {"eos_token_id", 2}, {"tie_word_embeddings", false}, {"rope_theta", 10000.0}, {"sliding_window", 4096},
            {"attention_dropout", 0.0}};
  return llama_like_architecture("mistral", "Mistral", d, "model", true);
}

}  // namespace hfx::models
