// StableLM: the Llama decoder with nn.LayerNorm (weight and bias, config.layer_norm_eps), a rotary embedding over
// the first int(head_dim * partial_rotary_factor) dims of each head, q/k/v biases iff config.use_qkv_bias,
// optional parallel residual (config.use_parallel_residual) and per-head q/k LayerNorms (config.qk_layernorm).
// Upstream: transformers v4.46.3 src/transformers/models/stablelm/modeling_stablelm.py, configuration_stablelm.py;
// model_type "stablelm"; classes StableLmModel, StableLmForCausalLM, StableLmForSequenceClassification,
// StableLmForTokenClassification (no *ForQuestionAnswering, no TF/Flax class in 4.46; base model attribute "model").
#include "models/llama.h"
#include "models/registry_entries.h"

namespace hfx::models {

Architecture stablelm_architecture() {
  // StableLmConfig().to_dict() where it differs from PretrainedConfig.
  json d = {{"vocab_size", 50304}, {"max_position_embeddings", 4096}, {"hidden_size", 2560},
            {"intermediate_size", 6912}, {"num_hidden_layers", 32}, {"num_attention_heads", 32},
            {"num_key_value_heads", 32}, {"hidden_act", "silu"}, {"initializer_range", 0.02},
            {"layer_norm_eps", 1e-5}, {"use_cache", true}, {"rope_theta", 10000}, {"rope_scaling", nullptr},
            {"use_qkv_bias", false}, {"qk_layernorm", false}, {"use_parallel_residual", false},
            {"hidden_dropout", 0.0}, {"attention_dropout", 0.0}, {"partial_rotary_factor", 0.25},
            {"tie_word_embeddings", false}, {"bos_token_id", 0}, {"eos_token_id", 0}};
  LlamaFlavor f;
  f.qa_prefix = "model";
  f.question_answering = false;
  f.norm = LlamaFlavor::Norm::LayerNorm;
  f.eps_key = "layer_norm_eps";
  f.eps_default = 1e-5;
  f.stablelm = true;
  f.mlp_bias = false;
  return llama_like_architecture("stablelm", "StableLm", d, f);
}

}  // namespace hfx::models
