// Qwen3: Qwen3Model, Qwen3ForCausalLM, Qwen3ForSequenceClassification, Qwen3ForTokenClassification,
// Qwen3ForQuestionAnswering.
// Upstream: transformers v5.25.0 src/transformers/models/qwen3/modeling_qwen3.py, configuration_qwen3.py (the type
// is not in 4.46; fixtures from the second pinned env, tools/fixtures/requirements5.txt); model_type "qwen3"; base
// model attribute "model"; no TF/Flax class.
// The Llama decoder with head_dim from the config (independent of hidden_size / num_attention_heads), a per-head
// RMSNorm on q and k (self_attn.q_norm / k_norm, weight [head_dim]) before the rotary embedding, q/k/v/o_proj biases
// iff attention_bias, an MLP without biases, sliding-window attention on config.layer_types' "sliding_attention"
// layers when use_sliding_window, and transformers 5's generic heads (LlamaFlavor::Five; the QA class keeps its base
// model under "transformer", the others under "model").
#include "models/llama.h"
#include "models/registry_entries.h"

namespace hfx::models {

Architecture qwen3_architecture() {
  // Qwen3Config().to_dict() where it differs from PretrainedConfig; rope_parameters {"rope_theta": 10000.0,
  // "rope_type": "default"} under its 4.x name rope_theta (Config reads both), layer_types (derived) left out.
  json d = {{"vocab_size", 151936}, {"hidden_size", 4096}, {"intermediate_size", 22016}, {"num_hidden_layers", 32},
            {"num_attention_heads", 32}, {"num_key_value_heads", 32}, {"head_dim", 128}, {"hidden_act", "silu"},
            {"max_position_embeddings", 32768}, {"initializer_range", 0.02}, {"rms_norm_eps", 1e-6},
            {"use_cache", true}, {"tie_word_embeddings", false}, {"rope_theta", 10000.0}, {"rope_scaling", nullptr},
            {"attention_bias", false}, {"use_sliding_window", false}, {"sliding_window", nullptr},
            {"max_window_layers", 28}, {"attention_dropout", 0.0}, {"pad_token_id", nullptr},
            {"bos_token_id", nullptr}, {"eos_token_id", nullptr}};
  LlamaFlavor f;
  f.qa_prefix = "transformer";  // Qwen3ForQuestionAnswering.base_model_prefix
  f.mlp_bias = false;
  f.five = LlamaFlavor::Five::Qwen3;
  return llama_like_architecture("qwen3", "Qwen3", d, f);
}

}  // namespace hfx::models
