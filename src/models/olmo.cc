// OLMo: the Llama decoder with OlmoLayerNorm (LayerNorm without weight or bias, eps 1e-5) in place of RMSNorm
// and config.clip_qkv clamping the q/k/v projections.
// Upstream: transformers v4.46.3 src/transformers/models/olmo/modeling_olmo.py, configuration_olmo.py;
// model_type "olmo"; classes OlmoModel and OlmoForCausalLM (no other head, no TF/Flax class in 4.46; base
// model attribute "model"). OlmoRotaryEmbedding reads rope_scaling's "type" (linear / dynamic).
#include "models/llama.h"
#include "models/registry_entries.h"

namespace hfx::models {

Architecture olmo_architecture() {
  // OlmoConfig().to_dict() where it differs from PretrainedConfig.
  json d = {{"vocab_size", 50304}, {"max_position_embeddings", 2048}, {"hidden_size", 4096},
            {"intermediate_size", 11008}, {"num_hidden_layers", 32}, {"num_attention_heads", 32},
            {"num_key_value_heads", 32}, {"hidden_act", "silu"}, {"initializer_range", 0.02}, {"use_cache", true},
            {"rope_theta", 10000.0}, {"rope_scaling", nullptr}, {"attention_bias", false}, {"attention_dropout", 0.0},
            {"clip_qkv", nullptr}, {"tie_word_embeddings", false}, {"pad_token_id", 1}, {"eos_token_id", 50279}};
  LlamaFlavor f;
  f.qa_prefix = "model";
  f.question_answering = false;
  f.classification = false;
  f.norm = LlamaFlavor::Norm::LayerNormNoAffine;
  f.clip_qkv = true;
  f.mlp_bias = false;
  return llama_like_architecture("olmo", "Olmo", d, f);
}

}  // namespace hfx::models
