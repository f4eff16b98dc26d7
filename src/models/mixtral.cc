// Mixtral: the Mistral decoder (RMSNorm, RoPE, grouped-query attention, optional sliding window) whose MLP is a
// sparse mixture of experts on every layer (nn::SparseMoe: block_sparse_moe.gate routes each token to the top
// num_experts_per_tok of num_local_experts experts w2(act(w1(x)) * w3(x)), the top weights renormalised).
// Upstream: transformers v4.46.3 src/transformers/models/mixtral/modeling_mixtral.py, configuration_mixtral.py;
// model_type "mixtral"; classes MixtralModel, MixtralForCausalLM, MixtralForSequenceClassification,
// MixtralForTokenClassification, MixtralForQuestionAnswering (base model attribute "model"); no TF/Flax class.
// router_logits / aux_loss as MixtralModel / MixtralForCausalLM return them with config.output_router_logits.
#include "models/llama.h"
#include "models/registry_entries.h"

namespace hfx::models {

Architecture mixtral_architecture() {
  // MixtralConfig().to_dict() where it differs from PretrainedConfig.
  json d = {{"vocab_size", 32000}, {"max_position_embeddings", 131072}, {"hidden_size", 4096},
            {"intermediate_size", 14336}, {"num_hidden_layers", 32}, {"num_attention_heads", 32},
            {"sliding_window", nullptr}, {"num_key_value_heads", 8}, {"hidden_act", "silu"},
            {"initializer_range", 0.02}, {"rms_norm_eps", 1e-5}, {"use_cache", true}, {"rope_theta", 1e6},
            {"attention_dropout", 0.0}, {"num_experts_per_tok", 2}, {"num_local_experts", 8},
            {"output_router_logits", false}, {"router_aux_loss_coef", 0.001}, {"router_jitter_noise", 0.0},
            {"tie_word_embeddings", false}, {"bos_token_id", 1}, {"eos_token_id", 2}};
  LlamaFlavor f;
  f.qa_prefix = "model";
  f.window = LlamaFlavor::Window::Always;
  f.moe = LlamaFlavor::Moe::Mixtral;
  f.mlp_bias = false;
  return llama_like_architecture("mixtral", "Mixtral", d, f);
}

}  // namespace hfx::models
