// Phi (Phi-1, Phi-1.5, Phi-2): a parallel-residual decoder (one input_layernorm feeding attention and MLP,
// h = attn + mlp + h), nn.LayerNorm with bias, partial rotary (partial_rotary_factor), q/k/v_proj and dense with
// biases, an fc1 -> gelu_new -> fc2 MLP, model.final_layernorm and an LM head with a bias.
// Upstream: transformers v4.46.3 src/transformers/models/phi/modeling_phi.py, configuration_phi.py;
// model_type "phi"; classes PhiModel, PhiForCausalLM, PhiForSequenceClassification, PhiForTokenClassification
// (no *ForQuestionAnswering, no TF/Flax class in 4.46; base model attribute "model").
#include "models/llama.h"
#include "models/registry_entries.h"

namespace hfx::models {

Architecture phi_architecture() {
  // PhiConfig().to_dict() where it differs from PretrainedConfig.
  json d = {{"vocab_size", 51200}, {"hidden_size", 2048}, {"intermediate_size", 8192}, {"num_hidden_layers", 24},
            {"num_attention_heads", 32}, {"num_key_value_heads", 32}, {"resid_pdrop", 0.0}, {"embd_pdrop", 0.0},
            {"attention_dropout", 0.0}, {"hidden_act", "gelu_new"}, {"max_position_embeddings", 2048},
            {"initializer_range", 0.02}, {"layer_norm_eps", 1e-5}, {"use_cache", true}, {"rope_theta", 10000.0},
            {"rope_scaling", nullptr}, {"partial_rotary_factor", 0.5}, {"qk_layernorm", false},
            {"tie_word_embeddings", false}, {"bos_token_id", 1}, {"eos_token_id", 2}};
  LlamaFlavor f;
  f.qa_prefix = "model";
  f.question_answering = false;
  f.norm = LlamaFlavor::Norm::LayerNorm;
  f.eps_key = "layer_norm_eps";
  f.eps_default = 1e-5;
  f.phi = true;
  f.mlp_bias = false;
  return llama_like_architecture("phi", "Phi", d, f);
}

}  // namespace hfx::models
